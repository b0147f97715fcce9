-- ray.get where a task cannot yield (run with --num-cpus 1): inside the
-- task's own coroutines, a sort comparator, a metamethod called from C. The
-- worker blocks and an extra worker stands in for it, so nothing deadlocks.
local double = ray.remote(function(x) return 2 * x end)

local generator = ray.remote(function(n)
  local next_value = coroutine.wrap(function()
    for i = 1, n do coroutine.yield(ray.get(double.remote(i))) end
  end)
  local sum = 0
  for _ = 1, n do sum = sum + next_value() end
  return sum
end)
assert(ray.get(generator.remote(10), { timeout = 60 }) == 110)

local sorter = ray.remote(function(xs)
  table.sort(xs, function(a, b) return ray.get(double.remote(a)) > ray.get(double.remote(b)) end)
  return xs
end)
assert(table.concat(ray.get(sorter.remote({ 3, 1, 2 }), { timeout = 60 }), ",") == "3,2,1")

local lazy = ray.remote(function()
  local t = setmetatable({}, { __index = function(_, k) return ray.get(double.remote(k)) end })
  local out = {}
  for i, v in ipairs(t) do out[i] = v; if i == 3 then break end end
  return table.concat(out, ",")
end)
assert(ray.get(lazy.remote(), { timeout = 60 }) == "2,4,6")

-- Blocked tasks waiting on blocked tasks, several levels deep.
local depth
depth = ray.remote(function(n)
  if n == 0 then return 0 end
  return coroutine.wrap(function() return ray.get(depth.remote(n - 1)) end)() + 1
end)
assert(ray.get(depth.remote(6), { timeout = 60 }) == 6)

-- Actors block only themselves.
local Sorter = ray.remote({
  sort = function(self, xs)
    table.sort(xs, function(a, b) return ray.get(double.remote(a)) < ray.get(double.remote(b)) end)
    return xs
  end,
})
assert(table.concat(ray.get(Sorter.remote().sort.remote({ 2, 3, 1 }), { timeout = 60 }), ",") == "1,2,3")
print("blocking ok")

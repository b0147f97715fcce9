-- Caller-chosen counts of values: arguments, returns, refs to get and wait.
-- Every count either works or raises a clear error at the call; none may
-- crash the process (issue 12). Lua's limits: LUAI_MAXSTACK is 1,000,000
-- slots, and a C function starts with 20 free ones.

local function expect_error(pattern, f, ...)
  local ok, err = pcall(f, ...)
  assert(not ok, "expected an error matching '" .. pattern .. "'")
  local text = tostring(type(err) == "table" and err.message or err)
  assert(text:find(pattern), "error '" .. text .. "' does not match '" .. pattern .. "'")
  return err
end

local count_args = ray.remote(function(...) return select("#", ...) end)
-- How many arguments arrived, and the last of them.
local count_pair = ray.remote({ num_returns = 2 }, function(...)
  local n = select("#", ...)
  if n == 0 then return 0, nil end
  return n, (select(n, ...))
end)

-- Arguments: 0 to 10,000 and around the 20-slot and 255-register marks,
-- with the last argument's value arriving intact and trailing nils kept.
for _, n in ipairs({ 0, 1, 19, 20, 21, 43, 44, 45, 199, 200, 254, 255, 256, 1000, 9999, 10000 }) do
  local t = {}
  for i = 1, n do t[i] = i end
  local r1, r2 = count_pair.remote(table.unpack(t, 1, n))
  local got, last = ray.get(r1), ray.get(r2)
  assert(got == n, ("%d arguments arrived as %s"):format(n, tostring(got)))
  if n > 0 then assert(last == n, ("argument %d arrived as %s"):format(n, tostring(last))) end
end
do
  local r = count_args.remote(1, nil, nil)
  assert(ray.get(r) == 3, "trailing nils are kept")
  local many = {}
  local r2 = count_args.remote(table.unpack(many, 1, 5000))  -- 5,000 nils
  assert(ray.get(r2) == 5000, "5000 nil arguments arrive as 5000")
end

-- Many arguments, one of them a ref to resolve.
do
  local t = {}
  for i = 1, 3000 do t[i] = i end
  t[3000] = ray.put("last")
  local r1, r2 = count_pair.remote(table.unpack(t, 1, 3000))
  assert(ray.get(r1) == 3000 and ray.get(r2) == "last", "a ref among 3,000 arguments is resolved")
end

-- More arguments than a Lua stack can hold: a clear error at the call
-- (Lua's own "stack overflow" when even the call to .remote cannot be made).
do
  local t = {}
  for i = 1, 600000 do t[i] = i end
  expect_error("450000 values are more than a Lua stack can hold", function() return count_args.remote(table.unpack(t, 1, 450000)) end)
  assert(ray.get(count_args.remote(table.unpack(t, 1, 300000))) == 300000, "300,000 arguments")
  expect_error("stack overflow", function() return count_args.remote(table.unpack(t)) end)
  assert(ray.get(count_args.remote(1, 2)) == 2, "the runtime works after refused calls")
end

-- num_returns up to 10,000; fewer results than num_returns are nil, more are dropped.
for _, n in ipairs({ 0, 1, 19, 20, 21, 99, 100, 101, 1000, 10000 }) do
  local g = ray.remote({ num_returns = n }, function(k)
    local t = {}
    for i = 1, k do t[i] = i end
    return table.unpack(t, 1, k)
  end)
  local refs = { g.remote(n) }
  assert(#refs == n, ("num_returns = %d gave %d refs"):format(n, #refs))
  if n > 0 then
    local values = ray.get(refs)
    assert(#values == n and values[1] == 1 and values[n] == n, ("num_returns = %d: values arrive in order"):format(n))
  end
  if n >= 2 then
    local short = { g.remote(n // 2) }
    local values = ray.get(short)
    assert(values[n // 2] == n // 2 and values[n] == nil, "missing results are nil")
  end
end
do
  local g = ray.remote({ num_returns = 3 }, function() local t = {} for i = 1, 50000 do t[i] = i end return table.unpack(t) end)
  local a, b, c, d = g.remote()
  assert(ray.get(c) == 3 and d == nil, "results past num_returns are dropped")
end
expect_error("num_returns = 2000000 is more return values than a Lua stack can hold", function()
  return ray.remote({ num_returns = 2000000 }, function() end).remote()
end)
expect_error("num_returns must be a non%-negative integer", function()
  return ray.remote({ num_returns = 1e300 }, function() end)
end)

-- Actors: creation and calls with many arguments, calls with many returns.
do
  local Sink = ray.remote({
    init = function(self, ...) self.n = select("#", ...) end,
    count = function(self, ...) return self.n, select("#", ...) end,
    spread = function(self, k) local t = {} for i = 1, k do t[i] = i end return table.unpack(t) end,
  })
  local t = {}
  for i = 1, 10000 do t[i] = i end
  local a = Sink.remote(table.unpack(t))
  local n_init, n_call = table.unpack(ray.get({ a.count.options({ num_returns = 2 }).remote(table.unpack(t, 1, 7000)) }))
  assert(n_init == 10000 and n_call == 7000, ("actor counts: init %s, call %s"):format(tostring(n_init), tostring(n_call)))
  local refs = { a.spread.options({ num_returns = 10000 }).remote(10000) }
  assert(#refs == 10000 and ray.get(refs[10000]) == 10000, "an actor call with 10,000 returns")
  expect_error("more return values than a Lua stack can hold", function()
    return a.spread.options({ num_returns = 1500000 }).remote(1)
  end)
  ray.kill(a)
end

-- ray.get and ray.wait of 100,000 refs.
do
  local refs = {}
  for i = 1, 100000 do refs[i] = ray.put(i) end
  local values = ray.get(refs)
  assert(#values == 100000 and values[100000] == 100000, "ray.get of 100,000 refs")
  local ready, not_ready = ray.wait(refs, { num_returns = 100000 })
  assert(#ready == 100000 and #not_ready == 0, "ray.wait of 100,000 refs")
  local id = ray.remote(function(x) return x end)
  local tasks = {}
  for i = 1, 20000 do tasks[i] = id.remote(i) end
  local got = ray.get(tasks)
  assert(got[20000] == 20000, "ray.get of 20,000 task results")
end

-- Inside a task: the same limits hold for nested submissions.
do
  local outer = ray.remote(function()
    local inner = ray.remote(function(...) return select("#", ...) end)
    local t = {}
    for i = 1, 10000 do t[i] = i end
    return ray.get(inner.remote(table.unpack(t)))
  end)
  assert(ray.get(outer.remote()) == 10000, "a task submits 10,000 arguments")
end

print("counts ok")

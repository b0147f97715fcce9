-- Runtime benchmark rows (issue 3's targets); run by scripts/bench/runtime.sh.
-- Prints "<row>\t<value>\t<unit>".
local function best(runs, f)
  local b = math.huge
  for _ = 1, runs do
    local t0 = ray.now()
    f()
    b = math.min(b, ray.now() - t0)
  end
  return b
end

local noop = ray.remote(function() end)
ray.get(noop.remote())  -- warm: the function is registered and loaded

local n = 1000
local t = best(9, function()
  local refs = {}
  for i = 1, n do refs[i] = noop.remote() end
  ray.get(refs)
end)
print(string.format("1,000 no-op tasks submitted then fetched\t%.0f\ttasks/s", n / t))

t = best(9, function() for _ = 1, 1000 do ray.get(noop.remote()) end end)
print(string.format("sequential submit+get\t%.0f\ttasks/s", 1000 / t))

local Actor = ray.remote({ ping = function() end })
local a = Actor.remote()
ray.get(a.ping.remote())
t = best(9, function()
  local refs = {}
  for i = 1, n do refs[i] = a.ping.remote() end
  ray.get(refs)
end)
print(string.format("1:1 actor calls async\t%.0f\tcalls/s", n / t))

local fib
fib = ray.remote(function(k)
  if k < 2 then return k end
  return ray.get(fib.remote(k - 1)) + ray.get(fib.remote(k - 2))
end)
t = best(3, function() assert(ray.get(fib.remote(20)) == 6765) end)
print(string.format("fib(20) nested gets\t%.3f\ts", t))

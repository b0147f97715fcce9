-- Tasks may submit tasks and wait for them: a task blocked in ray.get gives
-- its CPU back, so this never deadlocks, even with `ray --num-cpus 1`.
local fib
fib = ray.remote(function(n)
  if n < 2 then return n end
  local a, b = fib.remote(n - 1), fib.remote(n - 2)
  return ray.get(a) + ray.get(b)
end)

local n = tonumber(arg[1]) or 15
local t0 = ray.now()
print(string.format("fib(%d) = %d in %.3f s", n, ray.get(fib.remote(n)), ray.now() - t0))

-- Nested tasks that get their children never deadlock, even on one CPU.
local fib
fib = ray.remote(function(n)
  if n < 2 then return n end
  return ray.get(fib.remote(n - 1)) + ray.get(fib.remote(n - 2))
end)
print(ray.get(fib.remote(tonumber(arg[1]))))

-- A global remote function that calls itself through the global.
function fact_impl(n) if n <= 1 then return 1 end return n * ray.get(FACT.remote(n - 1)) end
FACT = ray.remote(fact_impl)
print(ray.get(FACT.remote(10)))

-- The smallest Ray-style job: remote functions return ObjectRefs at once,
-- and ray.get waits for their values.
local square = ray.remote(function(x) return x * x end)

local refs = {}
for i = 1, 10 do refs[i] = square.remote(i) end
print("squares:", table.concat(ray.get(refs), " "))

-- Objects: put once, pass the ref to many tasks (resolved to its value).
local data = ray.put({ 3, 1, 4, 1, 5, 9, 2, 6 })
local sum = ray.remote(function(t)
  local s = 0
  for _, v in ipairs(t) do s = s + v end
  return s
end)
print("sum:", ray.get(sum.remote(data)))

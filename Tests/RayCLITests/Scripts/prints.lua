-- Lines printed by tasks on several worker threads reach stdout whole.
local shout = ray.remote(function(i)
  for _ = 1, 200 do print("task", i, "says", string.rep("x", 40)) end
  return i
end)
local refs = {}
for i = 1, 8 do refs[i] = shout.remote(i) end
ray.get(refs)
print("driver", "done")

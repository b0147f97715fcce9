-- A task that crashes every node it runs on (it kills its own node
-- process) takes down two nodes, not the cluster: after the second death it
-- is not retried again, whatever max_retries says, and its ref raises
-- WorkerCrashedError naming the task and both nodes. The cluster: a head
-- and three workers offering the custom resource `crashy`.
local crasher = ray.remote({ resources = { crashy = 1 }, max_retries = 10, name = "crasher" }, function()
  local pid = io.open("/proc/self/stat"):read("l"):match("^(%d+)")
  os.execute("kill -9 " .. pid)
  ray.sleep(60)
end)

local ok, err = pcall(ray.get, crasher.remote(), { timeout = 60 })
assert(not ok, "the crashing task cannot succeed")
assert(type(err) == "table" and err.type == "WorkerCrashedError", "expected WorkerCrashedError, got " .. tostring(err))
assert(err.task == "crasher", "the error names the task: " .. tostring(err.task))
local named = 0
for _ in tostring(err.message):gmatch("node %x+ at [%d%.]+:%d+") do named = named + 1 end
assert(named == 2, "the error names the two nodes it took down: " .. tostring(err.message))
print("crasher stopped after two nodes")

-- The rest of the cluster lives on and runs work, the third worker included.
local function alive()
  local n = 0
  for _, node in ipairs(ray.nodes()) do if node.alive then n = n + 1 end end
  return n
end
local deadline = ray.now() + 60  -- until the head has seen both connections close
while alive() ~= 2 and ray.now() < deadline do ray.sleep(0.05) end
assert(alive() == 2, "the head and one worker are alive, got " .. alive())
local fine = ray.remote({ resources = { crashy = 1 } }, function() return ray.get_runtime_context().node_id end)
local here = ray.get_runtime_context().node_id
local where = ray.get(fine.remote(), { timeout = 60 })
assert(where ~= here, "the surviving worker runs crashy work")
print("the cluster lives on")

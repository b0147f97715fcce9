-- An actor whose init kills its node, with unlimited restarts, stops being
-- created again after two nodes died under it (no call finished in
-- between): its calls raise ActorDiedError and the rest of the cluster lives.
local Crasher = ray.remote({ max_restarts = -1, resources = { crashy = 1 } }, {
  init = function()
    local pid = io.open("/proc/self/stat"):read("l"):match("^(%d+)")
    os.execute("kill -9 " .. pid)
    ray.sleep(60)
  end,
  ping = function() return "pong" end,
})
local actor = Crasher.remote()
local ok, err = pcall(ray.get, actor.ping.remote(), { timeout = 60 })
assert(not ok and type(err) == "table" and err.type == "ActorDiedError", "expected ActorDiedError, got " .. tostring(err))
-- The driver stays until the head counts the second node it took down
-- (two crashed before, under the task of crash_containment.lua): leaving
-- earlier would end the job before the actor's first restart.
local function dead()
  local n = 0
  for _, node in ipairs(ray.nodes()) do if not node.alive then n = n + 1 end end
  return n
end
local deadline = ray.now() + 60
while dead() < 4 and ray.now() < deadline do ray.sleep(0.05) end
assert(dead() == 4, "the actor took down two nodes, got " .. dead() .. " dead in all")
print("crashing actor stopped")
local fine = ray.remote({ resources = { crashy = 1 } }, function() return "still here" end)
assert(ray.get(fine.remote(), { timeout = 60 }) == "still here")
print("the cluster lives on")

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
print("crashing actor stopped")
local fine = ray.remote({ resources = { crashy = 1 } }, function() return "still here" end)
assert(ray.get(fine.remote(), { timeout = 60 }) == "still here")
print("the cluster lives on")

-- A worker node dies under a task (the task kills its own node process):
-- with retries left the task runs again on another node; without, its
-- ObjectRef raises NodeDiedError; an actor on the dead node fails its calls,
-- unless its max_restarts lets it be created again on another node.
-- arg[1]: a marker file path that does not exist yet.
local marker = assert(arg[1], "usage: node_failure.lua MARKER")
local here = ray.get_runtime_context().node_id
local victim
for _, node in ipairs(ray.nodes()) do
  if node.node_id ~= here and node.alive then victim = node.node_id end
end

-- Runs on the victim first: it leaves the marker and kills its own node.
local fragile = ray.remote(function(path)
  local f = io.open(path, "r")
  if f then f:close(); return ray.get_runtime_context().node_id end
  f = assert(io.open(path, "w")); f:write("x"); f:close()
  local pid = io.open("/proc/self/stat"):read("l"):match("^(%d+)")
  os.execute("kill -9 " .. pid)
  ray.sleep(60)
end)

local Pinned = ray.remote({ ping = function() return "pong" end })
local actor = Pinned.options({ scheduling_strategy = { node_id = victim } }).remote()
assert(ray.get(actor.ping.remote()) == "pong")
-- With restarts left, an actor on the dead node is created again elsewhere.
local Resilient = ray.remote({
  init = function(self) self.node = ray.get_runtime_context().node_id end,
  where = function(self) return self.node end,
})
local resilient = Resilient.options({ max_restarts = 1, scheduling_strategy = { node_id = victim, soft = true } }).remote()
assert(ray.get(resilient.where.remote()) == victim)

local survivor = ray.get(fragile.options({ max_retries = 1, scheduling_strategy = { node_id = victim, soft = true } }).remote(marker),
                         { timeout = 60 })
assert(survivor ~= victim, "the retry ran on another node")
print("retried elsewhere")

local ok, err = pcall(ray.get, actor.ping.remote(), { timeout = 60 })
assert(not ok and err.type == "ActorDiedError", tostring(err))
print("actor died with its node")
local moved = ray.get(resilient.where.remote(), { timeout = 60 })
assert(moved ~= victim, "the actor was created again on another node")
print("actor restarted elsewhere")

-- No retries: a task whose node dies fails with NodeDiedError.
os.remove(marker)
local victim2
for _, node in ipairs(ray.nodes()) do
  if node.node_id ~= here and node.alive and node.node_id ~= victim then victim2 = node.node_id end
end
local once = fragile.options({ max_retries = 0, scheduling_strategy = { node_id = victim2 } }).remote(marker)
local ok2, err2 = pcall(ray.get, once, { timeout = 60 })
assert(not ok2 and err2.type == "NodeDiedError", tostring(err2))
print("node died error")

-- Placement and objects across the nodes of a cluster (run attached:
-- ray run --address auto). Prints one line per check.
local nodes = ray.nodes()
assert(#nodes >= 3, "expected a cluster of at least 3 nodes, got " .. #nodes)
local ids = {}
for _, node in ipairs(nodes) do ids[#ids + 1] = node.node_id end

local where = ray.remote(function() return ray.get_runtime_context().node_id end)

-- SPREAD: round-robin over the nodes, so every node runs some.
local refs = {}
for i = 1, 3 * #nodes do refs[i] = where.options({ scheduling_strategy = "SPREAD" }).remote() end
local seen, count = {}, 0
for _, node in ipairs(ray.get(refs)) do
  if not seen[node] then seen[node], count = true, count + 1 end
end
assert(count == #nodes, "SPREAD reached " .. count .. " of " .. #nodes .. " nodes")
print("spread", count)

-- Node affinity, hard: each node runs what is pinned to it.
for _, id in ipairs(ids) do
  assert(ray.get(where.options({ scheduling_strategy = { node_id = id } }).remote()) == id)
end
print("affinity", #ids)

-- Soft affinity to a node that is not there falls back to DEFAULT; hard fails at once.
assert(ray.get(where.options({ scheduling_strategy = { node_id = string.rep("f", 32), soft = true } }).remote()))
local ok, err = pcall(where.options({ scheduling_strategy = { node_id = string.rep("f", 32) } }).remote)
assert(not ok and err:find("which is not in the cluster; the task could never run"), err)
ok, err = pcall(ray.remote({ resources = { TPU = 1 } }, function() end).remote)
assert(not ok and err:find("needs 1 TPU but this node has 0; it could never run"), err)
ok, err = pcall(ray.remote({ num_cpus = 64 }, function() end).remote)
assert(not ok and err:find("no node of the cluster has more than"), err)
print("infeasible refused")

-- An object made on one node is used on another, and by the driver.
local on = function(i) return { scheduling_strategy = { node_id = ids[i] } } end
local make = ray.remote(function(n) return { ray.put(string.rep("v", n)) } end)
local use = ray.remote(function(box) local s = ray.get(box[1]); return #s, ray.get_runtime_context().node_id end)
local box = ray.get(make.options(on(2)).remote(1000))
local len, at = use.options({ num_returns = 2, scheduling_strategy = { node_id = ids[3] } }).remote(box)
assert(ray.get(len) == 1000 and ray.get(at) == ids[3])
assert(#ray.get(box[1]) == 1000)
print("object across nodes")

-- The driver's own objects reach every node; an ObjectRef argument is resolved there.
local driver_value = ray.put({ 1, 2, 3, name = "driver" })
local sum = ray.remote(function(t) return t[1] + t[2] + t[3] .. t.name end)
for i = 1, #ids do assert(ray.get(sum.options(on(i)).remote(driver_value)) == "6driver") end
print("driver objects")

-- A driver's object that reaches a node nested in a value, then passed as a
-- task argument to a child on that same node: the node fetches it from the
-- driver (nothing else would, and the child waited forever).
local echo = ray.remote(function(v) return v end)
local relay = ray.remote(function(box)
  local me = ray.get_runtime_context().node_id
  return ray.get(echo.options({ scheduling_strategy = { node_id = me } }).remote(box[1]), { timeout = 30 })
end)
for _, id in ipairs(ids) do
  local got = ray.get(relay.options({ scheduling_strategy = { node_id = id } }).remote({ ray.put("nested " .. id) }), { timeout = 60 })
  assert(got == "nested " .. id, tostring(got))
end
print("nested driver objects")

-- An argument larger than a frame (64 MiB) goes by value in parts.
local length = ray.remote(function(s) return #s end)
local wide = string.rep("a", 70 * 1024 * 1024)
assert(ray.get(length.options(on(2)).remote(wide)) == #wide)
wide = nil
-- A task with no returns keeps its arguments alive until it ran.
local Box = ray.remote({ init = function(self) self.v = 0 end, set = function(self, v) self.v = v end,
                         get = function(self) return self.v end })
local box_actor = Box.options(on(3)).remote()
local no_returns = ray.remote({ num_returns = 0 }, function(arg, target) target.set.remote(#ray.get(arg[1])) end)
no_returns.options(on(2)).remote({ ray.put("payload") }, box_actor)
collectgarbage()
local deadline = ray.now() + 30
while ray.get(box_actor.get.remote()) ~= 7 do
  assert(ray.now() < deadline, "the task with no returns never ran")
  ray.sleep(0.01)
end
print("large and returnless tasks")

-- Recursive cancel reaches a child running on another node.
local Holder = ray.remote({ put = function(self, refs) self.refs = refs end, take = function(self) return self.refs end })
local holder = Holder.options(on(1)).remote()
local child = ray.remote(function() ray.sleep(600) return "woke" end)
local parent = ray.remote(function(h, target)
  local r = child.options({ scheduling_strategy = { node_id = target } }).remote()
  ray.get(h.put.remote({ r }))
  return ray.get(r)
end)
local p = parent.options(on(2)).remote(holder, ids[3])
local child_refs
deadline = ray.now() + 30
repeat
  child_refs = ray.get(holder.take.remote())
  if not child_refs then ray.sleep(0.01) end
until child_refs or ray.now() > deadline
assert(child_refs, "the parent never submitted its child")
ray.cancel(p)
local p_ok, p_err = pcall(ray.get, p, { timeout = 30 })
assert(not p_ok and p_err.type == "TaskCancelledError", tostring(p_err))
local c_ok, c_err = pcall(ray.get, child_refs[1], { timeout = 30 })
assert(not c_ok and c_err.type == "TaskCancelledError", tostring(c_err))
print("recursive cancel across nodes")

-- 100 MB made on one node moves to another.
local big = ray.remote(function() return ray.put(string.rep("x", 100 * 1024 * 1024)) end)
local measure = ray.remote(function(box)
  local t0 = ray.now()
  local s = ray.get(box[1])
  return #s, ray.now() - t0
end)
local big_ref = ray.get(big.options(on(2)).remote())
local n, seconds = table.unpack(ray.get({ measure.options({ num_returns = 2, scheduling_strategy = { node_id = ids[3] } }).remote({ big_ref }) }))
assert(n == 100 * 1024 * 1024, n)
print(string.format("100MB moved in %.3f s", seconds))

-- Actors live on a node and are called from the driver and from tasks on other nodes.
local Counter = ray.remote({
  init = function(self) self.n = 0 end,
  incr = function(self) self.n = self.n + 1; return self.n, ray.get_runtime_context().node_id end,
})
local c = Counter.options({ name = "shared", scheduling_strategy = { node_id = ids[2] } }).remote()
local caller = ray.remote(function(handle, k)
  local last
  for _ = 1, k do last = ray.get(handle.incr.remote()) end
  return last
end)
for i = 1, 10 do assert(ray.get(c.incr.remote()) == i, "per-caller order") end
assert(ray.get(caller.options(on(3)).remote(c, 5)) == 15)
-- A task on another node runs in the driver's namespace (as in Ray): it
-- finds the driver's named actor by name alone, and so does its own child
-- and the actor's calls.
local namespace = ray.get_runtime_context().namespace
local by_name_there = ray.remote(function(child_node)
  local child = ray.remote(function() return ray.get_runtime_context().namespace .. "|" .. tostring(ray.get_actor("shared") ~= nil) end)
  local h = ray.get_actor("shared")
  assert(h, "the driver's named actor is not found from " .. ray.get_runtime_context().node_id)
  local count = ray.get(h.incr.remote())
  local child_said = ray.get(child.options({ scheduling_strategy = { node_id = child_node } }).remote())
  return ray.get_runtime_context().namespace .. "|" .. count .. "|" .. child_said
end)
local said = ray.get(by_name_there.options({ scheduling_strategy = { node_id = ids[3] } }).remote(ids[1]))
assert(said == namespace .. "|16|" .. namespace .. "|true", "a task on another node and its child said " .. said .. "; the driver's namespace is " .. namespace)
local Probe = ray.remote({ where = function(self) return ray.get_runtime_context().namespace .. "|" .. tostring(ray.get_actor("shared") ~= nil) end })
local probe = Probe.options({ scheduling_strategy = { node_id = ids[3] } }).remote()
local probe_said = ray.get(probe.where.remote())
assert(probe_said == namespace .. "|true", "an actor on another node said " .. probe_said)
-- ray.init in a task agrees with the job's namespace or raises; it never
-- names the namespace of the node it runs on.
local init_there = ray.remote(function(ns)
  local other_ok, other_err = pcall(ray.init, { namespace = "not-this-job" })
  local same_ok = pcall(ray.init, { namespace = ns })
  return tostring(same_ok) .. "|" .. tostring(other_ok) .. "|" .. tostring(other_err):match("already '[^']*'")
end)
local init_said = ray.get(init_there.options({ scheduling_strategy = { node_id = ids[2] } }).remote(namespace))
assert(init_said == "true|false|already '" .. namespace .. "'", "ray.init in a task said " .. init_said)
print("namespace across nodes")
local by_name = ray.get_actor("shared")
local n2, home = by_name.incr.options({ num_returns = 2 }).remote()
assert(ray.get(n2) == 17 and ray.get(home) == ids[2])
ray.kill(c)
local k_ok, k_err = pcall(ray.get, by_name.incr.remote())
assert(not k_ok and k_err.type == "ActorDiedError", tostring(k_err))
print("actors across nodes")
print("placement ok")

-- Runs on one node or on a cluster, unchanged:
--   ray examples/cluster.lua
--   ray run --address auto examples/cluster.lua     (attached to a cluster)
local nodes = ray.nodes()
print(string.format("%d node(s), %g CPUs", #nodes, ray.cluster_resources().CPU))

-- SPREAD: round-robin over the nodes.
local where = ray.remote(function(i) return i, ray.get_runtime_context().node_id end)
local count = {}
for i = 1, 3 * #nodes do
  local _, node = table.unpack(ray.get({ where.options({ num_returns = 2, scheduling_strategy = "SPREAD" }).remote(i) }))
  count[node] = (count[node] or 0) + 1
end
for node, n in pairs(count) do print("node " .. node:sub(1, 8) .. " ran " .. n .. " tasks") end

-- An object made on one node, used on another.
local make = ray.remote(function() return { ray.put(string.rep("x", 1000000)) } end)
local size = ray.remote(function(box) return #ray.get(box[1]) end)
local last = nodes[#nodes].node_id
local box = ray.get(make.options({ scheduling_strategy = { node_id = nodes[1].node_id } }).remote())
print("a 1 MB object made on the first node, read on the last: " ..
      ray.get(size.options({ scheduling_strategy = { node_id = last } }).remote(box)) .. " bytes")

-- An actor on the last node, called from the driver and from a task.
local Counter = ray.remote({
  init = function(self) self.n = 0 end,
  incr = function(self) self.n = self.n + 1; return self.n end,
})
local counter = Counter.options({ scheduling_strategy = { node_id = last } }).remote()
local bump = ray.remote(function(c) return ray.get(c.incr.remote()) end)
ray.get(counter.incr.remote())
print("counter after a call from the driver and one from a task: " .. ray.get(bump.remote(counter)))

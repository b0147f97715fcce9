-- Cluster benchmark rows (run attached: ray run --address auto). Prints
-- "name<TAB>value<TAB>unit" lines. Needs at least 2 nodes.
local nodes = ray.nodes()
local here = ray.get_runtime_context().node_id
local other
for _, node in ipairs(nodes) do
  if node.node_id ~= here then other = node.node_id end
end
local function row(name, value, unit) print(string.format("%s\t%.1f\t%s", name, value, unit)) end

local noop = ray.remote(function() end)
local pinned = noop.options({ scheduling_strategy = { node_id = other } })

-- Cross-node round trip: one task at a time, submitted and waited for.
for _ = 1, 500 do ray.get(pinned.remote()) end
local n, t0 = 3000, ray.now()
for _ = 1, n do ray.get(pinned.remote()) end
row("cross-node task round trip (driver -> worker node)", (ray.now() - t0) / n * 1e6, "us")

-- Throughput: no-op tasks over every node, in batches (DEFAULT and SPREAD).
for _, strategy in ipairs({ "DEFAULT", "SPREAD" }) do
  local f = noop.options({ scheduling_strategy = strategy })
  local total, batch = 100000, 5000
  t0 = ray.now()
  for _ = 1, total // batch do
    local refs = {}
    for i = 1, batch do refs[i] = f.remote() end
    ray.get(refs)
  end
  row("no-op tasks over " .. #nodes .. " nodes (" .. strategy .. ")", total / (ray.now() - t0), "tasks/s")
end

-- 100 MB made on one node, fetched by another.
local ids = {}
for _, node in ipairs(nodes) do ids[#ids + 1] = node.node_id end
local make = ray.remote(function() return { ray.put(string.rep("x", 100 * 1024 * 1024)) } end)
local fetch = ray.remote(function(box)
  local t = ray.now()
  local s = ray.get(box[1])
  assert(#s == 100 * 1024 * 1024)
  return ray.now() - t
end)
local best = math.huge
for round = 1, 3 do
  local box = ray.get(make.options({ scheduling_strategy = { node_id = ids[1 + round % #ids] } }).remote())
  local seconds = ray.get(fetch.options({ scheduling_strategy = { node_id = ids[1 + (round + 1) % #ids] } }).remote(box))
  best = math.min(best, seconds)
end
row("100 MB object between two nodes (best of 3)", 100 / best, "MB/s")

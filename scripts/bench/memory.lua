-- Issue 3's memory row: 1,000,000 no-op tasks submitted and fetched in
-- batches of 10,000. Run by scripts/bench/runtime.sh under /usr/bin/time,
-- which reports the peak RSS.
local noop = ray.remote(function() end)
for _ = 1, 100 do
  local refs = {}
  for i = 1, 10000 do refs[i] = noop.remote() end
  ray.get(refs)
end

-- ray.cancel through the real `ray` binary (run with --num-cpus 2).
local function cancelled(ref)
  local ok, err = pcall(ray.get, ref, { timeout = 30 })
  return not ok and type(err) == "table" and err.type == "TaskCancelledError", tostring(err)
end

-- A running Lua task is interrupted: this one holds every CPU of the local
-- node forever (on a cluster, the hog and the queued task are pinned there).
local here = ray.get_runtime_context().node_id
local here_cpus
for _, node in ipairs(ray.nodes()) do
  if node.node_id == here then here_cpus = node.resources.CPU end
end
local pinned = { scheduling_strategy = { node_id = here } }
local hog = ray.remote({ num_cpus = here_cpus }, function() while true do end end)
local h = hog.options(pinned).remote()
local deadline = ray.now() + 60
local others = ray.cluster_resources().CPU - here_cpus
while ray.available_resources().CPU > others do  -- until the hog has started
  assert(ray.now() < deadline, "the hog never started")
  ray.sleep(0.001)
end
-- A queued task (it cannot start while the hog holds the CPUs) is dropped.
local square = ray.remote(function(x) return x * x end)
local queued = square.options(pinned).remote(3)
ray.cancel(queued)
assert(cancelled(queued))
ray.cancel(h)
assert(cancelled(h))
assert(ray.get(square.remote(4)) == 16, "the node works again")

-- A task suspended in ray.get is resumed and its get raises; recursive
-- cancellation reaches the task it was waiting for.
local sleeper = ray.remote(function() ray.sleep(600) return "woke" end)
local parent = ray.remote(function() return ray.get(sleeper.remote()) end)
local p = parent.remote()
ray.sleep(0.05)
ray.cancel(p)
assert(cancelled(p))

-- Cancelling a finished task changes nothing; bad arguments are errors.
local done = square.remote(5)
assert(ray.get(done) == 25)
ray.cancel(done)
assert(ray.get(done) == 25)
assert(not pcall(ray.cancel, "nope"))

-- Submitting and cancelling in a loop leaks no CPU: tasks cancelled while
-- being handed to a worker give theirs back.
local one = ray.remote(function() return 1 end)
for _ = 1, 500 do ray.cancel(one.remote()) end
assert(ray.get(one.remote(), { timeout = 30 }) == 1)
-- A task still waiting for its argument fails at once when cancelled.
local forever = ray.remote(function() ray.sleep(3600) end).remote()
local dependent = ray.remote(function(x) return x end).remote(forever)
ray.cancel(dependent, { recursive = false })
local d_ok, d_err = pcall(ray.get, dependent, { timeout = 30 })
assert(not d_ok and d_err.type == "TaskCancelledError", tostring(d_err))
ray.cancel(forever)
-- coroutine.yield in a task body raises there (as in a main chunk), failing the task, not the process.
local y_ok, y_err = pcall(ray.get, ray.remote(function() coroutine.yield(1) end).remote())
assert(not y_ok and y_err.message:find("attempt to yield from outside a coroutine"), tostring(y_err))
-- ray.wait of no refs returns at once.
local r0, n0 = ray.wait({})
assert(#r0 == 0 and #n0 == 0)
local f_ok, f_err = pcall(ray.cancel, done, { force = "yes" })
assert(not f_ok and f_err:find("option 'force' must be a boolean"), f_err)
local u_ok, u_err = pcall(ray.cancel, done, { hard = true })
assert(not u_ok and u_err:find("unknown option 'hard'"), u_err)
ray.cancel(done, { force = true, recursive = false })  -- a finished task: nothing to do
print("cancel ok")

-- Remote functions, objects and errors, through the real `ray` binary.
local square = ray.remote(function(x) return x * x end)
assert(ray.get(square.remote(4)) == 16)

-- Many refs, in order.
local refs = {}
for i = 1, 20 do refs[i] = square.remote(i) end
local values = ray.get(refs)
for i = 1, 20 do assert(values[i] == i * i) end

-- num_returns, extra returns dropped, missing ones nil.
local pair = ray.remote({ num_returns = 2 }, function(x) return x, 2 * x, 3 * x end)
local a, b = pair.remote(21)
assert(ray.get(a) == 21 and ray.get(b) == 42)
local three = pair.options({ num_returns = 3 })
local _, _, c = three.remote(1)
assert(ray.get(c) == 3)
local one = ray.remote(function() return 1 end).options({ num_returns = 3 })
local _, _, none = one.remote()
assert(ray.get(none) == nil)

-- put/get; tables; arity with nils.
local obj = ray.put({ a = 1, nested = { 2, 3 } })
assert(ray.get(obj).nested[2] == 3)
local count = ray.remote(function(...) return select("#", ...) end)
assert(ray.get(count.remote(nil, 2, nil)) == 3)

-- Top-level refs resolve to values; nested refs arrive as refs.
local inspect = ray.remote(function(v, t)
  return type(v), tostring(t.ref):sub(1, 10), ray.get(t.ref)
end)
local kind, printed, inner = table.unpack(ray.get({ inspect.options({ num_returns = 3 }).remote(obj, { ref = square.remote(3) }) }))
assert(kind == "table" and printed == "ObjectRef(" and inner == 9, kind)

-- ObjectRefs: tostring, hex, equality.
local ref = ray.put(5)
assert(tostring(ref) == "ObjectRef(" .. ref:hex() .. ")")
assert(#ref:hex() == 32)
local same = ray.get(ray.put({ r = ref })).r
assert(same == ref and rawequal(same, ref) == false)

-- Globals and helpers travel with the function.
SCALE = 10
function helper(x) return x * SCALE end
local uses = ray.remote(function(x) return helper(x) + 1 end)
assert(ray.get(uses.remote(2)) == 21)

-- Errors: type, message, traceback, cause; propagated to dependents.
local boom = ray.remote({ name = "boom" }, function(x) error({ code = x }) end)
local failed = boom.remote(7)
local ok, err = pcall(ray.get, failed)
assert(not ok and err.type == "RayTaskError", tostring(err))
assert(err.task == "boom" and err.cause.code == 7)
assert(type(err.traceback) == "string" and err.traceback:find("tasks.lua"), err.traceback)
local dependent = square.remote(failed)
local ok2, err2 = pcall(ray.get, dependent)
assert(not ok2 and err2.type == "RayTaskError" and err2.cause.code == 7, "a dependent fails with the same error")
local str = ray.remote(function() error("plain message") end)
local ok3, err3 = pcall(ray.get, str.remote())
assert(not ok3 and err3.message:find("tasks.lua:%d+: plain message"), err3.message)
assert(tostring(err3):find("^RayTaskError in task 'function [^']*tasks.lua:%d+': "), tostring(err3))

-- retry_exceptions: a task that raises runs again, up to max_retries times.
local Attempts = ray.remote({ init = function(self) self.n = 0 end, next = function(self) self.n = self.n + 1; return self.n end })
local function flaky_on(counter)
  return function()
    local n = ray.get(counter.next.remote())
    if n < 3 then error("attempt " .. n .. " fails") end
    return n
  end
end
local retried = ray.remote({ retry_exceptions = true, max_retries = 3 }, flaky_on(Attempts.remote()))
assert(ray.get(retried.remote()) == 3)
local too_few = ray.remote({ retry_exceptions = true, max_retries = 1 }, flaky_on(Attempts.remote()))
local tf_ok, tf_err = pcall(ray.get, too_few.remote())
assert(not tf_ok and tf_err.message:find("attempt 2 fails"), tostring(tf_err))
local no_retry = ray.remote(flaky_on(Attempts.remote()))
local nr_ok, nr_err = pcall(ray.get, no_retry.remote())
assert(not nr_ok and nr_err.message:find("attempt 1 fails"), "Lua errors are not retried by default")

-- Calling a remote function directly, unknown options, infeasible tasks, bad values.
local direct_ok, direct_err = pcall(square, 1)
assert(not direct_ok and direct_err:find("use f.remote"), direct_err)
assert(not pcall(ray.remote, { bogus = 1 }, function() end))
local big_ok, big_err = pcall(function() return ray.remote({ num_cpus = 64 }, function() end).remote() end)
assert(not big_ok and big_err:find("could never run"), big_err)
assert(big_err:find("^tasks%.lua:%d+: remote:") or big_err:find("/tasks%.lua:%d+: remote:"), "the error names the script's line: " .. big_err)

-- Scheduling strategies: DEFAULT, SPREAD and node affinity (this node, or
-- soft to any) run; a hard affinity to a node that does not exist fails at
-- once; a malformed strategy is refused where it is given.
local here = ray.get_runtime_context().node_id
for _, strategy in ipairs({ "DEFAULT", "SPREAD", { node_id = here }, { node_id = here, soft = false }, { node_id = "ffff", soft = true } }) do
  assert(ray.get(square.options({ scheduling_strategy = strategy }).remote(3)) == 9)
end
local na_ok, na_err = pcall(function() return square.options({ scheduling_strategy = { node_id = "ffff", soft = false } }).remote(3) end)
assert(not na_ok and na_err:find("node ffff %(soft = false%), which is not in the cluster"), na_err)
local bad_ok, bad_err = pcall(square.options, { scheduling_strategy = "NEAREST" })
assert(not bad_ok and bad_err:find("scheduling_strategy must be"), bad_err)
local gpu_ok, gpu_err = pcall(function() return ray.remote({ resources = { GPU = 1 } }, function() end).remote() end)
assert(not gpu_ok and gpu_err:find("needs 1 GPU but this node has 0; it could never run"), gpu_err)
local co_ok, co_err = pcall(square.remote, 1, { co = coroutine.create(print) })
assert(not co_ok and co_err.type == "SerializationError", tostring(co_err))
assert(co_err.message:find("argument 2: field 'co' is a coroutine", 1, true), co_err.message)

-- wait and timeouts.
local slow = ray.remote(function(s) ray.sleep(s) return s end)
local fast_ref, slow_ref = slow.remote(0), slow.remote(5)
local ready, not_ready = ray.wait({ slow_ref, fast_ref }, { num_returns = 1, timeout = 4 })
assert(#ready == 1 and ready[1] == fast_ref and #not_ready == 1 and not_ready[1] == slow_ref)
local t_ok, t_err = pcall(ray.get, slow_ref, { timeout = 0.05 })
assert(not t_ok and t_err.type == "GetTimeoutError", tostring(t_err))
local r0, n0 = ray.wait({ slow_ref }, { timeout = 0 })
assert(#r0 == 0 and #n0 == 1)

-- Bad arguments to the object API are errors that say what is wrong.
local function fails_with(pattern, f, ...)
  local ok, err = pcall(f, ...)
  assert(not ok and tostring(err):find(pattern), tostring(err))
end
fails_with("expected an ObjectRef or an array of ObjectRefs, got number", ray.get, 42)
fails_with('element 2 of the array is a string %("not a ref"%), not an ObjectRef', ray.get, { ref, "not a ref" })
fails_with("element 3 of the array is a number %(7%), not an ObjectRef", ray.wait, { ref, ref, 7 })
fails_with("timeout must be a non%-negative number", ray.get, ref, { timeout = -1 })
fails_with("expected an array of ObjectRefs", ray.wait, ref)
fails_with("num_returns %(3%) exceeds the number of refs %(1%)", ray.wait, { ref }, { num_returns = 3 })
fails_with("non%-negative number of seconds", ray.sleep, -1)
assert(ray.get(ray.put()) == nil, "put of nothing stores nil")

-- Introspection.
local ctx = ray.get_runtime_context()
assert(#ctx.job_id == 32 and #ctx.node_id == 32 and ctx.task_id == nil)
local in_task = ray.get(ray.remote(function() return ray.get_runtime_context() end).remote())
assert(#in_task.task_id == 32 and #in_task.node_id == 32 and in_task.worker_id ~= ctx.worker_id)
-- The cluster's resources are its nodes' (one node of 2 CPUs under --num-cpus 2).
local cpus, node_ids = 0, {}
for _, node in ipairs(ray.nodes()) do
  assert(node.alive and #node.node_id == 32 and type(node.address) == "string")
  cpus, node_ids[node.node_id] = cpus + node.resources.CPU, true
end
assert(ray.cluster_resources().CPU == cpus, ray.cluster_resources().CPU)
assert(node_ids[ctx.node_id] and node_ids[in_task.node_id], "tasks run on the cluster's nodes")
assert(type(ray.now()) == "number" and math.type(ray.now()) == "float")
assert(ray.is_initialized())
ray.init()
assert(not pcall(ray.init, { num_cpus = 7 }))
assert(require("ray") == ray)
print("tasks ok")

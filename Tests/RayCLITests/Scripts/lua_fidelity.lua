-- Lua inside tasks behaves as in a main chunk under lua, and the everyday
-- mistakes get errors that say what to do (issue 14). arg[1]: a scratch
-- directory for module files.
local dir = assert(arg[1], "usage: lua_fidelity.lua DIR")

local function fails_with(pattern, f, ...)
  local ok, err = pcall(f, ...)
  assert(not ok, "expected an error matching " .. pattern)
  local text = type(err) == "table" and tostring(err.message) or tostring(err)
  assert(text:find(pattern), "'" .. text .. "' does not match '" .. pattern .. "'")
  return err
end

-- print is a C function, as in lua.c, on the driver and in tasks.
assert(debug.getinfo(print).what == "C")
assert(not pcall(string.dump, print))
local in_task = ray.get(ray.remote(function()
  return debug.getinfo(print).what, pcall(string.dump, print)
end).options({ num_returns = 1 }).remote())
assert(in_task == "C", "print in a task is a C function")
fails_with("'__tostring' must return a string", print, setmetatable({}, { __tostring = function() return {} end }))

-- Nothing a task does through the debug library breaks later tasks.
local breaker = ray.remote(function()
  local results = {}
  for _, f in ipairs({ print, ray.get, ray.remote, ray.put }) do
    results[#results + 1] = pcall(debug.setupvalue, f, 1, 42)
    results[#results + 1] = pcall(debug.upvaluejoin, f, 1, function() return results end, 1)
  end
  for _, ok in ipairs(results) do assert(not ok, "a runtime function was changed") end
  return #results
end)
for _ = 1, 4 do assert(ray.get(breaker.remote()) == 8) end
assert(ray.get(ray.remote(function(x) print("still fine") return x end).remote(5)) == 5)
-- The user's own functions stay theirs to change.
assert(ray.get(ray.remote(function()
  local up = 1
  local f = function() return up end
  debug.setupvalue(f, 1, 7)
  return f()
end).remote()) == 7)

-- A task's globals are the globals of the chunks it loads.
local f = assert(io.open(dir .. "/fidelity_mod.lua", "w"))
f:write("return { seen = SETTING, later = function() return SETTING end }\n")
f:close()
f = assert(io.open(dir .. "/fidelity_do.lua", "w"))
f:write("return SETTING .. ' via dofile'\n")
f:close()
local loaded = ray.remote(function(d)
  SETTING = "task global"
  package.path = d .. "/?.lua;" .. package.path
  local m = require("fidelity_mod")
  return load("return SETTING")(), m.seen, m.later(), dofile(d .. "/fidelity_do.lua"),
         loadfile(d .. "/fidelity_do.lua")(), load("return SETTING", "x", "t", {})()
end)
local a, b, c, d, e, g = table.unpack(ray.get({ loaded.options({ num_returns = 6 }).remote(dir) }))
assert(a == "task global" and b == "task global" and c == "task global", tostring(a) .. tostring(b) .. tostring(c))
assert(d == "task global via dofile" and e == "task global via dofile" and g == nil)
assert(SETTING == nil, "a task's globals stay on its worker")

-- The driver's package.path at submission holds on its workers (on every node).
f = assert(io.open(dir .. "/fidelity_shipped.lua", "w"))
f:write("return { where = 'next to the script' }\n")
f:close()
local saved_path = package.path
package.path = dir .. "/?.lua;" .. package.path
local find = ray.remote(function() return require("fidelity_shipped").where end)
for _, ref in ipairs({ find.remote(), find.options({ scheduling_strategy = "SPREAD" }).remote(),
                       find.options({ scheduling_strategy = "SPREAD" }).remote() }) do
  assert(ray.get(ref) == "next to the script")
end
package.path = saved_path
local missing = ray.remote(function() return pcall(require, "fidelity_shipped_not_there") end)
assert(ray.get(missing.remote()) == false)

-- coroutine.yield at a task's own level raises, catchably; coroutines the task makes work.
local y1, y2, y3, y4 = table.unpack(ray.get({ ray.remote({ num_returns = 4 }, function()
  local ok, err = pcall(coroutine.yield, 1)
  local _, main = coroutine.running()
  local gen = coroutine.wrap(function() for i = 1, 3 do coroutine.yield(i) end end)
  return ok, err, main and not coroutine.isyieldable(), gen() + gen() + gen()
end).remote() }))
assert(y1 == false and y2 == "attempt to yield from outside a coroutine" and y3 == true and y4 == 6)

-- Options tables are checked, with the nearest known key.
local r = ray.put(1)
fails_with("ray.get: unknown option 'timout' %(did you mean 'timeout'%?%)", ray.get, r, { timout = 0.01 })
fails_with("ray.wait: unknown option 'num_return' %(did you mean 'num_returns'%?%)", ray.wait, { r }, { num_return = 1 })
fails_with("ray.init: unknown option 'num_cpu' %(did you mean 'num_cpus'%?%)", ray.init, { num_cpu = 2 })
fails_with("ray.cancel: unknown option 'recursiv' %(did you mean 'recursive'%?%)", ray.cancel, r, { recursiv = true })
fails_with("ray.kill: unknown option 'no_restrat' %(did you mean 'no_restart'%?%)", ray.kill,
           ray.remote({ m = function() end }).remote(), { no_restrat = true })
fails_with("ray.remote: unknown option 'max_retry' %(did you mean 'max_retries'%?%)", ray.remote, { max_retry = 1 }, print)
fails_with("unknown option 'zzz'$", ray.get, r, { zzz = 1 })

-- The colon forms are refused at the call, with the right form.
local square = ray.remote(function(x) return x * x end)
fails_with("f%.remote%(%.%.%.%), not f:remote", function() local ref = square:remote(3) return ref end)
local Box = ray.remote({ ping = function() return "pong" end })
local box = Box.remote()
fails_with("handle%.ping%.remote%(%.%.%.%), not handle%.ping:remote", function() local ref = box.ping:remote() return ref end)
fails_with("Class%.remote%(%.%.%.%), not Class:remote", function() local h = Box:remote() return h end)
assert(ray.get(box.ping.remote()) == "pong")

-- ray.get names the element that is not a ref.
fails_with("element 2 of the array is a number %(2%), not an ObjectRef", ray.get, { r, 2 })

-- An actor whose init fails says why.
local Broken = ray.remote({ init = function() error("bad configuration") end, m = function() end })
local died = fails_with("its init failed: .*bad configuration", ray.get, Broken.remote().m.remote())
assert(died.type == "ActorDiedError" and tostring(died):find("bad configuration"), tostring(died))

-- Errors that pass through tasks show the chain; table errors read well.
local inner = ray.remote({ name = "inner" }, function() error({ code = 42, reason = "quota" }) end)
local middle = ray.remote({ name = "middle" }, function() return ray.get(inner.remote()) end)
local outer = ray.remote({ name = "outer" }, function() return ray.get(middle.remote()) end)
local chained = fails_with('{code = 42, reason = "quota"}', ray.get, outer.remote())
local text = tostring(chained)
assert(text:find("RayTaskError in task 'inner'", 1, true), text)
assert(text:find("passed through task 'middle'\n  passed through task 'outer'", 1, true), text)
assert(text:find("traceback of task 'inner':", 1, true), text)
assert(chained.cause.code == 42, "the raised table is the cause")

-- A task whose argument failed fails with that same error, and joins its chain.
local id = ray.remote({ name = "id" }, function(v) return v end)
local via_args = fails_with('{code = 42, reason = "quota"}', ray.get, id.remote(id.remote(inner.remote())))
assert(via_args.type == "RayTaskError" and via_args.cause.code == 42, tostring(via_args))
assert(tostring(via_args):find("passed through task 'id'\n  passed through task 'id'", 1, true), tostring(via_args))

print("lua fidelity ok")

-- The public `ray` table: Ray Core's API in Lua idiom, built on the `_ray`
-- primitives the Swift runtime installs. Loaded once per interpreter state
-- (the driver's and every worker's) and registered as package.loaded.ray.
local _ray = ...

-- print is a C function with lua.c's behaviour that writes each line whole,
-- so lines printed by tasks on other worker threads never interleave (Lua's
-- own print writes piece by piece); on a cluster node a task's lines go to
-- its driver.
print = _ray.print

-- As a loaded module, the primitives travel by name inside shipped values
-- (a RemoteFunction's closures refer to them, and so do functions that call
-- print) and resolve to each worker's own.
package.loaded["ray.core"] = _ray

local type, pairs, ipairs, select, error, setmetatable, getmetatable, tostring, rawget, rawset =
      type, pairs, ipairs, select, error, setmetatable, getmetatable, tostring, rawget, rawset
local next = next
local concat, tointeger, min, max, byte, rawequal = table.concat, math.tointeger, math.min, math.max, string.byte, rawequal
-- The libraries' functions the module calls, taken now: a task that changes
-- string or math on its worker cannot break the module for later tasks.
local gsub, find = string.gsub, string.find

local ray = {}

-- Errors --------------------------------------------------------------------

local Error = {}
Error.__index = Error
Error.__name = "RayError"
-- "RayTaskError in task 'f': message", the tasks it passed through on its
-- way up (innermost first), then the remote traceback, labelled with its task.
function Error.__tostring(e)
  local parts = { tostring(e.type) }
  if e.task then parts[#parts + 1] = " in task '" .. tostring(e.task) .. "'" end
  parts[#parts + 1] = ": " .. tostring(e.message)
  if type(e.through) == "table" then
    for _, name in ipairs(e.through) do parts[#parts + 1] = "\n  passed through task '" .. tostring(name) .. "'" end
  end
  if type(e.traceback) == "string" then
    local body = gsub(e.traceback, "^stack traceback:\n", "")
    parts[#parts + 1] = "\ntraceback of " .. (e.task and ("task '" .. tostring(e.task) .. "'") or "the task") .. ":\n" .. body
  end
  return concat(parts)
end
_ray.set_error_metatable(Error)

local function raise(kind, message, level)
  error(setmetatable({ type = kind, message = message }, Error), (level or 1) + 1)
end

-- Options -------------------------------------------------------------------

local task_options = {
  num_cpus = "number", resources = "table", num_returns = "number", max_retries = "number",
  retry_exceptions = "boolean", scheduling_strategy = "any", name = "string", runtime_env = "table",
}

-- Edit distance between two short strings (insertions, deletions,
-- substitutions, and swaps of neighbours: `timout`, `num_return`, `nmae`).
local function distance(a, b)
  local la, lb = #a, #b
  local d = {}
  for i = 0, la do d[i] = { [0] = i } end
  for j = 0, lb do d[0][j] = j end
  for i = 1, la do
    for j = 1, lb do
      local cost = byte(a, i) == byte(b, j) and 0 or 1
      local v = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
      if i > 1 and j > 1 and byte(a, i) == byte(b, j - 1) and byte(a, i - 1) == byte(b, j) then
        v = min(v, d[i - 2][j - 2] + 1)
      end
      d[i][j] = v
    end
  end
  return d[la][lb]
end

-- The known key closest to `name`, when it is close enough to be a typo.
local function nearest(name, known)
  if type(name) ~= "string" then return nil end
  local best, best_d
  for k in pairs(known) do
    local d = distance(name, k)
    if d <= max(1, #k // 3) and (best_d == nil or d < best_d or (d == best_d and k < best)) then
      best, best_d = k, d
    end
  end
  return best
end

-- Raises for every key of `opts` that `known` lacks: "what: unknown option
-- 'timout' (did you mean 'timeout'?)". `level` is error()'s level.
local function check_keys(opts, known, what, level)
  for k in pairs(opts) do
    if known[k] == nil then
      local hint = nearest(k, known)
      error(what .. ": unknown option '" .. tostring(k) .. "'" .. (hint and (" (did you mean '" .. hint .. "'?)") or ""), level + 1)
    end
  end
end

local runtime_env_keys = { working_dir = "string", env_vars = "table", lua_path = "string", lua_cpath = "string" }

-- runtime_env = { working_dir = DIR, env_vars = { NAME = "value" }, lua_path = "...", lua_cpath = "..." }
local function check_runtime_env(env, what, level)
  check_keys(env, runtime_env_keys, what .. ": runtime_env", level + 1)
  for k, v in pairs(env) do
    if type(v) ~= runtime_env_keys[k] then
      error(what .. ": runtime_env." .. k .. " must be a " .. runtime_env_keys[k] .. ", got " .. type(v), level + 1)
    end
  end
  for name, value in pairs(env.env_vars or {}) do
    if type(name) ~= "string" or not find(name, "^[%a_][%w_]*$") or type(value) ~= "string" then
      error(what .. ": runtime_env.env_vars must map variable names to strings (" .. tostring(name) .. ")", level + 1)
    end
  end
end

local function check_options(opts, known, what)
  if opts == nil then return {} end
  if type(opts) ~= "table" then
    error(what .. ": options must be a table, got " .. type(opts), 3)
  end
  check_keys(opts, known, what, 3)
  for k, v in pairs(opts) do
    local expected = known[k]
    if expected ~= "any" and type(v) ~= expected then
      error(what .. ": option '" .. k .. "' must be a " .. expected .. ", got " .. type(v), 3)
    end
  end
  if opts.runtime_env ~= nil then check_runtime_env(opts.runtime_env, what, 3) end
  if opts.num_returns ~= nil and (tointeger(opts.num_returns) == nil or opts.num_returns < 0) then
    error(what .. ": num_returns must be a non-negative integer", 3)
  end
  if opts.num_cpus ~= nil and opts.num_cpus < 0 then
    error(what .. ": num_cpus must not be negative", 3)
  end
  for _, k in ipairs({ "max_restarts", "max_task_retries", "max_retries" }) do
    local v = opts[k]
    if v ~= nil and (v < -1 or v % 1 ~= 0) then
      error(what .. ": " .. k .. " must be an integer >= -1 (-1: unlimited)", 3)
    end
  end
  local strategy = opts.scheduling_strategy
  if strategy ~= nil and strategy ~= "DEFAULT" and strategy ~= "SPREAD" then
    if type(strategy) ~= "table" or type(strategy.node_id) ~= "string"
       or (strategy.soft ~= nil and type(strategy.soft) ~= "boolean") then
      error(what .. ": scheduling_strategy must be \"DEFAULT\", \"SPREAD\" or { node_id = ID, soft = boolean }", 3)
    end
  end
  if opts.max_concurrency ~= nil and (opts.max_concurrency < 1 or opts.max_concurrency % 1 ~= 0) then
    error(what .. ": max_concurrency must be a positive integer", 3)
  end
  if opts.lifetime ~= nil and opts.lifetime ~= "detached" and opts.lifetime ~= "non_detached" then
    error(what .. ": lifetime must be \"detached\" or \"non_detached\", got \"" .. opts.lifetime .. "\"", 3)
  end
  return opts
end

local function merge(a, b)
  local out = {}
  for k, v in pairs(a) do out[k] = v end
  for k, v in pairs(b) do out[k] = v end
  return out
end

-- Remote functions ----------------------------------------------------------

local RemoteFunction = {}
RemoteFunction.__name = "RemoteFunction"
RemoteFunction.__index = RemoteFunction
function RemoteFunction.__call()
  error("a remote function cannot be called directly: use f.remote(...)", 2)
end
function RemoteFunction.__tostring(f)
  return "RemoteFunction(" .. (f._options.name or "anonymous") .. ")"
end

-- `_shared` is common to a RemoteFunction and the copies its `options`
-- make: the runtime registers the function once, at the first submission
-- of any of them, and keeps its handle there.
local function remote_function(fn, opts, shared)
  local f = setmetatable({ _fn = fn, _options = opts, _shared = shared or {} }, RemoteFunction)
  f.remote = function(...)
    if rawequal((...), f) then error("a remote function is called as f.remote(...), not f:remote(...)", 2) end
    return _ray.submit(f, ...)
  end
  f.options = function(more)
    if rawequal(more, f) then error("options are set with f.options({...}), not f:options({...})", 2) end
    return remote_function(fn, merge(opts, check_options(more, task_options, "options")), f._shared)
  end
  return f
end

-- Actors --------------------------------------------------------------------

local actor_options = {
  name = "string", namespace = "string", lifetime = "string", max_restarts = "number",
  max_task_retries = "number", max_concurrency = "number", num_cpus = "number", resources = "table",
  scheduling_strategy = "any", runtime_env = "table",
}

-- The names a class answers to: its own functions and those it inherits
-- through its metatable's __index chain (tables).
local function method_names(class)
  local names, seen, t = {}, {}, class
  while type(t) == "table" and not seen[t] do
    seen[t] = true
    for k, v in pairs(t) do
      if type(k) == "string" and type(v) == "function" and not names[k] then names[k] = true end
    end
    local mt = getmetatable(t)
    t = mt and rawget(mt, "__index")
  end
  local list = {}
  for k in pairs(names) do list[#list + 1] = k end
  table.sort(list)
  return list
end

local ActorHandle = {}
ActorHandle.__name = "ActorHandle"

local function actor_method(handle, name, opts)
  local m = {}
  m.remote = function(...)
    if rawequal((...), m) then
      error("an actor method is called as handle." .. name .. ".remote(...), not handle." .. name .. ":remote(...)", 2)
    end
    return _ray.call_actor(rawget(handle, "_id"), name, opts.num_returns, ...)  -- nil: TaskOptions' default
  end
  m.options = function(more)
    if rawequal(more, m) then
      error("options are set with handle." .. name .. ".options({...}), not handle." .. name .. ":options({...})", 2)
    end
    return actor_method(handle, name, merge(opts, check_options(more, task_options, name .. ".options")))
  end
  return m
end

function ActorHandle.__index(handle, name)
  local methods = rawget(handle, "_methods")
  if methods[name] then
    local m = actor_method(handle, name, {})
    rawset(handle, name, m)
    return m
  end
  error("actor " .. rawget(handle, "_class") .. " has no method '" .. tostring(name) .. "'", 2)
end
function ActorHandle.__tostring(handle) return "ActorHandle(" .. rawget(handle, "_id") .. ")" end
function ActorHandle.__eq(a, b) return rawget(a, "_id") == rawget(b, "_id") end

local function new_handle(id, methods, class_name)
  local set = {}
  for _, m in ipairs(methods) do set[m] = true end
  return setmetatable({ _id = id, _methods = set, _class = class_name }, ActorHandle)
end

local ActorClass = {}
ActorClass.__name = "ActorClass"
ActorClass.__index = ActorClass
function ActorClass.__call() error("an actor class cannot be called directly: use Class.remote(...)", 2) end

local function actor_class(class, opts)
  local c = setmetatable({ _class = class, _options = opts }, ActorClass)
  local methods = method_names(class)
  local class_name = type(rawget(class, "__name")) == "string" and rawget(class, "__name") or "Actor"
  c.remote = function(...)
    if rawequal((...), c) then error("an actor is created with Class.remote(...), not Class:remote(...)", 2) end
    return new_handle(_ray.create_actor(c, methods, ...), methods, class_name)
  end
  c.options = function(more)
    if rawequal(more, c) then error("options are set with Class.options({...}), not Class:options({...})", 2) end
    return actor_class(class, merge(opts, check_options(more, actor_options, "options")))
  end
  return c
end

-- Run on the actor's worker as coroutine bodies.
_ray.set_actor_helpers(
  function(class, ...)            -- new_instance
    local self = setmetatable({}, { __index = class })
    if type(self.init) == "function" then self:init(...) end
    return self
  end,
  function(self, name, ...)       -- call_method
    local m = self[name]
    if type(m) ~= "function" then error("actor has no method '" .. tostring(name) .. "'") end
    return m(self, ...)
  end)

function ray.get_actor(name, namespace)
  if type(name) ~= "string" then error("ray.get_actor: expected an actor name, got " .. type(name), 2) end
  if name == "" then error("ray.get_actor: an actor name cannot be empty", 2) end
  if namespace ~= nil and type(namespace) ~= "string" then
    error("ray.get_actor: namespace must be a string, got " .. type(namespace), 2)
  end
  local id, methods = _ray.get_actor(name, namespace)
  if id == nil then
    local where = namespace or ray.get_runtime_context().namespace
    error("ray.get_actor: no actor named '" .. name .. "' in namespace '" .. where .. "'", 2)
  end
  return new_handle(id, methods, name)
end

-- As in Ray, a killed actor is not restarted unless no_restart = false.
function ray.kill(handle, opts)
  -- A handle that travelled carries a copy of the metatable: check its fields.
  if type(handle) ~= "table" or type(rawget(handle, "_id")) ~= "string" or type(rawget(handle, "_methods")) ~= "table" then
    error("ray.kill: expected an ActorHandle, got " .. type(handle), 2)
  end
  if opts ~= nil and type(opts) ~= "table" then error("ray.kill: options must be a table, got " .. type(opts), 2) end
  if opts ~= nil then check_keys(opts, { no_restart = true }, "ray.kill", 2) end
  local no_restart = true
  if opts and opts.no_restart ~= nil then
    if type(opts.no_restart) ~= "boolean" then error("ray.kill: no_restart must be a boolean", 2) end
    no_restart = opts.no_restart
  end
  _ray.kill_actor(rawget(handle, "_id"), no_restart)
end

function ray.remote(a, b)
  local opts, target
  if b == nil then opts, target = {}, a else opts, target = a, b end
  if type(target) == "function" then
    return remote_function(target, check_options(opts, task_options, "ray.remote"))
  elseif type(target) == "table" then
    return actor_class(target, check_options(opts, actor_options, "ray.remote"))
  end
  error("ray.remote: expected a function or an actor class table, got " .. type(target), 2)
end

-- Objects -------------------------------------------------------------------

local get_options = { timeout = true, progress = true }
local wait_options = { num_returns = true, timeout = true, fetch_local = true }

local function timeout_of(opts, what)
  if opts == nil then return nil end
  if type(opts) ~= "table" then error(what .. ": options must be a table, got " .. type(opts), 3) end
  local t = opts.timeout
  if t ~= nil and (type(t) ~= "number" or t < 0) then
    error(what .. ": timeout must be a non-negative number of seconds", 3)
  end
  return t
end

local util   -- ray.util (stdlib/ray/util.lua), loaded at the end of this file

function ray.get(refs, opts)
  if opts ~= nil then
    if type(opts) ~= "table" then error("ray.get: options must be a table, got " .. type(opts), 2) end
    check_keys(opts, get_options, "ray.get", 2)
    if opts.progress then
      return util.get_with_progress(refs, timeout_of(opts, "ray.get"), opts.progress)
    end
  end
  return _ray.get(refs, timeout_of(opts, "ray.get"))
end

function ray.put(value)
  return _ray.put(value)
end

function ray.wait(refs, opts)
  if type(refs) ~= "table" then error("ray.wait: expected an array of ObjectRefs, got " .. type(refs), 2) end
  local n = min(1, #refs)   -- ray.wait({}) returns two empty arrays
  if opts ~= nil then
    if type(opts) ~= "table" then error("ray.wait: options must be a table", 2) end
    check_keys(opts, wait_options, "ray.wait", 2)
    if opts.fetch_local ~= nil and type(opts.fetch_local) ~= "boolean" then
      error("ray.wait: fetch_local must be a boolean", 2)
    end
    if opts.num_returns ~= nil then n = opts.num_returns end
    if type(n) ~= "number" or n < 0 or n % 1 ~= 0 then error("ray.wait: num_returns must be a non-negative integer", 2) end
    if n > #refs then error("ray.wait: num_returns (" .. n .. ") exceeds the number of refs (" .. #refs .. ")", 2) end
  end
  return _ray.wait(refs, n, timeout_of(opts, "ray.wait"))
end

-- Cancellation ---------------------------------------------------------------

-- force = true stops the task the same way: interrupting its Lua code is
-- already the strongest stop when there is no worker process to kill.
function ray.cancel(ref, opts)
  if opts ~= nil and type(opts) ~= "table" then error("ray.cancel: options must be a table", 2) end
  local recursive = true
  check_keys(opts or {}, { force = true, recursive = true }, "ray.cancel", 2)
  for k, v in pairs(opts or {}) do
    if type(v) ~= "boolean" then error("ray.cancel: option '" .. k .. "' must be a boolean, got " .. type(v), 2) end
  end
  if opts and opts.recursive ~= nil then recursive = opts.recursive end
  return _ray.cancel(ref, recursive)
end

-- Runtime -------------------------------------------------------------------

local init_options = { num_cpus = "number", resources = "table", address = "string", namespace = "string", runtime_env = "table" }

function ray.init(opts)
  if opts ~= nil then
    if type(opts) ~= "table" then error("ray.init: options must be a table, got " .. type(opts), 2) end
    check_keys(opts, init_options, "ray.init", 2)
    for k, v in pairs(opts) do
      if type(v) ~= init_options[k] then
        error("ray.init: option '" .. k .. "' must be a " .. init_options[k] .. ", got " .. type(v), 2)
      end
    end
    if opts.runtime_env ~= nil then check_runtime_env(opts.runtime_env, "ray.init", 2) end
  end
  return _ray.init(opts)
end
ray.is_initialized = _ray.is_initialized
ray.shutdown = _ray.shutdown

function ray.get_runtime_context() return _ray.context() end
function ray.cluster_resources() return _ray.resources(false) end
function ray.available_resources() return _ray.resources(true) end
function ray.nodes() return _ray.nodes() end
ray.now = _ray.now
ray.sleep = _ray.sleep

-- Swift functions an embedding program registered: require("swift").name(...)
-- calls one, on the driver and inside tasks and actors. As a loaded module,
-- the table travels by name and resolves to each worker's own.
package.loaded.swift = setmetatable({}, {
  __name = "swift",
  __index = function(t, name)
    if type(name) ~= "string" then return nil end
    local call = _ray.call_swift
    local f = function(...) return call(name, ...) end
    rawset(t, name, f)
    return f
  end,
})

-- Inside a task, `ray`, `ray.util` and the primitives are read-only views
-- (the "Next" contract): a task that assigned to them would break them for
-- every task after it on its worker. The worker also clears anything rawset
-- into a view when a task ends (RayLuaState.resealTables).
function _ray.readonly_view(t, name)
  return setmetatable({}, {
    __index = t,
    __newindex = function(_, k)
      error(name .. " is read-only inside a task (it cannot be given '" .. tostring(k) .. "')", 2)
    end,
    __pairs = function() return next, t, nil end,
    __len = function() return #t end,
    __metatable = name,
  })
end

ray._raise = raise
ray.Error = Error

-- ray.util: stdlib/ray/util.lua, handed over by the loader as a chunk.
util = _ray.util_chunk(ray, _ray)
_ray.util_chunk = nil
ray.util = util
package.loaded["ray.util"] = util
return ray

-- The public `ray` table: Ray Core's API in Lua idiom, built on the `_ray`
-- primitives the Swift runtime installs. Loaded once per interpreter state
-- (the driver's and every worker's) and registered as package.loaded.ray.
local _ray = ...

-- print writes each line with one call, so lines printed by tasks on other
-- worker threads never interleave (Lua's own print writes piece by piece).
do
  local stdout, tostring, select, concat = io.stdout, tostring, select, table.concat
  function _ray.print(...)
    local n = select("#", ...)
    local parts = {}
    for i = 1, n do parts[i] = tostring((select(i, ...))) end
    stdout:write(concat(parts, "\t", 1, n) .. "\n")
    stdout:flush()
  end
  print = _ray.print
end

-- As a loaded module, the primitives travel by name inside shipped values
-- (a RemoteFunction's closures refer to them, and so do functions that call
-- print) and resolve to each worker's own.
package.loaded["ray.core"] = _ray

local type, pairs, ipairs, select, error, setmetatable, getmetatable, tostring, rawget, rawset =
      type, pairs, ipairs, select, error, setmetatable, getmetatable, tostring, rawget, rawset
local concat, tointeger = table.concat, math.tointeger

local ray = {}

-- Errors --------------------------------------------------------------------

local Error = {}
Error.__index = Error
Error.__name = "RayError"
function Error.__tostring(e)
  local parts = { e.type }
  if e.task then parts[#parts + 1] = " in task '" .. e.task .. "'" end
  parts[#parts + 1] = ": " .. tostring(e.message)
  if e.traceback then parts[#parts + 1] = "\n" .. e.traceback end
  return concat(parts)
end
_ray.set_error_metatable(Error)

local function raise(kind, message, level)
  error(setmetatable({ type = kind, message = message }, Error), (level or 1) + 1)
end

-- Options -------------------------------------------------------------------

local task_options = {
  num_cpus = "number", resources = "table", num_returns = "number", max_retries = "number",
  retry_exceptions = "boolean", scheduling_strategy = "any", name = "string",
}

local function check_options(opts, known, what)
  if opts == nil then return {} end
  if type(opts) ~= "table" then
    error(what .. ": options must be a table, got " .. type(opts), 3)
  end
  for k, v in pairs(opts) do
    local expected = known[k]
    if expected == nil then
      error(what .. ": unknown option '" .. tostring(k) .. "'", 3)
    end
    if expected ~= "any" and type(v) ~= expected then
      error(what .. ": option '" .. k .. "' must be a " .. expected .. ", got " .. type(v), 3)
    end
  end
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
  f.remote = function(...) return _ray.submit(f, ...) end
  f.options = function(more)
    return remote_function(fn, merge(opts, check_options(more, task_options, "options")), f._shared)
  end
  return f
end

-- Actors --------------------------------------------------------------------

local actor_options = {
  name = "string", namespace = "string", lifetime = "string", max_restarts = "number",
  max_task_retries = "number", max_concurrency = "number", num_cpus = "number", resources = "table",
  scheduling_strategy = "any",
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
    return _ray.call_actor(rawget(handle, "_id"), name, opts.num_returns or 1, ...)
  end
  m.options = function(more)
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
    return new_handle(_ray.create_actor(c, methods, ...), methods, class_name)
  end
  c.options = function(more)
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
  if namespace ~= nil and type(namespace) ~= "string" then
    error("ray.get_actor: namespace must be a string, got " .. type(namespace), 2)
  end
  local id, methods = _ray.get_actor(name, namespace)
  if id == nil then
    local where = namespace and (" in namespace '" .. namespace .. "'") or ""
    error("ray.get_actor: no actor named '" .. name .. "'" .. where, 2)
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
  if type(opts) == "table" and opts.progress then
    return util.get_with_progress(refs, timeout_of(opts, "ray.get"), opts.progress)
  end
  return _ray.get(refs, timeout_of(opts, "ray.get"))
end

function ray.put(value)
  return _ray.put(value)
end

function ray.wait(refs, opts)
  if type(refs) ~= "table" then error("ray.wait: expected an array of ObjectRefs, got " .. type(refs), 2) end
  local n = math.min(1, #refs)   -- ray.wait({}) returns two empty arrays
  if opts ~= nil then
    if type(opts) ~= "table" then error("ray.wait: options must be a table", 2) end
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
  for k, v in pairs(opts or {}) do
    if k ~= "force" and k ~= "recursive" then error("ray.cancel: unknown option '" .. tostring(k) .. "'", 2) end
    if type(v) ~= "boolean" then error("ray.cancel: option '" .. k .. "' must be a boolean, got " .. type(v), 2) end
  end
  if opts and opts.recursive ~= nil then recursive = opts.recursive end
  return _ray.cancel(ref, recursive)
end

-- Runtime -------------------------------------------------------------------

function ray.init(opts)
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

ray._raise = raise
ray.Error = Error

-- ray.util: stdlib/ray/util.lua, handed over by the loader as a chunk.
util = _ray.util_chunk(ray, _ray)
_ray.util_chunk = nil
ray.util = util
package.loaded["ray.util"] = util
return ray

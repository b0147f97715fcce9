-- runtime_env = { working_dir, env_vars, lua_path, lua_cpath } for tasks,
-- actors and ray.init (issue 14). arg[1]: a working directory holding
-- wdmod.lua, pkg/init.lua, data.txt and .git/config; arg[2]: a directory
-- holding lpmod.lua; arg[3]: a directory of more than 100 MiB.
local wd, lp, huge = assert(arg[1]), assert(arg[2]), assert(arg[3])

local function fails_with(pattern, f, ...)
  local ok, err = pcall(f, ...)
  assert(not ok, "expected an error matching " .. pattern)
  local text = type(err) == "table" and tostring(err.message) or tostring(err)
  assert(text:find(pattern), "'" .. text .. "' does not match '" .. pattern .. "'")
end

local env = { working_dir = wd, env_vars = { GREETING = "hi there", QUOTED = "it's $HOME" }, lua_path = lp .. "/?.lua" }
local probe = ray.remote({ runtime_env = env, num_returns = 8 }, function()
  local f = assert(io.open("data.txt"))
  local data = f:read("l")
  f:close()
  local shell = io.popen("printf '%s|%s' \"$GREETING\" \"$QUOTED\""):read("a")
  local nested = ray.remote(function() return os.getenv("GREETING") .. "/" .. io.open("data.txt"):read("l") end)
  return require("wdmod").name, require("pkg"), data, os.getenv("GREETING"), io.open(".git/config") == nil,
         shell, require("lpmod"), ray.get(nested.remote())
end)
for _, strategy in ipairs({ "DEFAULT", "SPREAD", "SPREAD", "SPREAD" }) do
  local r = ray.get({ probe.options({ scheduling_strategy = strategy }).remote() })
  assert(r[1] == "from working_dir", "a module of the working directory: " .. tostring(r[1]))
  assert(r[2] == "init of pkg", "a package of the working directory")
  assert(r[3] == "data file", "the working directory is the current directory")
  assert(r[4] == "hi there", "os.getenv sees env_vars")
  assert(r[5] == true, ".git is not shipped")
  assert(r[6] == "hi there|it's $HOME", "commands see env_vars: " .. tostring(r[6]))
  assert(r[7] == "via lua_path", "lua_path is on package.path")
  assert(r[8] == "hi there/data file", "nested tasks inherit the runtime_env: " .. tostring(r[8]))
end

-- Work without a runtime_env runs in the worker's own environment.
local plain = ray.remote(function() return os.getenv("GREETING") == nil and io.open("data.txt") == nil end)
for _ = 1, 3 do assert(ray.get(plain.remote()), "a plain task does not see another task's runtime_env") end

-- An actor's calls run in its runtime_env.
local Where = ray.remote({ runtime_env = { working_dir = wd, env_vars = { WHO = "actor" } } },
  { where = function() return io.open("data.txt"):read("l") .. " " .. os.getenv("WHO") end })
local actor = Where.remote()
assert(ray.get(actor.where.remote()) == "data file actor")

-- Bad runtime_envs are refused at the call.
fails_with("working_dir '/nonexistent/dir' is not a directory", function()
  local ref = ray.remote({ runtime_env = { working_dir = "/nonexistent/dir" } }, function() end).remote()
  return ref
end)
fails_with("holds more than 100 MiB", function()
  local ref = ray.remote({ runtime_env = { working_dir = huge } }, function() end).remote()
  return ref
end)
fails_with("unknown option 'workingdir' %(did you mean 'working_dir'%?%)", ray.remote, { runtime_env = { workingdir = wd } }, print)
fails_with("env_vars must map variable names to strings", ray.remote, { runtime_env = { env_vars = { ["not a name"] = "x" } } }, print)
fails_with("runtime_env.lua_path must be a string", ray.remote, { runtime_env = { lua_path = 1 } }, print)

-- ray.init's runtime_env is the job's: every task runs in it.
ray.init({ runtime_env = { working_dir = wd, env_vars = { JOBVAR = "job" } } })
local job = ray.remote(function() return os.getenv("JOBVAR") .. " " .. require("wdmod").name end)
assert(ray.get(job.options({ scheduling_strategy = "SPREAD" }).remote()) == "job from working_dir")
assert(ray.get(job.remote()) == "job from working_dir")
print("runtime_env ok")

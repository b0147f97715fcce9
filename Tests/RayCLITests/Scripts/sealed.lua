-- A task cannot break the ray module, or make refs leak, for the tasks run
-- after it on its worker (run with --num-cpus 1: one worker for all).
local attack = ray.remote(function(kind)
  if kind == "assign" then
    local ok, err = pcall(function() ray.get = nil end)
    assert(not ok and err:find("ray is read%-only inside a task"), tostring(err))
  elseif kind == "rawset" then
    rawset(ray, "remote", nil)
    rawset(ray, "put", 5)
  elseif kind == "core" then
    local core = package.loaded["ray.core"]
    assert(not pcall(function() core.print = nil end))
    rawset(core, "get", nil)
  elseif kind == "util" then
    assert(not pcall(function() ray.util.progress = nil end))
  elseif kind == "refs" then
    local ref = ray.put(1)
    assert(getmetatable(ref) == "ObjectRef", "the refs' metatable is out of reach")
    assert(debug.getmetatable(ref) == "ObjectRef", "also through the debug library")
    assert(not pcall(debug.setmetatable, ref, nil))
  elseif kind == "environment" then
    assert(debug.getmetatable(_G) == nil, "the environments' shared metatable is out of reach")
    assert(not pcall(debug.setmetatable, _G, {}))
  end
  return kind
end)
local probe = ray.remote(function()
  local nested = ray.get(ray.remote(function() return 8 end).remote())
  local n = 0
  for _ in pairs(ray) do n = n + 1 end
  return ray.get(ray.put(7)) + nested == 15 and type(ray.util.progress) == "function" and n > 10
end)
for _, kind in ipairs({ "assign", "rawset", "core", "util", "refs", "environment" }) do
  assert(ray.get(attack.remote(kind)) == kind)
  for _ = 1, 2 do assert(ray.get(probe.remote()), "ray still works after '" .. kind .. "'") end
end
-- The driver's ray stays the script's own to change.
ray.custom = 1
assert(ray.custom == 1)
print("sealed ok")

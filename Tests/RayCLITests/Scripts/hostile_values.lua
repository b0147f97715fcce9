-- The hostile values a user can make, as arguments, returns and puts: each
-- is a success or a typed error, and the runtime lives on afterwards
-- (issue 12). arg[1] = "big" adds the 1 GB string (where memory allows).
local big = arg[1] == "big"
local echo = ray.remote(function(...) return ... end)
local size = ray.remote(function(s) return #s end)
local results = {}

-- Runs `f`; records "ok" or the error's type, and checks it is one of `allowed`.
local function try(label, allowed, f)
  local ok, err = pcall(f)
  local outcome = ok and "ok" or (type(err) == "table" and err.type) or ("untyped: " .. tostring(err))
  local fine = false
  for _, a in ipairs(allowed) do if outcome == a then fine = true end end
  assert(fine, label .. ": got " .. outcome .. (ok and "" or (" (" .. tostring(type(err) == "table" and err.message or err) .. ")")))
  results[#results + 1] = label .. "\t" .. outcome
  -- The runtime is alive and well after each.
  assert(ray.get(echo.remote(42)) == 42, label .. ": the runtime still works")
end

try("10000 arguments", { "ok" }, function()
  local t = {}
  for i = 1, 10000 do t[i] = i end
  local refs = { ray.remote({ num_returns = 2 }, function(...) return select("#", ...), (select(10000, ...)) end).remote(table.unpack(t)) }
  assert(ray.get(refs[1]) == 10000 and ray.get(refs[2]) == 10000)
end)

try("10000 returns", { "ok" }, function()
  local g = ray.remote({ num_returns = 10000 }, function() local t = {} for i = 1, 10000 do t[i] = -i end return table.unpack(t) end)
  local refs = { g.remote() }
  assert(ray.get(refs[10000]) == -10000)
end)

-- Nesting far past the codec's depth limit: a SerializationError naming the limit.
local function nest(depth)
  local root = {}
  local t = root
  for _ = 1, depth do local n = {} t[1] = n t = n end
  return root
end
try("nested 200000 deep argument", { "SerializationError" }, function() return ray.get(echo.remote(nest(200000))) end)
try("nested 200000 deep put", { "SerializationError" }, function() return ray.put(nest(200000)) end)
try("nested 200000 deep return", { "SerializationError" }, function()
  return ray.get(ray.remote(function()
    local root = {} local t = root
    for _ = 1, 200000 do local n = {} t[1] = n t = n end
    return root
  end).remote())
end)
try("nested 100 deep", { "ok" }, function() assert(type(ray.get(echo.remote(nest(100)))) == "table") end)

try("100 MB string", { "ok" }, function()
  local s = string.rep("x", 100 * 1024 * 1024)
  assert(ray.get(size.remote(s)) == #s)
  assert(#ray.get(ray.put(s)) == #s)
  assert(#ray.get(ray.remote(function(n) return string.rep("y", n) end).remote(#s)) == #s)
end)
if big then
  try("1 GB string", { "ok", "SerializationError", "OutOfMemoryError" }, function()
    local s = string.rep("z", 1024 * 1024 * 1024)
    assert(ray.get(size.remote(s)) == #s)
  end)
end

try("cyclic table", { "ok" }, function()
  local t = { name = "loop" }
  t.self = t
  t.list = { t, t }
  local back = ray.get(echo.remote(t))
  assert(back.self == back and back.list[1] == back and back.list[2] == back)
end)

try("userdata (io.stdout is named)", { "ok" }, function()
  assert(io.type(ray.get(echo.remote(io.stdout))) == "file")
end)
try("foreign userdata", { "SerializationError" }, function()
  local f = assert(io.tmpfile())
  return echo.remote(f)
end)
try("coroutine", { "SerializationError" }, function() return echo.remote(coroutine.create(print)) end)
try("coroutine nested", { "SerializationError" }, function() return echo.remote({ a = { co = coroutine.create(print) } }) end)
try("coroutine returned", { "SerializationError" }, function()
  return ray.get(ray.remote(function() return coroutine.create(print) end).remote())
end)
try("standard C function", { "ok" }, function() assert(ray.get(echo.remote(string.format))("%d", 7) == "7") end)
try("C function under no library name", { "SerializationError" }, function()
  -- As a C module's functions are: the package library keeps this one only in a table.
  return echo.remote(package.searchers[3])
end)
try("ref to a freed object in a table", { "ok" }, function()
  local inner = ray.put("kept")
  local back = ray.get(echo.remote({ inner }))
  assert(ray.get(back[1]) == "kept")
end)

for _, line in ipairs(results) do print(line) end
print("hostile values ok")

-- A failed task's error travels to whoever gets its result (and to tasks
-- that depend on it), with the remote traceback and the value it raised.
local parse = ray.remote(function(text)
  local n = tonumber(text)
  if not n then error({ bad_input = text }) end
  return n
end)

local ok, err = pcall(ray.get, parse.remote("forty-two"))
print(ok, err.type, err.cause.bad_input)
print(err.traceback ~= nil)

-- Timeouts.
local slow = ray.remote(function() ray.sleep(2) return "done" end)
local ok2, err2 = pcall(ray.get, slow.remote(), { timeout = 0.1 })
print(ok2, err2.type)

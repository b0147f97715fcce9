-- ray.util.progress and ray.get's progress option with stderr not a
-- terminal (run with --num-cpus 2): no bar, values in completion order with
-- their input positions. Prints what it saw; the test compares the lines.

-- Completion order is forced, never left to timing: link k takes link k-1's
-- ref as its argument (so it runs after it), and ends only once the driver
-- has taken k-1 values from the iterator (the gate counts them). So when
-- the iterator waits, exactly one of its refs is ready.
local Gate = ray.remote({
  init = function(self) self.n = 0 end,
  taken = function(self) self.n = self.n + 1 end,
  count = function(self) return self.n end,
})
local link = ray.remote(function(_, gate, k, value)
  while ray.get(gate.count.remote()) < k - 1 do ray.sleep(0.001) end
  return value
end)
local function chain(gate, n)
  local links, prev = {}, nil
  for k = 1, n do
    prev = link.remote(prev, gate, k, "c" .. k)
    links[k] = prev
  end
  return links
end

-- An array: positions 3, 1, 4, 2 complete in that order.
local gate = Gate.remote()
local c = chain(gate, 4)
local refs = { c[2], c[4], c[1], c[3] }
for value, index in ray.util.progress(refs, { desc = "chain" }) do
  print("array", value, index)
  gate.taken.remote()
end

-- A generator (a function returning the next ref, then nil): positions are
-- the order it returned them in.
gate = Gate.remote()
c = chain(gate, 3)
local order, i = { c[3], c[1], c[2] }, 0
local function generator()
  i = i + 1
  return order[i]
end
for value, index in ray.util.progress(generator) do
  print("generator", value, index)
  gate.taken.remote()
end

-- The same ref twice, both ready: each of its positions, in input order.
local x, y = ray.put("x"), ray.put("y")
for value, index in ray.util.progress({ x, y, x }) do print("repeated", value, index) end

-- ray.get with progress: ray.get's result, in input order; single refs too.
local square = ray.remote(function(v) return v * v end)
local squares = {}
for v = 1, 5 do squares[v] = square.remote(v) end
print("get", table.concat(ray.get(squares, { progress = true }), " "))
print("get one", ray.get(square.remote(7), { progress = "one" }))

-- Inside a task progress works (and never draws).
print("in a task", ray.get(ray.remote(function()
  local seen = {}
  for value, index in ray.util.progress({ ray.put(10), ray.put(20) }) do seen[#seen + 1] = value .. "@" .. index end
  return table.concat(seen, " ")
end).remote()))

-- Errors: a failed task's, ray.get's timeout, and bad arguments.
local ok, err = pcall(function()
  for _ in ray.util.progress({ ray.remote(function() error("bad") end).remote() }) do end
end)
print("task error", ok, err.type)
local sleeper = ray.remote(function() ray.sleep(60) end).remote()
ok, err = pcall(ray.get, { sleeper }, { progress = true, timeout = 0.05 })
print("timeout", ok, err.type, err.message:match("^ray%.get timed out after 0%.05 s") ~= nil)
ray.cancel(sleeper)
-- The message without its position, which must be this script's.
local function message(f, ...)
  local _, e = pcall(f, ...)
  return (tostring(e):gsub("^.-progress%.lua:%d+: ", ""))
end
print(message(function() return ray.util.progress(5) end))
print(message(function() return ray.util.progress({ 1 }) end))
print(message(function() return ray.util.progress({}, { width = 3 }) end))
print(message(function() return ray.get({}, { progress = 1 }) end))
print(message(function() return ray.get({ x, 5 }, { progress = true }) end))
print(message(function()
  for _ in ray.util.progress(function() return 42 end) do end
end))
print("progress ok")

-- Actors through the real `ray` binary.
local Counter = ray.remote({
  init = function(self, start) self.n = start or 0 end,
  incr = function(self, by) self.n = self.n + (by or 1); return self.n end,
  get = function(self) return self.n end,
  pair = function(self) return self.n, -self.n end,
})
local c = Counter.remote(10)
assert(ray.get(c.incr.remote(5)) == 15)

-- Calls from one caller run in submission order, one at a time.
local refs = {}
for i = 1, 200 do refs[i] = c.incr.remote(1) end
local values = ray.get(refs)
for i = 1, 200 do assert(values[i] == 15 + i, values[i]) end

-- Method options.
local p, q = c.pair.options({ num_returns = 2 }).remote()
assert(ray.get(p) == 215 and ray.get(q) == -215)

-- Named actors.
local g = Counter.options({ name = "global" }).remote(0)
local same = ray.get_actor("global")
assert(same == g)
ray.get(same.incr.remote(3))
assert(ray.get(g.get.remote()) == 3)
local dup_ok, dup_err = pcall(function() return Counter.options({ name = "global" }).remote() end)
assert(not dup_ok and dup_err:find("already exists"), dup_err)
local miss_ok, miss_err = pcall(ray.get_actor, "nobody")
assert(not miss_ok and miss_err:find("no actor named 'nobody' in namespace '" .. ray.get_runtime_context().namespace .. "'", 1, true), miss_err)
local empty_ok, empty_err = pcall(ray.get_actor, "")
assert(not empty_ok and empty_err:find("cannot be empty"), empty_err)

-- Handles travel to tasks and to other actors.
local bump = ray.remote(function(h) return ray.get(h.incr.remote(100)) end)
assert(ray.get(bump.remote(c)) == 315)
local Forwarder = ray.remote({ forward = function(self, h) return ray.get(h.get.remote()) end })
assert(ray.get(Forwarder.remote().forward.remote(c)) == 315)

-- Unknown methods fail at the call; calling a class directly fails.
local nm_ok, nm_err = pcall(function() return c.nosuch.remote() end)
assert(not nm_ok and nm_err:find("has no method 'nosuch'"), nm_err)
assert(not pcall(Counter, 1))

-- Inheritance through the class's metatable; context inside a method.
local Base = { hello = function(self) return "hello from " .. self:name() end }
local Derived = setmetatable({ name = function() return "derived" end }, { __index = Base })
local d = ray.remote(Derived).remote()
assert(ray.get(d.hello.remote()) == "hello from derived")
local Who = ray.remote({ who = function() return ray.get_runtime_context().actor_id end })
assert(#ray.get(Who.remote().who.remote()) == 32)
assert(tostring(d):match("^ActorHandle%(%x+%)$"))

-- max_concurrency: a call that waits for a later call completes only when
-- both may run at once; with one at a time it can never finish.
local Gate = {
  init = function(self) self.opened = false end,
  wait_open = function(self) while not self.opened do ray.sleep(0.001) end return "opened" end,
  open = function(self) self.opened = true end,
}
local wide = ray.remote({ max_concurrency = 2 }, Gate).remote()
local w = wide.wait_open.remote()
wide.open.remote()
assert(ray.get(w, { timeout = 30 }) == "opened")
local narrow = ray.remote(Gate).remote()
local stuck = narrow.wait_open.remote()
narrow.open.remote()
local st_ok, st_err = pcall(ray.get, stuck, { timeout = 0.2 })
assert(not st_ok and st_err.type == "GetTimeoutError")

-- A failed init kills the actor; ray.kill does too.
local Broken = ray.remote({ init = function() error("cannot start") end, m = function() end })
local b = Broken.remote()
local b_ok, b_err = pcall(ray.get, b.m.remote())
assert(not b_ok and b_err.type == "ActorDiedError" and b_err.cause:find("cannot start"), tostring(b_err))
ray.kill(c)
local k_ok, k_err = pcall(ray.get, c.get.remote())
assert(not k_ok and k_err.type == "ActorDiedError" and k_err.message:find("ray.kill"), tostring(k_err))
assert(not pcall(ray.kill, "not a handle"))
print("actors ok")

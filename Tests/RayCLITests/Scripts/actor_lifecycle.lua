-- Actor life cycle through the real `ray` binary (any --num-cpus):
-- restarts, max_task_retries, kill and cancel of running calls, CPUs held
-- for life, namespaces.

-- Waits (bounded) until cond() is true.
local function eventually(what, cond)
  local deadline = ray.now() + 30
  while not cond() do
    assert(ray.now() < deadline, "timed out waiting for " .. what)
    ray.sleep(0.002)
  end
end

local function fails_with(kind, fn, ...)
  local ok, err = pcall(fn, ...)
  assert(not ok, "expected a " .. kind)
  assert(type(err) == "table" and err.type == kind, "expected a " .. kind .. ", got " .. tostring(err))
  return err
end

-- Counts the incarnations of actors and which calls started.
local Board = ray.remote({
  init = function(self) self.inits, self.started = {}, {} end,
  born = function(self, who) self.inits[who] = (self.inits[who] or 0) + 1; return self.inits[who] end,
  mark = function(self, what) self.started[what] = true end,
  seen = function(self, what) return self.started[what] == true end,
})
local board = Board.remote()

local Worker = ray.remote({
  init = function(self, b, who) self.board = b; self.life = ray.get(b.born.remote(who)); self.n = 0 end,
  incr = function(self) self.n = self.n + 1; return self.n end,
  life_of = function(self) return self.life end,
  spin = function(self, tag)
    ray.get(self.board.mark.remote(tag))
    if self.life == 1 then while true do end end   -- only the first incarnation hangs
    return "done in life " .. self.life
  end,
})

-- 1. A restart re-runs init with the same arguments; state starts afresh.
local r = Worker.options({ max_restarts = 1 }).remote(board, "r")
assert(ray.get(r.incr.remote()) == 1 and ray.get(r.incr.remote()) == 2)
ray.kill(r, { no_restart = false })
assert(ray.get(r.life_of.remote()) == 2, "a restarted actor runs init again")
assert(ray.get(r.incr.remote()) == 1, "a restarted actor starts from fresh state")
-- Restarts exhausted: the next kill is final.
ray.kill(r, { no_restart = false })
local died = fails_with("ActorDiedError", ray.get, r.incr.remote())
assert(died.message:find("ray.kill"), died.message)

-- 2. ray.kill without options is final even when restarts are allowed.
local final = Worker.options({ max_restarts = 5 }).remote(board, "final")
assert(ray.get(final.incr.remote()) == 1)
ray.kill(final)
fails_with("ActorDiedError", ray.get, final.incr.remote())

-- 3. ray.kill interrupts a running call (a busy loop), which fails.
local busy = Worker.remote(board, "busy")
local hung = busy.spin.remote("busy")
eventually("the busy call to start", function() return ray.get(board.seen.remote("busy")) end)
ray.kill(busy)
fails_with("ActorDiedError", ray.get, hung, { timeout = 30 })

-- 4. A restart under a running call: with max_task_retries the call runs
-- again on the new incarnation; calls queued behind it run there too.
local retried = Worker.options({ max_restarts = 1, max_task_retries = 1 }).remote(board, "retried")
local first = retried.spin.remote("retried")
local after = retried.incr.remote()
eventually("the retried call to start", function() return ray.get(board.seen.remote("retried")) end)
ray.kill(retried, { no_restart = false })
assert(ray.get(first, { timeout = 30 }) == "done in life 2")
assert(ray.get(after, { timeout = 30 }) == 1)

-- 5. Without max_task_retries the interrupted call fails; later calls run.
local once = Worker.options({ max_restarts = 1 }).remote(board, "once")
local cut = once.spin.remote("cut")
local later = once.life_of.remote()
eventually("the cut call to start", function() return ray.get(board.seen.remote("cut")) end)
ray.kill(once, { no_restart = false })
local cut_err = fails_with("ActorDiedError", ray.get, cut, { timeout = 30 })
assert(cut_err.message:find("restarted"), cut_err.message)
assert(ray.get(later, { timeout = 30 }) == 2)

-- 6. Cancelling actor calls: a running one is interrupted, a queued one is
-- dropped; the actor lives on.
local c = Worker.remote(board, "c")
local running = c.spin.remote("cancel-me")
local queued = c.incr.remote()
eventually("the call to cancel to start", function() return ray.get(board.seen.remote("cancel-me")) end)
ray.cancel(queued)
ray.cancel(running)
fails_with("TaskCancelledError", ray.get, running, { timeout = 30 })
fails_with("TaskCancelledError", ray.get, queued, { timeout = 30 })
assert(ray.get(c.incr.remote()) == 1, "the actor survives a cancelled call")

-- 7. An explicit num_cpus is held while the actor lives; without it the
-- actor needs a CPU only to be placed. (On a cluster the heavy actor and
-- the task are pinned to the local node; resources are summed over nodes,
-- and nodes report them with a delay, hence `eventually`.)
local light = Worker.remote(board, "light")
ray.get(light.incr.remote())
local total = ray.cluster_resources().CPU
eventually("a default actor to hold no CPU once placed", function() return ray.available_resources().CPU == total end)
local here = ray.get_runtime_context().node_id
local here_cpus
for _, node in ipairs(ray.nodes()) do
  if node.node_id == here then here_cpus = node.resources.CPU end
end
local pinned = { scheduling_strategy = { node_id = here } }
local Heavy = ray.remote({ num_cpus = here_cpus }, { ping = function() return "pong" end })
local heavy = Heavy.options(pinned).remote()
assert(ray.get(heavy.ping.remote()) == "pong")
eventually("an explicit num_cpus to be held for the actor's life",
           function() return ray.available_resources().CPU == total - here_cpus end)
local task = ray.remote(function() return "ran" end).options(pinned).remote()
local ready = ray.wait({ task }, { timeout = 0.2 })
assert(#ready == 0, "no CPU is free while the heavy actor lives")
ray.kill(heavy)
assert(ray.get(task, { timeout = 30 }) == "ran")
eventually("the CPUs to come back", function() return ray.available_resources().CPU == total end)

-- 8. Namespaces: names are per namespace; the job's namespace is set once.
local Named = ray.remote({ where = function() return "here" end })
Named.options({ name = "svc", namespace = "a" }).remote()
Named.options({ name = "svc", namespace = "b" }).remote()
local miss_ok, miss_err = pcall(ray.get_actor, "svc")
assert(not miss_ok and miss_err:find("no actor named 'svc'"), miss_err)
assert(ray.get(ray.get_actor("svc", "a").where.remote()) == "here")
ray.init({ namespace = "team" })
assert(ray.get_runtime_context().namespace == "team")
Named.options({ name = "svc" }).remote()
assert(ray.get_actor("svc", "team") == ray.get_actor("svc"))
local ns_ok, ns_err = pcall(ray.init, { namespace = "other" })
assert(not ns_ok and ns_err:find("already 'team'"), ns_err)
Named.options({ name = "forever", lifetime = "detached" }).remote()
assert(ray.get_actor("forever"))

-- 9. Bad options are refused where they are given.
for _, bad in ipairs({
  { { max_restarts = 1.5 }, "max_restarts must be an integer" },
  { { max_task_retries = -2 }, "max_task_retries must be an integer" },
  { { max_concurrency = 0 }, "max_concurrency must be a positive integer" },
  { { lifetime = "forever" }, "lifetime must be" },
  { { resources = { GPU = 1 } }, "1 GPU but this node has 0" },
}) do
  local ok, err = pcall(function() return Named.options(bad[1]).remote() end)
  assert(not ok and err:find(bad[2], 1, true), tostring(err))
end
local k_ok, k_err = pcall(ray.kill, c, { no_restart = "yes" })
assert(not k_ok and k_err:find("no_restart must be a boolean"), k_err)
local g_ok, g_err = pcall(ray.get_actor, "svc", 42)
assert(not g_ok and g_err:find("namespace must be a string"), g_err)
-- 10. Regressions from review. A kill right after creation, before the
-- actor's worker started it, gives back the CPU it was placed with.
local Quick = ray.remote({ ping = function() return "pong" end })
for _ = 1, 20 do ray.kill(Quick.remote()) end
eventually("the CPUs of killed creations to come back", function() return ray.available_resources().CPU == total end)
-- A cancelled call that was already posted to the actor's worker does not
-- keep a slot: the next call runs.
local posted = Quick.remote()
ray.get(posted.ping.remote())
for _ = 1, 20 do ray.cancel(posted.ping.remote()) end
assert(ray.get(posted.ping.remote(), { timeout = 30 }) == "pong")
-- Cancelling the head of the queue while it waits for its argument lets the
-- calls behind it run.
local Use = ray.remote({ use = function(self, x) return x end, ping = function() return "pong" end })
local user = Use.remote()
ray.get(user.ping.remote())
local never = ray.remote(function() ray.sleep(3600) end).remote()
local head = user.use.remote(never)
local behind = user.ping.remote()
ray.cancel(head)
assert(ray.get(behind, { timeout = 30 }) == "pong")
fails_with("TaskCancelledError", ray.get, head)
ray.cancel(never)
-- A handle that travelled to a task can kill its actor.
local victim = Quick.remote()
assert(ray.get(ray.remote(function(h) ray.kill(h) return "killed" end).remote(victim)) == "killed")
fails_with("ActorDiedError", ray.get, victim.ping.remote())
-- ObjectRefs captured by the class stay alive for every incarnation.
local captured = ray.put("captured")
local Keeper = ray.remote({ max_restarts = 1 }, { get = function() return ray.get(captured) end })
local keeper = Keeper.remote()
assert(ray.get(keeper.get.remote()) == "captured")
captured = nil
collectgarbage()
collectgarbage()
ray.kill(keeper, { no_restart = false })
assert(ray.get(keeper.get.remote(), { timeout = 30 }) == "captured")
print("actor lifecycle ok")

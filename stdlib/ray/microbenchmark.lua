-- `ray microbenchmark`: the rows of Ray 2.60's `ray microbenchmark`
-- (python/ray/_private/ray_perf.py) in Lua, with the same workload shapes,
-- counts and multipliers, printed as Ray prints them:
--   <row name> per second <mean> +- <std>
-- Each row: a warm-up that counts calls, then 4 timed rounds in chunks of
-- (warm-up calls / 10 + 1) calls; mean and population std over the rounds.
-- Ray also sleeps 10 s before each row against noisy neighbours; we don't.
-- opts: filter / skip (substrings of row names, as Ray's TESTS_TO_RUN /
-- TESTS_TO_SKIP), warmup and round (seconds; 1 and 2 as in Ray).
local M = {}

-- n zero bytes. string.rep of a 1-byte string copies byte by byte (0.8 s
-- for 100 MB); repeating a 1 MiB block is memcpy, like np.zeros is calloc.
local function zeros(n)
  local block = string.rep("\0", 1 << 20)
  return string.rep(block, n >> 20) .. string.rep("\0", n & ((1 << 20) - 1))
end

-- Python's print(round(x, 2)): at most two decimals, at least one.
local function py_round(x)
  local s = string.format("%.2f", math.floor(x * 100 + 0.5) / 100)
  s = s:gsub("0$", "")
  return s
end

function M.run(opts)
  opts = opts or {}
  local warmup, round = opts.warmup or 1, opts.round or 2
  local results = {}

  local function wanted(name)
    if opts.filter and not name:find(opts.filter, 1, true) then return false end
    if opts.skip and name:find(opts.skip, 1, true) then return false end
    return true
  end

  local function timeit(name, fn, multiplier)
    if not wanted(name) then return end
    multiplier = multiplier or 1
    local start, count = ray.now(), 0
    while ray.now() - start < warmup do fn(); count = count + 1 end
    local step = count // 10 + 1
    local stats = {}
    for r = 1, 4 do
      local t0, calls = ray.now(), 0
      while ray.now() - t0 < round do
        for _ = 1, step do fn() end
        calls = calls + step
      end
      stats[r] = multiplier * calls / (ray.now() - t0)
    end
    local mean = (stats[1] + stats[2] + stats[3] + stats[4]) / 4
    local var = 0
    for r = 1, 4 do var = var + (stats[r] - mean) ^ 2 end
    local std = math.sqrt(var / 4)
    print(string.format("%s per second %s +- %s", name, py_round(mean), py_round(std)))
    results[#results + 1] = { name = name, mean = mean, std = std }
  end

  local function not_applicable(name, why)
    if wanted(name) then print(name .. " per second n/a (" .. why .. ")") end
  end

  local n_cpu = math.max(1, math.floor(ray.cluster_resources().CPU) // 2)

  local small_value = ray.remote(function() return "ok" end)
  local Actor = ray.remote({ num_cpus = 0 }, {
    small_value = function() return "ok" end,
    small_value_arg = function(_, x) return "ok" end,
    small_value_batch = function(_, n)
      local refs = {}
      for i = 1, n do refs[i] = small_value.remote() end
      ray.get(refs)
    end,
  })
  -- Ray's AsyncActor runs its calls concurrently on an event loop; here
  -- that is an actor whose calls may all run at once.
  local AsyncActor = ray.remote({ max_concurrency = 1000 }, {
    small_value = function() return "ok" end,
    small_value_with_arg = function(_, x) return "ok" end,
  })
  local Client = ray.remote({ num_cpus = 0 }, {
    init = function(self, servers) self.servers = servers end,
    small_value_batch = function(self, n)
      local refs = {}
      for _, s in ipairs(self.servers) do
        for _ = 1, n do refs[#refs + 1] = s.small_value.remote() end
      end
      ray.get(refs)
    end,
    small_value_batch_arg = function(self, n)
      local x = ray.put(0)
      local refs = {}
      for _, s in ipairs(self.servers) do
        for _ = 1, n do refs[#refs + 1] = s.small_value_arg.remote(x) end
      end
      ray.get(refs)
    end,
  })
  local function batch(n, f)
    local refs = {}
    for i = 1, n do refs[i] = f(i) end
    return ray.get(refs)
  end

  local value = ray.put(0)
  timeit("single client get calls (Plasma Store)", function() ray.get(value) end)
  timeit("single client put calls (Plasma Store)", function() ray.put(0) end)

  local do_put_small = ray.remote(function() for _ = 1, 100 do ray.put(0) end end)
  timeit("multi client put calls (Plasma Store)", function() batch(10, function() return do_put_small.remote() end) end, 1000)

  if wanted("single client put gigabytes") then
    local arr = zeros(800 * 1024 * 1024)  -- np.zeros(100 * 1024 * 1024, int64): 800 MB
    timeit("single client put gigabytes", function()
      local ref = ray.put(arr)
      ref = nil
      collectgarbage()  -- drop the ObjectRef at once: 800 MB objects must not pile up
    end, 0.8)
    arr = nil
    collectgarbage()
  end

  timeit("single client tasks and get batch", function() batch(1000, function() return small_value.remote() end) end)

  local do_put = ray.remote(function()
    for _ = 1, 10 do
      local ref = ray.put(zeros(80 * 1024 * 1024))  -- np.zeros(10 * 1024 * 1024, int64)
      ref = nil
      collectgarbage()
    end
  end)
  timeit("multi client put gigabytes", function() batch(10, function() return do_put.remote() end) end, 8)

  if wanted("single client get object containing 10k refs") then
    local create = ray.remote(function()
      local refs = {}
      for i = 1, 10000 do refs[i] = ray.put(1) end
      return refs
    end)
    local obj = create.remote()
    timeit("single client get object containing 10k refs", function() ray.get(obj) end)
  end

  timeit("single client wait 1k refs", function()
    local not_ready = {}
    for i = 1, 1000 do not_ready[i] = small_value.remote() end
    while #not_ready > 0 do
      local _
      _, not_ready = ray.wait(not_ready)
    end
  end)

  timeit("single client tasks sync", function() ray.get(small_value.remote()) end)
  timeit("single client tasks async", function() batch(1000, function() return small_value.remote() end) end, 1000)

  if wanted("multi client tasks async") then
    local n, m = 10000, 4
    local actors = {}
    for i = 1, m do actors[i] = Actor.remote() end
    timeit("multi client tasks async", function()
      batch(m, function(i) return actors[i].small_value_batch.remote(n) end)
    end, n * m)
  end

  local function one_to_one(name, make, multiplier, call)
    if not wanted(name) then return end
    local a = make()
    ray.get(a.small_value.remote())
    timeit(name, function() call(a) end, multiplier)
    ray.kill(a)
  end
  one_to_one("1:1 actor calls sync", Actor.remote, 1, function(a) ray.get(a.small_value.remote()) end)
  one_to_one("1:1 actor calls async", Actor.remote, 1000,
    function(a) batch(1000, function() return a.small_value.remote() end) end)
  one_to_one("1:1 actor calls concurrent", Actor.options({ max_concurrency = 16 }).remote, 1000,
    function(a) batch(1000, function() return a.small_value.remote() end) end)

  local function servers(class)
    local list = {}
    for i = 1, n_cpu do list[i] = class.remote() end
    return list
  end
  if wanted("1:n actor calls async") then
    local n = 5000
    local client = Client.remote(servers(Actor))
    timeit("1:n actor calls async", function() ray.get(client.small_value_batch.remote(n)) end, n * n_cpu)
  end
  local function n_to_n(name, class)
    if not wanted(name) then return end
    local n, m = 5000, 4
    local actors = servers(class)
    local work = ray.remote(function(list)
      local refs = {}
      for i = 0, n - 1 do refs[i + 1] = list[i % #list + 1].small_value.remote() end
      ray.get(refs)
    end)
    timeit(name, function() batch(m, function() return work.remote(actors) end) end, m * n)
  end
  n_to_n("n:n actor calls async", Actor)
  if wanted("n:n actor calls with arg async") then
    local n = 1000
    local clients = {}
    for i, a in ipairs(servers(Actor)) do clients[i] = Client.remote({ a }) end
    timeit("n:n actor calls with arg async", function()
      batch(#clients, function(i) return clients[i].small_value_batch_arg.remote(n) end)
    end, n * #clients)
  end

  one_to_one("1:1 async-actor calls sync", AsyncActor.remote, 1, function(a) ray.get(a.small_value.remote()) end)
  one_to_one("1:1 async-actor calls async", AsyncActor.remote, 1000,
    function(a) batch(1000, function() return a.small_value.remote() end) end)
  one_to_one("1:1 async-actor calls with args async", AsyncActor.remote, 1000,
    function(a) batch(1000, function(i) return a.small_value_with_arg.remote(i) end) end)
  if wanted("1:n async-actor calls async") then
    local n = 5000
    local client = Client.remote(servers(AsyncActor))
    timeit("1:n async-actor calls async", function() ray.get(client.small_value_batch.remote(n)) end, n * n_cpu)
  end
  n_to_n("n:n async-actor calls async", AsyncActor)

  not_applicable("placement group create/removal", "placement groups are not implemented")
  for _, name in ipairs({ "client: get calls", "client: put calls", "client: put gigabytes",
                          "client: tasks and put batch", "client: 1:1 actor calls sync",
                          "client: 1:1 actor calls async", "client: 1:1 actor calls concurrent",
                          "client: tasks and get batch" }) do
    not_applicable(name, "there is no Ray Client proxy: a driver attaches to a cluster directly")
  end
  return results
end

return M

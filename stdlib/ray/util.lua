-- ray.util: helpers built on the public API. init.lua runs this chunk with
-- the `ray` table and the `_ray` primitives and makes its table both
-- ray.util and package.loaded["ray.util"] (so functions that use it travel
-- by name and find each worker's own).
local ray, _ray = ...

local type, error, pairs, ipairs, tostring, getmetatable, setmetatable =
      type, error, pairs, ipairs, tostring, getmetatable, setmetatable
local format, rep, floor, huge, max = string.format, string.rep, math.floor, math.huge, math.max
local stderr = io.stderr

local util = {}

local function is_ref(v)
  if type(v) ~= "userdata" then return false end
  return getmetatable(v) == "ObjectRef"  -- the metatable's __metatable
end

local function is_callable(v)
  if type(v) == "function" then return true end
  local mt = getmetatable(v)
  return type(mt) == "table" and mt.__call ~= nil
end

-- Progress bars ---------------------------------------------------------------

local BAR_WIDTH = 20
local REDRAW = 0.1   -- seconds between two drawings: at most 10 a second

local function duration(s)
  if s < 60 then return format("%.1fs", s) end
  if s < 3600 then return format("%dm%02ds", floor(s / 60), floor(s % 60)) end
  return format("%dh%02dm", floor(s / 3600), floor(s % 3600 / 60))
end

local function rate_text(r)
  if r >= 100 then return format("%.0f/s", r) end
  if r >= 10 then return format("%.1f/s", r) end
  return format("%.2f/s", r)
end

local Bar = {}
Bar.__index = Bar

-- A bar on stderr, redrawn in place (\r, then erase to the end of the line);
-- nil where stderr is not a terminal, and always inside tasks (the stderr
-- of a task is the node's, shared by every task it runs).
local function new_bar(desc, total)
  if not _ray.stderr_is_tty() then return nil end
  local bar = setmetatable({ desc = desc, total = total, done = 0, start = ray.now(), drawn = -huge }, Bar)
  bar:draw(false)
  return bar
end

-- `desc: [#####.....] done/total rate/s ETA 3.1s`; without a total (a
-- generator) `desc: done rate/s`; the final line ends with the time taken.
function Bar:line(now, final)
  local elapsed = now - self.start
  local rate = self.done / (elapsed > 0.001 and elapsed or 0.001)
  local parts = {}
  if self.desc then parts[#parts + 1] = self.desc .. ":" end
  if self.total then
    local filled = self.total == 0 and BAR_WIDTH or floor(BAR_WIDTH * self.done / self.total)
    parts[#parts + 1] = "[" .. rep("#", filled) .. rep(".", BAR_WIDTH - filled) .. "]"
    parts[#parts + 1] = self.done .. "/" .. self.total
  else
    parts[#parts + 1] = self.done .. " done"
  end
  parts[#parts + 1] = rate_text(self.done > 0 and rate or 0)
  if final then
    parts[#parts + 1] = "in " .. duration(elapsed)
  elseif self.total and self.done > 0 and self.done < self.total then
    parts[#parts + 1] = "ETA " .. duration((self.total - self.done) / rate)
  end
  return table.concat(parts, " ")
end

function Bar:draw(final)
  if self.finished then return end
  local now = ray.now()
  if not final and now - self.drawn < REDRAW then return end
  self.drawn = now
  self.finished = final
  stderr:write("\r", self:line(now, final), "\27[K", final and "\n" or "")
end

-- Refs in completion order ----------------------------------------------------

-- Hands out the refs of `pull` (called for the next ref until it returns
-- nil) as they become ready: `next()` returns a ref and its position in
-- the input, or nothing when every ref was handed out. Readiness comes from
-- ray.wait, blocking (never polling) once there is nothing left to pull;
-- refs that ray.wait finds ready together come in input order.
-- `wait_timeout()` bounds each blocking wait (nil: none); on a timeout,
-- `on_timeout(pending)` is called and waiting resumes.
local function completions(pull, what, wait_timeout, on_timeout)
  local pending, positions = {}, {}   -- refs not yet ready, in input order; ref -> its positions
  local queue, head, tail = {}, 1, 0  -- ready refs (and positions) not yet handed out
  local pulled, exhausted, swept = 0, false, ray.now()

  local function enqueue(ready)
    for _, ref in ipairs(ready) do
      local list = positions[ref]
      tail = tail + 1
      queue[tail] = { ref, table.remove(list, 1) }
      if #list == 0 then positions[ref] = nil end   -- hold no ref longer than needed
    end
  end
  -- Moves every ready ref of `pending` to the queue, waiting `timeout`
  -- (nil: for ever) for at least one.
  local function collect(timeout)
    if #pending == 0 then return end
    local ready, rest = ray.wait(pending, { num_returns = 1, timeout = timeout })
    if #ready > 0 and #rest > 0 then
      local more
      more, rest = ray.wait(rest, { num_returns = #rest, timeout = 0 })
      for _, ref in ipairs(more) do ready[#ready + 1] = ref end
    end
    pending = rest
    enqueue(ready)
    return #ready > 0
  end

  return function()
    while true do
      if head <= tail then
        local entry = queue[head]
        queue[head] = nil
        head = head + 1
        return entry[1], entry[2]
      end
      if not exhausted then
        local ref = pull()
        if ref == nil then
          exhausted = true
        elseif not is_ref(ref) then
          error(what .. ": the generator returned " .. type(ref) .. " (" .. tostring(ref) .. "), not an ObjectRef", 0)
        else
          pulled = pulled + 1
          local list = positions[ref]
          if list then list[#list + 1] = pulled else positions[ref] = { pulled } end
          -- A ref that is ready at once (as a streaming generator's are)
          -- goes out at once; the others are swept up to 10 times a second.
          local ready = ray.wait({ ref }, { num_returns = 1, timeout = 0 })
          if #ready == 1 then enqueue(ready)
          else
            pending[#pending + 1] = ref
            local now = ray.now()
            if now - swept >= REDRAW then
              swept = now
              collect(0)
            end
          end
        end
      elseif #pending == 0 then
        return nil
      elseif not collect(wait_timeout()) and on_timeout then
        on_timeout(pending)
      end
    end
  end
end

-- The refs of an array or a generator (anything callable that returns the
-- next ref, then nil): a pull function and the total (nil if unknown).
local function source_of(refs, what, level)
  if is_callable(refs) then return refs, nil end
  if type(refs) ~= "table" then
    error(what .. ": expected an array of ObjectRefs or a generator (a function returning the next ref, then nil), got "
          .. type(refs), level + 1)
  end
  local n = #refs
  for i = 1, n do
    if not is_ref(refs[i]) then
      error(what .. ": element " .. i .. " is " .. type(refs[i]) .. ", not an ObjectRef", level + 1)
    end
  end
  local i = 0
  return function()
    i = i + 1
    if i <= n then return refs[i] end
  end, n
end

-- ray.util.progress(refs_or_generator [, { desc = "..." }]): an iterator of
-- `value, index` in completion order; a bar on stderr where it is a
-- terminal. A ref whose value is nil ends a generic `for` (Lua's rule for
-- the first variable): call the iterator directly where values can be nil.
function util.progress(refs, opts)
  local desc
  if opts ~= nil then
    if type(opts) ~= "table" then error("ray.util.progress: options must be a table, got " .. type(opts), 2) end
    for k in pairs(opts) do
      if k ~= "desc" then error("ray.util.progress: unknown option '" .. tostring(k) .. "'", 2) end
    end
    desc = opts.desc
    if desc ~= nil and type(desc) ~= "string" then
      error("ray.util.progress: desc must be a string, got " .. type(desc), 2)
    end
  end
  local pull, total = source_of(refs, "ray.util.progress", 2)
  local bar = new_bar(desc, total)
  -- With a bar, wake at least once a second so that its rate and ETA move.
  local next_ref = completions(pull, "ray.util.progress", function() return bar and 1 or nil end,
                               function() bar:draw(false) end)
  local function finish() if bar then bar:draw(true) end end
  local function iterate()
    local ref, index = next_ref()
    if ref == nil then
      finish()
      return nil
    end
    local value = ray.get(ref)
    if bar then
      bar.done = bar.done + 1
      bar:draw(false)
    end
    return value, index
  end
  -- The fourth value of a generic `for` is closed when the loop ends, by a
  -- break or an error too: the bar's last line is then drawn.
  return iterate, nil, nil, setmetatable({}, { __close = finish })
end

-- ray.get(refs, { progress = true | "desc", timeout = t }): ray.get's result,
-- with the same bar while waiting.
function util.get_with_progress(refs, timeout, desc)
  if desc ~= true and type(desc) ~= "string" then
    error("ray.get: progress must be true or a description (a string), got " .. type(desc), 3)
  end
  local single = is_ref(refs)
  local list = single and { refs } or refs
  local valid = type(list) == "table"
  for i = 1, valid and #list or 0 do valid = valid and is_ref(list[i]) end
  if not valid then   -- ray.get's own words, at the caller of ray.get
    error("ray.get: expected an ObjectRef or an array of ObjectRefs, got " .. type(refs), 3)
  end
  local pull, total = source_of(list, "ray.get", 2)
  local deadline = timeout and ray.now() + timeout
  local bar = new_bar(type(desc) == "string" and desc or "ray.get", total)
  local _ <close> = setmetatable({}, { __close = function() if bar then bar:draw(true) end end })
  local function wait_timeout()
    local left = deadline and max(0, deadline - ray.now())
    if bar and (not left or left > 1) then return 1 end
    return left
  end
  local function on_timeout(pending)
    if deadline and ray.now() >= deadline then
      ray._raise("GetTimeoutError", format("ray.get timed out after %g s waiting for %s", timeout, pending[1]:hex()))
    end
    if bar then bar:draw(false) end
  end
  local values = {}
  local next_ref = completions(pull, "ray.get", wait_timeout, on_timeout)
  for ref, index in next_ref do
    values[index] = ray.get(ref)
    if bar then
      bar.done = bar.done + 1
      bar:draw(false)
    end
  end
  if single then return values[1] end
  return values
end

return util

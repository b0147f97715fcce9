-- The comparison workloads for ours, mirroring workloads.py (Ray): same
-- algorithms, same inputs, same printed answers. Run by compare-ray.sh:
--   ray workloads.lua fib|wordcount|bigobject
-- Prints "<workload>\t<answer>\t<seconds>"; the word count also prints a
-- "wordcount-mapreduce" line: the same run timed from the first map task,
-- without generating the corpus (interpreter work that involves no engine);
-- bigobject also prints "bigobject-median5", the median of five more rounds.
local which = ...

-- A deterministic corpus: a 31-bit LCG, word index skewed towards small ones.
local function corpus(lines, words_per_line, vocabulary, seed)
  words_per_line, vocabulary, seed = words_per_line or 10, vocabulary or 5000, seed or 12345
  local x, out = seed, {}
  for l = 1, lines do
    local words = {}
    for w = 1, words_per_line do
      x = (x * 1103515245 + 12345) % 2147483648
      local a = (x >> 8) % vocabulary
      x = (x * 1103515245 + 12345) % 2147483648
      local b = (x >> 8) % vocabulary
      words[w] = "w" .. (a * b // vocabulary)
    end
    out[l] = table.concat(words, " ")
  end
  return out
end

local fib
fib = ray.remote(function(n)
  if n < 2 then return n end
  return ray.get(fib.remote(n - 1)) + ray.get(fib.remote(n - 2))
end)

local count_words = ray.remote(function(lines)
  local counts = {}
  for _, line in ipairs(lines) do
    for word in line:gmatch("%S+") do counts[word] = (counts[word] or 0) + 1 end
  end
  return counts
end)

ray.get(fib.remote(1))  -- warm, as the Python side
local start = ray.now()
local answer
if which == "fib" then
  answer = tostring(ray.get(fib.remote(20)))
elseif which == "wordcount" then
  local lines = corpus(200000)
  local map_start = ray.now()
  local chunk = #lines // 16
  local refs = {}
  for i = 0, 15 do refs[i + 1] = count_words.remote(table.move(lines, i * chunk + 1, (i + 1) * chunk, 1, {})) end
  local total = {}
  for _, counts in ipairs(ray.get(refs)) do
    for word, n in pairs(counts) do total[word] = (total[word] or 0) + n end
  end
  local list = {}
  for word, n in pairs(total) do list[#list + 1] = { word, n } end
  table.sort(list, function(a, b) if a[2] ~= b[2] then return a[2] > b[2] end return a[1] < b[1] end)
  local top = {}
  for i = 1, 5 do top[i] = list[i][1] .. "=" .. list[i][2] end
  answer = table.concat(top, " ")
  print(string.format("%s\t%s\t%.4f", "wordcount-mapreduce", answer, ray.now() - map_start))
elseif which == "bigobject" then
  -- Built from 1 MiB blocks (memcpy; a 1-byte string.rep copies byte by
  -- byte), and timed from the put: the row is put then get, as in Python.
  local value = string.rep(string.rep("x", 1 << 20), 100)
  start = ray.now()
  answer = tostring(#ray.get(ray.put(value)))
  local first = ray.now() - start
  -- Then five more rounds, their median on its own line: the first round
  -- in a fresh process pays for memory the machine hands out for the first time.
  local times = {}
  for i = 1, 5 do
    local t = ray.now()
    local back = ray.get(ray.put(value))
    times[i] = ray.now() - t
    back = nil
    collectgarbage()
  end
  table.sort(times)
  print(string.format("%s\t%s\t%.4f", "bigobject-median5", answer, times[3]))
  start = ray.now() - first
else
  error("unknown workload " .. tostring(which))
end
print(string.format("%s\t%s\t%.4f", which, answer, ray.now() - start))

-- Returned values travel to another interpreter state on another thread:
-- the function, its upvalues, and the globals it reads (transitively).
WORDS = { "alpha", "beta", "gamma" }

function shout(s) return string.upper(s) .. "!" end

local separator = ", "

local function describe(prefix, n)
  local out = {}
  for i = 1, n do out[#out + 1] = shout(WORDS[i]) end
  return prefix .. table.concat(out, separator), math.maxinteger, 0.1
end

return describe, "received: ", 3

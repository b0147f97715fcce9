-- Helpers for the interactive session (`ray` on a terminal): how values are
-- shown, and what Tab completes. Loaded into the driver's state only.
local M = {}

local function quoted(v)
  if type(v) == "string" then return string.format("%q", v) end
  return tostring(v)
end

local function has_tostring(v)
  local mt = getmetatable(v)
  return type(mt) == "table" and rawget(mt, "__tostring") ~= nil
end

-- A key as it would be written in a constructor.
local function key_text(k)
  if type(k) == "string" and k:match("^[%a_][%w_]*$") then return k end
  return "[" .. quoted(k) .. "]"
end

local type_order = { number = 1, string = 2, boolean = 3 }
local function key_less(a, b)
  local ta, tb = type_order[type(a)] or 4, type_order[type(b)] or 4
  if ta ~= tb then return ta < tb end
  if ta <= 2 then return a < b end
  return tostring(a) < tostring(b)
end

-- One value, tables one level deep with their keys sorted (the array part
-- first, in order); values with a __tostring (ObjectRefs, actor handles,
-- errors) as they describe themselves.
function M.show(v)
  if type(v) ~= "table" or has_tostring(v) then return tostring(v) end
  local n, parts = #v, {}
  for i = 1, n do
    local e = v[i]
    parts[#parts + 1] = (type(e) == "table" and not has_tostring(e)) and "{...}" or quoted(e)
  end
  local keys = {}
  for k in pairs(v) do
    if not (math.type(k) == "integer" and k >= 1 and k <= n) then keys[#keys + 1] = k end
  end
  table.sort(keys, key_less)
  for _, k in ipairs(keys) do
    local e = v[k]
    local shown = (type(e) == "table" and not has_tostring(e)) and "{...}" or quoted(e)
    parts[#parts + 1] = key_text(k) .. " = " .. shown
  end
  return "{" .. table.concat(parts, ", ") .. "}"
end

-- Several values, tab-separated, as lua -i prints them.
function M.show_all(...)
  local parts = {}
  for i = 1, select("#", ...) do parts[i] = M.show((select(i, ...))) end
  return table.concat(parts, "\t")
end

-- Completions of `text` ("pri", "ray.ge", "s:up"): globals, or the fields of
-- the table the dotted prefix names (and of its __index tables), sorted.
function M.complete(text)
  local path, sep, stem = text:match("^(.*)([.:])([%w_]*)$")
  local t = _G
  if path then
    for name in path:gmatch("[^.:]+") do
      if type(t) ~= "table" then return {} end
      t = rawget(t, name)
    end
    if type(t) == "string" then t = string end
  else
    stem, path, sep = text, "", ""
  end
  local seen, out = {}, {}
  local depth = 0
  while type(t) == "table" and depth < 8 do
    for k, v in pairs(t) do
      if type(k) == "string" and k:sub(1, #stem) == stem and k:match("^[%a_][%w_]*$") and not seen[k]
         and (sep ~= ":" or type(v) == "function") then
        seen[k] = true
        out[#out + 1] = path .. sep .. k
      end
    end
    local mt = getmetatable(t)
    t = type(mt) == "table" and rawget(mt, "__index") or nil
    depth = depth + 1
  end
  table.sort(out)
  return out
end

return M

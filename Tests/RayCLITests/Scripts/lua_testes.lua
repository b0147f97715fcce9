-- Idioms of the official Lua 5.4.4 test suite (lua/lua, testes/) that broke
-- when its files ran as task bodies (scripts/lua-testsuite.sh runs the whole
-- suite that way). Each extract runs as the suite's files do there: its
-- source loaded and called inside a task. The extracts are quoted from the
-- test files named with them, under their copyright notice:
--[[
* Copyright (C) 1994-2016 Lua.org, PUC-Rio.
*
* Permission is hereby granted, free of charge, to any person obtaining
* a copy of this software and associated documentation files (the
* "Software"), to deal in the Software without restriction, including
* without limitation the rights to use, copy, modify, merge, publish,
* distribute, sublicense, and/or sell copies of the Software, and to
* permit persons to whom the Software is furnished to do so, subject to
* the following conditions:
*
* The above copyright notice and this permission notice shall be
* included in all copies or substantial portions of the Software.
*
* THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND,
* EXPRESS OR IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF
* MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT.
* IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY
* CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT,
* TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION WITH THE
* SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
]]

local run = ray.remote(function(src, name)
  local f = assert(load(src, "@" .. name))
  return f()
end)
local function as_task(name, src) return ray.get(run.remote(src, name)) end

-- errors.lua:9: in a task _G is its environment, whose metatable (the
-- fallback to the worker's globals) was shared: clearing its __index cut
-- every later task on the worker off from the standard library.
as_task("errors.lua", [[
local mt = getmetatable(_G) or {}
local oldmm = mt.__index
mt.__index = nil
assert(getmetatable(_G) == nil)
mt.__index = oldmm
]])
assert(as_task("later", "return tostring(print ~= nil and error ~= nil and ray ~= nil)") == "true")

-- nextvar.lua:221: next(_G) and pairs(_G) list the globals a task sees.
as_task("nextvar.lua", [[
local function find (name)
  local n,v
  while 1 do
    n,v = next(_G, n)
    if not n then return nofind end
    assert(_G[n] ~= undef)
    if n == name then return v end
  end
end

local function find1 (name)
  for n,v in pairs(_G) do
    if n==name then return v end
  end
  return nil  -- not found
end

assert(print==find("print") and print == find1("print"))
assert(_G["print"]==find("print"))
assert(assert==find1("assert"))
assert(nofind==find("return"))
assert(not find1("return"))
_G["ret" .. "urn"] = undef
assert(nofind==find("return"))
_G["xxx"] = 1
assert(xxx==find("xxx"))
-- (not the suite's) each global once, shadowed ones included
print = print
local seen, count = {}, 0
for k in pairs(_G) do assert(not seen[k], k); seen[k] = true; count = count + 1 end
assert(seen.print and seen.xxx and seen.ray and seen._G)
local n, k = 0, next(_G)
while k ~= nil do n = n + 1; k = next(_G, k) end
assert(n == count and select(1, pairs({})) == next)
]])

-- db.lua:694: print is a C function without upvalues.
as_task("db.lua", [[
local t = debug.getinfo(print, "u")
assert(t.isvararg == true and t.nparams == 0 and t.nups == 0)
]])

-- (not the suite's) a strict module on a task's _G keeps the standard library.
as_task("strict", [[
local mt = {}
setmetatable(_G, mt)
assert(getmetatable(_G) == mt)
mt.__newindex = function (t, n, v) error("assign to undeclared variable '" .. n .. "'", 2) end
mt.__index = function (t, n) error("variable '" .. n .. "' is not declared", 2) end
assert(string.format("%d", 3) == "3" and type(ray) == "table")
assert(not pcall(load("return undeclared_x")))
assert(not pcall(load("undeclared_y = 1")))
rawset(_G, "declared", 1); declared = 2; print = print
setmetatable(_G, nil)
assert(getmetatable(_G) == nil and undeclared_x == nil)
]])

-- gc.lua:685: a finalizer prints while the worker's state closes (it crashed
-- the process at exit). The object lives in a global of the task until then.
as_task("gc.lua", [[
local print, tt = print, {}
tt.__gc = function (o) print(">>> closing state <<<") end
___Glob = {setmetatable({}, tt)}
]])

print("lua testes ok")

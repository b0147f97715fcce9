#!/usr/bin/env bash
# Runs the official Lua 5.4 test files ("testes") twice each: with plain
# lua5.4 (as a function loaded inside a main chunk) and as the body of a ray
# task (Lua inside tasks: docs/lua-api.md), then prints a table. Fetches
# nothing: give it a testes/ directory, e.g. from
#   git -C <lua repo> archive v5.4.4 testes | tar -x -C /tmp
#
#   scripts/lua-testsuite.sh /tmp/testes [FILE.lua ...]
#
# Files run in a scratch copy of the directory (files.lua writes temp files
# there). _port, _soft and _nomsg are set as testes/all.lua's user mode
# does. api.lua (needs the C test library T), main.lua (runs the lua
# binary), all.lua, heavy.lua and the helper files are skipped by default.
# RAY (default .build/debug/ray), LUA (default lua5.4), TIMEOUT (seconds per
# run, default 600).
set -uo pipefail
testes="${1:?usage: lua-testsuite.sh TESTES_DIR [FILE.lua ...]}"; shift
here="$(cd "$(dirname "$0")/.." && pwd)"
RAY="${RAY:-$here/.build/debug/ray}"
LUA="${LUA:-lua5.4}"
TIMEOUT="${TIMEOUT:-600}"
files=("$@")
if [ ${#files[@]} -eq 0 ]; then
    files=(strings.lua math.lua tpack.lua utf8.lua sort.lua nextvar.lua pm.lua literals.lua
           constructs.lua vararg.lua calls.lua closure.lua goto.lua locals.lua events.lua
           bitwise.lua attrib.lua errors.lua coroutine.lua db.lua gc.lua gengc.lua cstack.lua
           code.lua verybig.lua files.lua big.lua)
fi
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
cp -r "$testes"/. "$work/testes"
cat > "$work/plain.lua" <<'LUA'
local name = assert(arg[1])
local fh = assert(io.open(name, "rb")); local src = fh:read("a"); fh:close()
_port = true; _soft = true; _nomsg = true
local f = assert(load(src, "@" .. name))
local ok, err = xpcall(f, debug.traceback)
if ok then print("RESULT PASS") else print("RESULT FAIL " .. tostring(err)); os.exit(1) end
LUA
cat > "$work/task.lua" <<'LUA'
local name = assert(arg[1])
local fh = assert(io.open(name, "rb")); local src = fh:read("a"); fh:close()
local run = ray.remote(function(src, name)
  _port = true; _soft = true; _nomsg = true
  local f = assert(load(src, "@" .. name))
  local ok, err = xpcall(f, debug.traceback)
  if not ok then error(err, 0) end
  return true
end)
local ok, err = pcall(ray.get, run.remote(src, name))
if ok then print("RESULT PASS")
else
  print("RESULT FAIL " .. (type(err) == "table" and tostring(err.message) or tostring(err))); os.exit(1)
end
LUA
verdict() {  # log file, exit status -> PASS | FAIL <first line of the message>
    local line; line="$(grep -a -m1 '^RESULT ' "$1" | cut -c8- | head -c 90)"
    if [ -z "$line" ]; then line="FAIL (no result, exit $2)"; elif [ "$2" -ne 0 ] && [ "$line" = PASS ]; then line="FAIL (passed, then exit $2)"; fi
    echo "$line"
}
printf '%-16s %-8s %s\n' FILE lua5.4 "ray task"
fails=0
for f in "${files[@]}"; do
    (cd "$work/testes" && timeout "$TIMEOUT" "$LUA" "$work/plain.lua" "$f" > "$work/plain.log" 2>&1); p=$?
    (cd "$work/testes" && timeout "$TIMEOUT" "$RAY" --num-cpus 1 "$work/task.lua" "$f" > "$work/task.log" 2>&1); r=$?
    pv="$(verdict "$work/plain.log" $p)"; rv="$(verdict "$work/task.log" $r)"
    [ "$rv" = PASS ] || [ "${pv:0:4}" = FAIL ] || fails=$((fails + 1))
    printf '%-16s %-8s %s\n' "$f" "${pv:0:4}" "$rv"
done
echo "$fails file(s) fail only as ray tasks"
[ "$fails" -eq 0 ]

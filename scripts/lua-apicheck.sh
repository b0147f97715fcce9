#!/usr/bin/env bash
# Builds Debian's Lua 5.4 with LUA_USE_APICHECK (every C API call checks its
# stack use and aborts on misuse) as a drop-in liblua5.4.so.0, then runs a
# command with it, e.g. the whole suite or one script:
#
#   scripts/lua-apicheck.sh swift test --skip-build
#   scripts/lua-apicheck.sh .build/debug/ray run Tests/RayCLITests/Scripts/counts.lua
#
# Needs Debian's source packages (deb-src) for `apt-get source lua5.4`.
# OUT (default /tmp/lua-apicheck) keeps the library between runs.
set -euo pipefail
OUT="${OUT:-/tmp/lua-apicheck}"
if [ ! -f "$OUT/liblua5.4.so.0" ]; then
    work="$(mktemp -d)"
    (cd "$work" && apt-get source -qq lua5.4 >/dev/null 2>&1)
    src="$(echo "$work"/lua5.4-*/src)"
    # Debian's symbol versions (LUA_5.4), or the loader warns on every run.
    mkdir -p "$OUT"
    # Debian's own flags (LUA_COMPAT_5_3, Linux) plus the API checks.
    (cd "$src" && gcc -shared -fPIC -O1 -g -DLUA_COMPAT_5_3 -DLUA_USE_LINUX -DLUA_USE_APICHECK \
        $(ls ./*.c | grep -v '/lua.c$\|/luac.c$') -Wl,--version-script,../debian/version-script -o "$OUT/liblua5.4.so.0" -lm -ldl)
    rm -rf "$work"
    echo "== built $OUT/liblua5.4.so.0 with LUA_USE_APICHECK" >&2
fi
[ $# -gt 0 ] || exit 0
LD_LIBRARY_PATH="$OUT${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" exec "$@"

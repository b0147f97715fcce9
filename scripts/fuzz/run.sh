#!/usr/bin/env bash
# Builds the libFuzzer target over LuaCodec's decoder (the value target) with
# swiftc alone and runs it. scripts/fuzz/fuzz.sh runs every target (frame,
# message, value) from one SwiftPM build.
#
#   scripts/fuzz/run.sh [seconds] [extra libFuzzer args...]   (default 300 s)
#
# Environment:
#   FUZZ_REV       git revision to take the decoder's Sources from (default: the
#                  working tree; the target, Sources/ray-fuzz, is always the tree's)
#   BUILD_DIR      objects, source snapshot and binary (default /tmp/luacodec-fuzz)
#   SWIFT_BIN      toolchain bin directory (default /opt/swift/usr/bin)
#   CORPUS         committed seeds (default scripts/fuzz/corpus-value; regenerated when empty)
#   WORK_CORPUS    where new inputs go (default $BUILD_DIR/corpus)
#   ARTIFACTS      crash-*, leak-*, timeout-*, oom-* (default $BUILD_DIR/artifacts)
#   FUZZ_GC_PERIOD full GC every N inputs (default here 1; the harness alone
#                  defaults to 64). 1 keeps malloc/free balanced per input, so
#                  LeakSanitizer only runs (and reports) on real leaks instead
#                  of on Lua's pending garbage.
#   FUZZ_STACK_KB  stack limit (ulimit -s) for the run; unset keeps the shell's
# Writes only under scripts/fuzz and BUILD_DIR; never uses SwiftPM.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
SECONDS_TO_RUN="${1:-300}"
shift || true
SWIFT_BIN="${SWIFT_BIN:-/opt/swift/usr/bin}"
BUILD_DIR="${BUILD_DIR:-/tmp/luacodec-fuzz}"
CORPUS="${CORPUS:-$HERE/corpus-value}"
WORK_CORPUS="${WORK_CORPUS:-$BUILD_DIR/corpus}"
ARTIFACTS="${ARTIFACTS:-$BUILD_DIR/artifacts}"
BIN="$BUILD_DIR/codec-fuzz"

mkdir -p "$BUILD_DIR/include/CLuaShims" "$WORK_CORPUS" "$ARTIFACTS"
LUA_CFLAGS="$(pkg-config --cflags lua5.4)"
LUA_LIBS="$(pkg-config --libs lua5.4)"

# Snapshot the sources first: others may be editing them during the build.
SRC="$BUILD_DIR/src"
rm -rf "$SRC" && mkdir -p "$SRC/Sources"
if [ -n "${FUZZ_REV:-}" ]; then
    git -C "$ROOT" archive "$FUZZ_REV" Sources/CLua Sources/CLuaShims Sources/LuaKit Sources/LuaCodec \
        | tar -x -C "$SRC"
    cp -r "$ROOT/Sources/ray-fuzz" "$SRC/Sources/"  # the target as it is now
    echo "== sources from $FUZZ_REV ($(git -C "$ROOT" rev-parse --short "$FUZZ_REV"))"
else
    cp -r "$ROOT/Sources/CLua" "$ROOT/Sources/CLuaShims" "$ROOT/Sources/LuaKit" "$ROOT/Sources/LuaCodec" "$ROOT/Sources/ray-fuzz" "$SRC/Sources/"
    echo "== sources from the working tree (HEAD $(git -C "$ROOT" rev-parse --short HEAD) plus local changes)"
fi

# SwiftPM synthesises CLuaShims' module map from include/; do the same here.
printf 'module CLuaShims {\n    header "%s"\n    export *\n}\n' \
    "$SRC/Sources/CLuaShims/include/clua.h" > "$BUILD_DIR/include/CLuaShims/module.modulemap"

echo "== building $BIN"
C_OBJECTS=()
for c in "$SRC"/Sources/CLuaShims/*.c; do
    o="$BUILD_DIR/obj-$(basename "$c" .c).o"
    "$SWIFT_BIN/clang" -c -g -O1 -fsanitize=fuzzer-no-link,address $LUA_CFLAGS \
        -I "$SRC/Sources/CLuaShims/include" "$c" -o "$o"
    C_OBJECTS+=("$o")
done

# One Swift module named LuaKit: LuaCodec's `import LuaKit` becomes a
# self-import (a warning, filtered out), and `package` members need a package name.
mapfile -t SWIFT_SOURCES < <(find "$SRC/Sources/LuaKit" "$SRC/Sources/LuaCodec" -name '*.swift' | sort)
# The target itself, shared with the SwiftPM build (Sources/ray-fuzz).
TARGET_SOURCES=("$SRC/Sources/ray-fuzz/ValueTarget.swift" "$SRC/Sources/ray-fuzz/SeedFiles.swift")
"$SWIFT_BIN/swiftc" -swift-version 6 -parse-as-library -g -Onone \
    -sanitize=fuzzer,address \
    -module-name LuaKit -package-name SwiftRay \
    -I "$SRC/Sources/CLua" -I "$BUILD_DIR/include/CLuaShims" \
    "${SWIFT_SOURCES[@]}" "${TARGET_SOURCES[@]}" "$HERE/codec-fuzz.swift" "${C_OBJECTS[@]}" \
    $LUA_LIBS -o "$BIN" 2> >(grep -v 'Cannot export local symbol\|ignoring import\|import LuaKit\|^ *|\|^ *[0-9]* |\|^$' >&2)

if [ -z "$(ls -A "$CORPUS" 2>/dev/null)" ]; then
    echo "== corpus $CORPUS is empty: writing seeds"
    FUZZ_WRITE_SEEDS="$CORPUS" "$BIN"
fi

if [ -n "${FUZZ_STACK_KB:-}" ]; then ulimit -s "$FUZZ_STACK_KB"; fi
export FUZZ_GC_PERIOD="${FUZZ_GC_PERIOD:-1}"
echo "== fuzzing for ${SECONDS_TO_RUN}s (seeds $CORPUS, new inputs $WORK_CORPUS, artifacts $ARTIFACTS)"
# stdin from /dev/null: decoded values can name stdlib functions that read it.
exec "$BIN" "$WORK_CORPUS" "$CORPUS" \
    -max_total_time="$SECONDS_TO_RUN" -rss_limit_mb=2048 -max_len=4096 \
    -dict="$HERE/codec.dict" -timeout=10 -print_final_stats=1 -artifact_prefix="$ARTIFACTS/" "$@" </dev/null

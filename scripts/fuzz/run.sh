#!/usr/bin/env bash
# Builds the libFuzzer target over LuaCodec's decoder and runs it.
#
#   scripts/fuzz/run.sh [seconds] [extra libFuzzer args...]   (default 300 s)
#
# Environment: BUILD_DIR (default /tmp/luacodec-fuzz) for objects and the
# binary; SWIFT_BIN (default /opt/swift/usr/bin); CORPUS (default
# scripts/fuzz/corpus, regenerated when empty); WORK_CORPUS (default
# $BUILD_DIR/corpus: new inputs go there, not into the committed seeds);
# ARTIFACTS (default $BUILD_DIR/artifacts: crash-*, leak-*, timeout-*).
# Touches nothing outside scripts/fuzz and BUILD_DIR; never uses SwiftPM.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
SECONDS_TO_RUN="${1:-300}"
shift || true
SWIFT_BIN="${SWIFT_BIN:-/opt/swift/usr/bin}"
BUILD_DIR="${BUILD_DIR:-/tmp/luacodec-fuzz}"
CORPUS="${CORPUS:-$HERE/corpus}"
WORK_CORPUS="${WORK_CORPUS:-$BUILD_DIR/corpus}"
ARTIFACTS="${ARTIFACTS:-$BUILD_DIR/artifacts}"
BIN="$BUILD_DIR/codec-fuzz"

mkdir -p "$BUILD_DIR/include/CLuaShims" "$WORK_CORPUS" "$ARTIFACTS"
LUA_CFLAGS="$(pkg-config --cflags lua5.4)"
LUA_LIBS="$(pkg-config --libs lua5.4)"

# SwiftPM synthesises CLuaShims' module map from include/; do the same here.
cat > "$BUILD_DIR/include/CLuaShims/module.modulemap" <<EOF
module CLuaShims {
    header "$ROOT/Sources/CLuaShims/include/clua.h"
    export *
}
EOF

echo "== building $BIN"
"$SWIFT_BIN/clang" -c -g -O1 -fsanitize=fuzzer-no-link,address $LUA_CFLAGS \
    -I "$ROOT/Sources/CLuaShims/include" \
    "$ROOT/Sources/CLuaShims/clua.c" -o "$BUILD_DIR/clua.o"

# One module named LuaKit: LuaCodec's `import LuaKit` becomes a self-import
# (a warning), and `package` members need a package name.
# Sources are snapshotted first: others may be editing them during the build.
rm -rf "$BUILD_DIR/src" && mkdir -p "$BUILD_DIR/src"
cp -r "$ROOT/Sources/LuaKit" "$ROOT/Sources/LuaCodec" "$BUILD_DIR/src/"
mapfile -t SWIFT_SOURCES < <(find "$BUILD_DIR/src" -name '*.swift' | sort)
"$SWIFT_BIN/swiftc" -swift-version 6 -parse-as-library -g -Onone \
    -sanitize=fuzzer,address \
    -module-name LuaKit -package-name SwiftRay \
    -I "$ROOT/Sources/CLua" -I "$BUILD_DIR/include/CLuaShims" \
    "${SWIFT_SOURCES[@]}" "$HERE/codec-fuzz.swift" "$BUILD_DIR/clua.o" \
    $LUA_LIBS -o "$BIN" 2> >(grep -v "ignoring import\|import LuaKit\|^ *|\|^ *[0-9]* |\|^$" >&2)

if [ -z "$(ls -A "$CORPUS" 2>/dev/null)" ]; then
    echo "== corpus $CORPUS is empty: writing seeds"
    FUZZ_WRITE_SEEDS="$CORPUS" "$BIN"
fi

echo "== fuzzing for ${SECONDS_TO_RUN}s (seeds $CORPUS, new inputs $WORK_CORPUS, artifacts $ARTIFACTS)"
# stdin from /dev/null: decoded values can name stdlib functions that read it.
exec "$BIN" "$WORK_CORPUS" "$CORPUS" \
    -max_total_time="$SECONDS_TO_RUN" -rss_limit_mb=2048 -max_len=4096 \
    -timeout=10 -print_final_stats=1 -artifact_prefix="$ARTIFACTS/" "$@" </dev/null

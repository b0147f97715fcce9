#!/usr/bin/env bash
# Builds Sources/ray-fuzz as a libFuzzer binary (with AddressSanitizer) in a
# scratch path of its own, so the normal build is untouched; prints its path.
#
#   scripts/fuzz/build.sh
#
# Environment:
#   FUZZ_OPTIMIZE  1: compile with -O (the frame target runs about 3x faster,
#                  the build takes about 3x longer); default -Onone
#   FUZZ_SCRATCH   scratch path (default .build-fuzz, or .build-fuzz-O with FUZZ_OPTIMIZE=1)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
if [ "${FUZZ_OPTIMIZE:-0}" = 1 ]; then
    SCRATCH="${FUZZ_SCRATCH:-.build-fuzz-O}"
    OPTIMIZE=(-Xswiftc -O)
else
    SCRATCH="${FUZZ_SCRATCH:-.build-fuzz}"
    OPTIMIZE=()
fi

# --sanitize=fuzzer makes SwiftPM link libFuzzer's main (instead of renaming
# the module's entry point), but it hands swiftc -sanitize=fuzzer and
# -sanitize=address as two flags, of which only the last counts: no coverage.
# -sanitize=fuzzer,address in one flag, last, restores it.
# ld.gold warns about every ASan helper symbol; those lines are dropped.
swift build --scratch-path "$SCRATCH" --product ray-fuzz \
    --sanitize=fuzzer --sanitize=address \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -DSWIFTRAY_FUZZ "${OPTIMIZE[@]}" 2>&1 \
    | { grep -v 'Cannot export local symbol' || true; } >&2
echo "$ROOT/$SCRATCH/debug/ray-fuzz"

#!/usr/bin/env bash
# Runs one fuzz target of Sources/ray-fuzz for a while.
#
#   scripts/fuzz/fuzz.sh TARGET [SECONDS] [extra libFuzzer args...]   (default 300 s)
#
# TARGET: frame (FrameDecoder), message (every head and peer message
# decoder) or value (LuaCodec's decoder). Starts from the committed seeds,
# scripts/fuzz/corpus-TARGET. Exits 1, naming the input, when the target
# crashed, leaked, hung or ran out of memory.
#
# Environment:
#   FUZZ_BIN   the binary (default: scripts/fuzz/build.sh builds it)
#   WORK_DIR   new inputs (WORK_DIR/corpus) and failing ones (WORK_DIR/artifacts);
#              default /tmp/ray-fuzz/TARGET, kept between runs
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TARGET="${1:?usage: fuzz.sh frame|message|value [SECONDS] [libFuzzer args...]}"
SECONDS_TO_RUN="${2:-300}"
shift $(( $# < 2 ? $# : 2 ))
case "$TARGET" in
    # 70000: room for the seed with a 64 KiB object piece (a `bulk` frame).
    frame)   OPTIONS=(-max_len=70000 -dict="$HERE/wire.dict") ;;
    message) OPTIONS=(-max_len=4096 -dict="$HERE/wire.dict") ;;
    # A full GC after every input keeps malloc/free balanced, so that
    # LeakSanitizer reports real leaks only (see ValueTarget.gcPeriod).
    value)   OPTIONS=(-max_len=4096 -dict="$HERE/codec.dict"); export FUZZ_GC_PERIOD="${FUZZ_GC_PERIOD:-1}" ;;
    *) echo "unknown target '$TARGET' (frame, message, value)" >&2; exit 2 ;;
esac
BIN="${FUZZ_BIN:-$("$HERE/build.sh")}"
WORK_DIR="${WORK_DIR:-/tmp/ray-fuzz/$TARGET}"
mkdir -p "$WORK_DIR/corpus" "$WORK_DIR/artifacts"
MARK="$WORK_DIR/.started"
touch "$MARK"

# Swift's own crash backtracer, run under ASan, reports itself instead of the
# crash; libFuzzer prints the stack.
export SWIFT_BACKTRACE=enable=no
echo "== fuzzing $TARGET for ${SECONDS_TO_RUN}s (seeds $HERE/corpus-$TARGET, new inputs $WORK_DIR/corpus)"
status=0
# stdin from /dev/null: decoded values can name stdlib functions that read it.
FUZZ_TARGET="$TARGET" "$BIN" "$WORK_DIR/corpus" "$HERE/corpus-$TARGET" \
    -max_total_time="$SECONDS_TO_RUN" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$WORK_DIR/artifacts/" "${OPTIONS[@]}" "$@" </dev/null || status=$?

found=$(find "$WORK_DIR/artifacts" -type f -newer "$MARK" | sort)
if [ "$status" -ne 0 ] || [ -n "$found" ]; then
    echo "== $TARGET: the fuzzer failed (exit $status); inputs:" >&2
    for input in $found; do
        echo "   $input ($(wc -c < "$input") bytes; replay: FUZZ_TARGET=$TARGET $BIN $input)" >&2
        # The CI machine goes away: the input itself, when small, in the log.
        if [ "$(wc -c < "$input")" -le 4096 ]; then base64 -w0 "$input" >&2; echo >&2; fi
    done
    exit 1
fi

#!/usr/bin/env bash
# The test suite's fuzzing step: builds the fuzz binary once, runs each
# target for FUZZ_SECONDS (default 60) from its committed seeds, and fails
# when any of them found a crash (fuzz.sh prints the input's path).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
FUZZ_SECONDS="${FUZZ_SECONDS:-60}"
WORK="$(mktemp -d /tmp/ray-fuzz-ci.XXXXXX)"
echo "== building the fuzz targets"
FUZZ_BIN="$("$HERE/build.sh")"
export FUZZ_BIN
failed=()
for target in frame message value; do
    log="$WORK/$target.log"
    if ! WORK_DIR="$WORK/$target" "$HERE/fuzz.sh" "$target" "$FUZZ_SECONDS" >"$log" 2>&1; then
        failed+=("$target")
    fi
    # Without libFuzzer's line per new input and its dictionary advice.
    grep -Ev '^#[0-9]+[[:space:]]+(NEW|REDUCE)|^"|^###### ' "$log" || true
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "== fuzzing found crashes in: ${failed[*]} (inputs under $WORK/*/artifacts)" >&2
    exit 1
fi
echo "== fuzzing: no crash in ${FUZZ_SECONDS}s per target"
rm -rf "$WORK"

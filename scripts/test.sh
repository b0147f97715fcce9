#!/usr/bin/env bash
# The whole test suite: set-up if needed, every Swift test, then each fuzz
# target for FUZZ_SECONDS (default 60; 0 skips fuzzing; scripts/fuzz/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
swift build --build-tests
swift test --skip-build
if [ "${FUZZ_SECONDS:-60}" != 0 ]; then
    scripts/fuzz/ci.sh
fi

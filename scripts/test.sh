#!/usr/bin/env bash
# The whole test suite: set-up if needed, then every Swift test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
swift build --build-tests
swift test --skip-build

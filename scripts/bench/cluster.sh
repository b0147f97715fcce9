#!/usr/bin/env bash
# Cluster benchmark: builds `ray` in release, starts a head and two worker
# nodes (2 CPUs each) on loopback in a session directory of its own, runs
# scripts/bench/cluster.lua attached to them, and stops every node.
set -euo pipefail
cd "$(dirname "$0")/../.."
log=$(mktemp)
if ! swift build -c release --product ray >"$log" 2>&1; then cat "$log" >&2; exit 1; fi
rm -f "$log"
ray=$PWD/.build/release/ray
export RAY_SESSION_DIR
RAY_SESSION_DIR=$(mktemp -d)
export RAY_ADDRESS="" RAY_TOKEN=""
trap '"$ray" stop --force >/dev/null 2>&1 || true; rm -rf "$RAY_SESSION_DIR"' EXIT
"$ray" start --head --port 0 --num-cpus 2 >/dev/null
address=$(cat "$RAY_SESSION_DIR/head_address")
for _ in 1 2; do "$ray" start --address "$address" --num-cpus 2 >/dev/null; done
"$ray" run --address auto scripts/bench/cluster.lua | while IFS=$'\t' read -r name value unit; do
    printf '%-52s %12s %s\n' "$name" "$value" "$unit"
done

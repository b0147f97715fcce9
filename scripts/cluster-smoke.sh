#!/usr/bin/env bash
# A cluster on this machine, end to end, in a session directory of its own:
# a head and two worker nodes on loopback, `ray status` showing all three
# alive with their resources, a wrong token refused, examples/cluster.lua
# run attached to the cluster (SPREAD over the three nodes, an object made
# on one and read on another, an actor), then `ray stop` and a check that no
# node process is left. Exits non-zero on the first failure.
# Usage: scripts/cluster-smoke.sh [path/to/ray]   (default: a release build)
set -euo pipefail
cd "$(dirname "$0")/.."
ray=${1:-}
if [ -z "$ray" ]; then
    swift build -c release --product ray >/dev/null
    ray=$PWD/.build/release/ray
fi
export RAY_SESSION_DIR; RAY_SESSION_DIR=$(mktemp -d)
unset RAY_ADDRESS RAY_TOKEN
pids=()
cleanup() {
    "$ray" stop --force >/dev/null 2>&1 || true
    for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
    rm -rf "$RAY_SESSION_DIR"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
pid_of() { sed -n 's/.*(pid \([0-9]*\)).*/\1/p' <<<"$1" | head -1; }

out=$("$ray" start --head --port 0 --num-cpus 1 --resources '{"GPU": 1}') || fail "head: $out"
pids+=("$(pid_of "$out")")
address=$(sed -n 's/^Started the head node at \([^ ]*\) .*/\1/p' <<<"$out")
[ -n "$address" ] || fail "no address in: $out"
echo "head at $address"
for cpus in 2 3; do
    out=$("$ray" start --address "$address" --num-cpus "$cpus") || fail "worker: $out"
    pids+=("$(pid_of "$out")")
done
status=$("$ray" status)
echo "$status"
grep -q "Nodes: 3 alive, 0 dead" <<<"$status" || fail "expected 3 alive nodes"
grep -q " 0/6 CPU" <<<"$status" || fail "expected 6 CPUs"
grep -q " 0/1 GPU" <<<"$status" || fail "expected 1 GPU"
if err=$("$ray" status --token wrong 2>&1); then fail "a wrong token was accepted"; fi
grep -q "wrong cluster token" <<<"$err" || fail "unclear refusal: $err"
run=$("$ray" run --address auto examples/cluster.lua) || fail "examples/cluster.lua: $run"
echo "$run"
grep -q "^3 node(s), 6 CPUs" <<<"$run" || fail "the driver did not see the 3 nodes"
[ "$(grep -c "ran 3 tasks" <<<"$run")" = 3 ] || fail "SPREAD did not reach every node"
grep -q "read on the last: 1000000 bytes" <<<"$run" || fail "the object did not cross nodes"
grep -q "counter after a call from the driver and one from a task: 2" <<<"$run" || fail "the actor"
"$ray" stop
for pid in "${pids[@]}"; do
    if kill -0 "$pid" 2>/dev/null && ! grep -q '^[^)]*) Z' "/proc/$pid/stat" 2>/dev/null; then
        fail "node process $pid still runs after ray stop"
    fi
done
echo "cluster smoke test passed"

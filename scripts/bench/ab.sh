#!/usr/bin/env bash
# Interleaved A/B of two `ray` builds on `ray microbenchmark` (and, with
# CLUSTER=1, on scripts/bench/cluster.lua across three nodes): A B, B A,
# A B... so that drift in the machine's speed, and the order within a
# pair, hit both alike. Prints each row's median for A and B, the ratio
# B/A of the medians, and the median (and range) of the rounds' own B/A.
#
#   scripts/bench/ab.sh RAY_A RAY_B [ROUNDS]        (default 3 rounds)
#
# Build the two first, e.g. `git worktree add /tmp/base <rev>` and
# `swift build -c release --product ray` in each. Environment: TESTS_TO_RUN,
# TESTS_TO_SKIP (as for `ray microbenchmark`), WARMUP and ROUND (seconds,
# default 0.5 and 1), CLUSTER=1 to add the cluster rows.
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 RAY_A RAY_B [ROUNDS]" >&2; exit 2; }
a=$(realpath "$1"); b=$(realpath "$2"); rounds=${3:-3}
here="$(cd "$(dirname "$0")" && pwd)"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

micro() {  # binary, label: "row<TAB>value" lines
    "$1" microbenchmark --warmup "${WARMUP:-0.5}" --round "${ROUND:-1}" 2>/dev/null |
        sed -n 's/^\(.*\) per second \([0-9.]*\) +- .*$/\1\t\2/p'
}

cluster() {  # binary: "row<TAB>value" lines from cluster.lua on 3 nodes
    local ray=$1 session
    session=$(mktemp -d)
    (
        export RAY_SESSION_DIR=$session RAY_ADDRESS="" RAY_TOKEN=""
        trap '"$ray" stop --force >/dev/null 2>&1 || true; rm -rf "$RAY_SESSION_DIR"' EXIT
        "$ray" start --head --port 0 --num-cpus 2 >/dev/null
        address=$(cat "$RAY_SESSION_DIR/head_address")
        for _ in 1 2; do "$ray" start --address "$address" --num-cpus 2 >/dev/null; done
        "$ray" run --address auto "$here/cluster.lua" | awk -F'\t' '{ print "cluster: " $1 " (" $3 ")\t" $2 }'
    )
}

for round in $(seq 1 "$rounds"); do
    # ABBA: odd rounds run A first, even rounds B first (on this VM the
    # first of a pair measured up to 10% slower, whichever it was).
    order="a b"; [ $((round % 2)) = 0 ] && order="b a"
    for side in $order; do
        bin=$a; [ $side = b ] && bin=$b
        echo "== round $round, $side" >&2
        { micro "$bin"; if [ "${CLUSTER:-0}" = 1 ]; then cluster "$bin"; fi; } | sed "s/^/$round\t/" >>"$out/$side"
    done
done

python3 - "$out/a" "$out/b" <<'PY'
import statistics, sys
def read(path):  # row -> {round: value}
    rows = {}
    for line in open(path):
        round_, _, rest = line.rstrip("\n").partition("\t")
        name, _, value = rest.rpartition("\t")
        try: rows.setdefault(name, {})[round_] = float(value)
        except ValueError: pass
    return rows
a, b = read(sys.argv[1]), read(sys.argv[2])
if not a or not b:
    sys.exit("ab.sh: a side produced no rows")
print("| row | A median | B median | B/A | B/A per round (median, min-max) |\n|---|---:|---:|---:|---:|")
for name in a:
    if name not in b: continue
    ma, mb = statistics.median(a[name].values()), statistics.median(b[name].values())
    ratios = sorted(b[name][r] / a[name][r] for r in a[name] if r in b[name] and a[name][r])
    spread = f"{statistics.median(ratios):.3f} ({ratios[0]:.2f}-{ratios[-1]:.2f})" if ratios else "-"
    print(f"| {name} | {ma:.2f} | {mb:.2f} | {mb / ma if ma else float('nan'):.3f} | {spread} |")
PY

#!/usr/bin/env bash
# Ray 2.60 and ours side by side on this machine, in one run:
#   1. `ray microbenchmark` of each (Ray's Ray Client rows are skipped: we
#      have no counterpart), joined by row name: Ray, ours, ours/Ray;
#   2. the same workloads in Python for Ray and in Lua for us
#      (workloads.py / workloads.lua), answers checked equal: fib(20) with
#      nested gets, a map-reduce word count (200,000 generated lines, 16 map
#      chunks, top 5), put then get of a 100 MB string;
#   3. start-up to first result (best of 3).
# Ray is installed from PyPI into a virtualenv when missing (RAY_VENV,
# default ~/.cache/swiftray/venv-ray). TESTS_TO_RUN / TESTS_TO_SKIP pick
# microbenchmark rows for both, as in Ray. PARTS picks what runs (default
# "micro workloads startup"), WORKLOADS which workloads (default "fib
# wordcount bigobject"). Output: a Markdown table.
#
# Ray's processes (raylet, GCS, workers) outlive its driver for a while and
# keep a core busy: after each Ray run the script stops them and waits until
# they are gone, so ours never runs beside them.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/bench/ray-venv.sh
log=$(mktemp)
if ! swift build -c release --product ray >"$log" 2>&1; then cat "$log" >&2; exit 1; fi
rm -f "$log"
ours=$PWD/.build/release/ray
work=$(mktemp -d)
trap '"$venv/bin/ray" stop --force >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

parts=${PARTS:-micro workloads startup}
wants() { [[ " $parts " == *" $1 "* ]]; }
touch "$work/ray.txt" "$work/ours.txt"
skip=${TESTS_TO_SKIP:-client:}
if wants micro; then
    echo "running Ray's microbenchmark (about 20 s a row) ..." >&2
    (cd "$work" && TESTS_TO_SKIP="$skip" "$venv/bin/ray" microbenchmark >ray.txt 2>ray.err) || true
    quiesce
    echo "running ours ..." >&2
    TESTS_TO_SKIP="$skip" "$ours" microbenchmark >"$work/ours.txt"
    # A side without a single row is a failed run, not a table of dashes.
    for side in ray ours; do
        if ! grep -q " per second " "$work/$side.txt"; then
            echo "error: the $side microbenchmark produced no rows; its output:" >&2
            cat "$work/$side.txt" "$work/$side.err" 2>/dev/null | tail -40 >&2
            exit 1
        fi
    done
fi

wants workloads && echo "running the workloads ..." >&2
wants workloads && for w in ${WORKLOADS:-fib wordcount bigobject}; do
    # Ray's log monitor may print lines of its own: keep the workload's.
    (cd "$work" && "$venv/bin/python" "$OLDPWD/scripts/bench/workloads.py" "$w" 2>/dev/null | grep -E "^$w(-[a-z0-9]+)?"$'\t' >"ray-$w.txt") || true
    quiesce
    "$venv/bin/ray" stop --force >/dev/null 2>&1 || true
    "$ours" scripts/bench/workloads.lua "$w" >"$work/ours-$w.txt"
    for side in ray ours; do
        if [ ! -s "$work/$side-$w.txt" ]; then
            echo "error: the $side side of workload '$w' produced no row" >&2
            exit 1
        fi
    done
done
best() {  # best wall time of 3 runs of a command, in seconds
    local b=""
    for _ in 1 2 3; do
        local s e; s=$(date +%s%N); "$@" >/dev/null 2>&1 || true; e=$(date +%s%N)
        local t=$(( e - s )); if [ -z "$b" ] || [ "$t" -lt "$b" ]; then b=$t; fi
    done
    awk -v n="$b" 'BEGIN { printf "%.4f", n / 1e9 }'
}
ray_start=0 ours_start=0
if wants startup; then
    ray_start=$(cd "$work" && best "$venv/bin/python" -c "import ray; ray.init(logging_level='ERROR'); print(ray.get(ray.remote(lambda: 1).remote()))")
    quiesce
    ours_start=$(best "$ours" -e "print(ray.get(ray.remote(function() return 1 end).remote()))")
fi

python3 - "$work" "$ray_start" "$ours_start" <<'PY'
import os, re, sys
work, ray_start, ours_start = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
row = re.compile(r"^(.*) per second (\S+)(?: \+- (\S+))?(.*)$")
def rows(path):
    out = {}
    for line in open(path):
        m = row.match(line.rstrip("\n"))
        if m: out[m.group(1)] = (m.group(2), m.group(3), m.group(4).strip())
    return out
ray, ours = rows(os.path.join(work, "ray.txt")), rows(os.path.join(work, "ours.txt"))
print("| row | Ray 2.60 | ours | ours/Ray |")
print("|---|---:|---:|---:|")
for name in list(ours):
    o = ours[name]
    r = ray.get(name)
    if o[0] == "n/a":
        print("| %s | %s | n/a %s | — |" % (name, r[0] if r else "—", o[2]))
        continue
    ratio = "—"
    if r and float(r[0]) > 0:
        x = float(o[0]) / float(r[0])
        ratio = ("%.1fx" if x >= 1 else "%.2fx") % x
    print("| %s | %s ± %s | %s ± %s | %s |" % (name, r[0] if r else "—", r[1] if r else "", o[0], o[1], ratio))
print()
print("| workload | Ray 2.60 (s) | ours (s) | Ray/ours | same answer |")
print("|---|---:|---:|---:|---|")
for w in ("fib", "wordcount", "wordcount-mapreduce", "bigobject", "bigobject-median5"):
    def read(prefix):
        # Each file holds "<workload>\t<answer>\t<seconds>" lines.
        try:
            for line in open(os.path.join(work, "%s-%s.txt" % (prefix, w.split("-")[0]))):
                name, answer, seconds = line.rstrip("\n").split("\t")
                if name == w:
                    return answer, float(seconds)
        except Exception:
            pass
        return None, None
    ra, rs = read("ray"); oa, os_ = read("ours")
    same = "yes" if ra is not None and ra == oa else "NO (%s vs %s)" % (ra, oa)
    speed = (("%.1fx" if rs / os_ >= 1 else "%.2fx") % (rs / os_)) if rs and os_ else "—"
    print("| %s | %s | %s | %s | %s |" % (w, "%.3f" % rs if rs else "—", "%.3f" % os_ if os_ else "—", speed, same))
if ours_start > 0:
    print("| start-up to first result | %.3f | %.3f | %.1fx | yes |" % (ray_start, ours_start, ray_start / ours_start))
PY

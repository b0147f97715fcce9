#!/usr/bin/env bash
# Runtime benchmark: builds `ray` in release and prints issue 3's rows on
# this machine — throughput rows from scripts/bench/runtime.lua (2 CPUs),
# then start-up time and the peak RSS of an idle runtime.
set -euo pipefail
cd "$(dirname "$0")/../.."
log=$(mktemp)
if ! swift build -c release --product ray >"$log" 2>&1; then cat "$log" >&2; exit 1; fi
rm -f "$log"
ray=.build/release/ray
probe=$(mktemp)
cc -O2 -o "$probe" scripts/bench/wakeup.c -lpthread
"$probe" | while IFS=$'\t' read -r name value unit; do printf '%-44s %12s %s\n' "$name" "$value" "$unit"; done
rm -f "$probe"
$ray --num-cpus 2 scripts/bench/runtime.lua | while IFS=$'\t' read -r name value unit; do
    printf '%-44s %12s %s\n' "$name" "$value" "$unit"
done
# Start-up to first output: best of 10 runs of `ray -e 'print(1)'`.
best=""
for _ in $(seq 10); do
    start=$(date +%s%N); $ray -e 'print(1)' >/dev/null; end=$(date +%s%N)
    ms=$(( (end - start) / 1000 ))
    if [ -z "$best" ] || [ "$ms" -lt "$best" ]; then best=$ms; fi
done
printf '%-44s %12s %s\n' "ray -e 'print(1)' wall time" "$(awk -v u="$best" 'BEGIN { printf "%.1f", u / 1000 }')" "ms"
if [ -x /usr/bin/time ]; then
    rss=$(/usr/bin/time -f '%M' $ray --num-cpus 2 -e 'ray.sleep(0.2)' 2>&1 >/dev/null | tail -1)
    printf '%-44s %12s %s\n' "peak RSS of an idle runtime (2 workers)" "$(( rss / 1024 ))" "MB"
    start=$(date +%s%N)
    rss=$(/usr/bin/time -f '%M' $ray --num-cpus 2 scripts/bench/memory.lua 2>&1 >/dev/null | tail -1)
    end=$(date +%s%N)
    printf '%-44s %12s %s (%s s)\n' "peak RSS, 1M no-op tasks in batches of 10k" "$(( rss / 1024 ))" "MB" \
        "$(awk -v n="$(( (end - start) / 1000000 ))" 'BEGIN { printf "%.1f", n / 1000 }')"
fi

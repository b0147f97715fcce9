#!/usr/bin/env bash
# Ray 2.60 and ours side by side on a 3-node cluster on this machine (2
# CPUs a node), in one run: scripts/bench/cluster_ray.py on a Ray cluster
# (ray.cluster_utils), then scripts/bench/cluster.sh on ours, joined by row
# as a Markdown table with ours/Ray (for the round trip, Ray/ours: lower is
# better). RAY_VENV as in compare-ray.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/bench/ray-venv.sh
work=$(mktemp -d)
trap '"$venv/bin/ray" stop --force >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
echo "running Ray's cluster rows ..." >&2
(cd "$work" && "$venv/bin/python" "$OLDPWD/scripts/bench/cluster_ray.py" 2>"$work/ray.err" | grep -P '\t' >"$work/ray.txt") || true
quiesce
echo "running ours ..." >&2
scripts/bench/cluster.sh | sed -E 's/ {2,}([0-9.]+) (.*)$/\t\1\t\2/' >"$work/ours.txt"
echo "| row | Ray 2.60 | ours | better by |"
echo "|---|---|---|---|"
while IFS=$'\t' read -r name ours unit; do
    name=$(sed -E 's/ +$//' <<<"$name")
    theirs=$(awk -F'\t' -v n="$name" '$1 == n { print $2 }' "$work/ray.txt")
    if [ -z "$theirs" ]; then echo "| $name | - | $ours $unit | - |"; continue; fi
    if [ "$unit" = "us" ]; then ratio=$(awk -v a="$theirs" -v b="$ours" 'BEGIN { printf "%.1fx", a / b }')
    else ratio=$(awk -v a="$ours" -v b="$theirs" 'BEGIN { printf "%.1fx", a / b }'); fi
    echo "| $name | $theirs $unit | $ours $unit | $ratio |"
done <"$work/ours.txt"

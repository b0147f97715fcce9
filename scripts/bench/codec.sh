#!/usr/bin/env bash
# Codec benchmark: builds codec-bench in release, runs it and the Python
# peers (pickle for values, cloudpickle for functions) on this machine in one
# run, and prints row, ours, peer and the ratio peer/ours (higher = we are
# faster); then the Lua C API's own floor per table element on this machine.
# Arguments select rows by name (e.g. `codec.sh 10-element`).
set -euo pipefail
cd "$(dirname "$0")/../.."
log=$(mktemp)
if ! swift build -c release --product codec-bench >"$log" 2>&1; then
    cat "$log" >&2
    exit 1
fi
rm -f "$log"
# Pin to one CPU when possible: this VM's timings swing by a third otherwise.
pin=()
if command -v taskset >/dev/null 2>&1; then pin=(taskset -c "$(($(nproc) - 1))"); fi
ours=$("${pin[@]}" .build/release/codec-bench "$@")
if python3 -c 'import cloudpickle' 2>/dev/null; then
    peers=$("${pin[@]}" python3 scripts/bench/codec_peers.py)
else
    peers=""
    echo "(cloudpickle not installed: pip install cloudpickle for the peer column)" >&2
fi
printf '%-40s %12s %14s %8s\n' "row" "ours (ns)" "python (ns)" "ratio"
while IFS=$'\t' read -r name ns; do
    peer=$(printf '%s\n' "$peers" | awk -F'\t' -v n="$name" '$1 == n { print $2 }')
    if [ -n "$peer" ]; then
        ratio=$(awk -v a="$peer" -v b="$ns" 'BEGIN { printf "%.1fx", a / b }')
    else
        peer="-"; ratio="-"
    fi
    printf '%-40s %12s %14s %8s\n' "$name" "$ns" "$peer" "$ratio"
done <<< "$ours"

# What the Lua C API alone costs per element here (see lua_api_floor.c).
floor_bin=$(mktemp)
if cc -O2 scripts/bench/lua_api_floor.c -o "$floor_bin" $(pkg-config --cflags --libs lua5.4) 2>/dev/null; then
    echo
    "${pin[@]}" "$floor_bin" | while IFS=$'\t' read -r name ns; do printf '%-56s %8s ns\n' "$name" "$ns"; done
fi
rm -f "$floor_bin"

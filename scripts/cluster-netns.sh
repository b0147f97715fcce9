#!/usr/bin/env bash
# A 3-node cluster with distinct addresses: the head and two workers each
# in a network namespace of their own (10.213.N.1-3 on a bridge), the driver
# in the head's. Runs the Lua contract scripts and the cross-node placement
# script attached to it, checks that ray.nodes() shows three addresses, and
# removes the namespaces and the bridge whatever happens. Needs root and
# iproute2 (`ip netns`). Exit status 77: namespaces are not available here
# (or cannot reach each other), nothing was tested.
# Usage: scripts/cluster-netns.sh [path/to/ray]   (default: a release build)
set -euo pipefail
cd "$(dirname "$0")/.."
ray=${1:-}
if [ -z "$ray" ]; then
    swift build -c release --product ray >/dev/null
    ray=$PWD/.build/release/ray
fi
skip() { echo "skipped: $*" >&2; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root"
command -v ip >/dev/null || skip "needs iproute2"
# Names no other run uses (checked): a random tag; only what this run
# created is removed.
for _ in 1 2 3 4 5; do
    tag=$(( $(od -An -N4 -tu4 /dev/urandom) % 100000 ))
    ip link show "srb$tag" >/dev/null 2>&1 || ip netns list | grep -q "^srn$tag-" || break
done
net="10.213.$(( tag % 250 ))"
bridge="srb$tag"
spaces=("srn$tag-1" "srn$tag-2" "srn$tag-3")
created_bridge=no
created_spaces=()
export RAY_SESSION_DIR; RAY_SESSION_DIR=$(mktemp -d)
unset RAY_ADDRESS RAY_TOKEN
cleanup() {
    "$ray" stop --force >/dev/null 2>&1 || true
    for ns in "${created_spaces[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
    if [ "$created_bridge" = yes ]; then ip link del "$bridge" 2>/dev/null || true; fi
    rm -rf "$RAY_SESSION_DIR"
}
trap cleanup EXIT
network() {  # any step that fails means namespaces cannot be used here
    ip link add "$bridge" type bridge || return 1
    created_bridge=yes
    ip link set "$bridge" up || return 1
    for i in 1 2 3; do
        local ns=${spaces[$((i - 1))]}
        ip netns add "$ns" || return 1
        created_spaces+=("$ns")
        ip link add "srv$tag-$i" type veth peer name eth0 netns "$ns" &&
            ip link set "srv$tag-$i" master "$bridge" up &&
            ip -n "$ns" addr add "$net.$i/24" dev eth0 &&
            ip -n "$ns" link set eth0 up &&
            ip -n "$ns" link set lo up || return 1
    done
}
network 2>/dev/null || skip "cannot set up network namespaces and a bridge"
in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
fail() { echo "FAIL: $*" >&2; exit 1; }

out=$(in_ns "${spaces[0]}" "$ray" start --head --host "$net.1" --port 0 --num-cpus 2) || fail "head: $out"
address=$(cat "$RAY_SESSION_DIR/head_address")
# Whether this machine forwards between the namespaces at all (a firewall on
# the bridge would stop it): a plain TCP connection to the head's port.
for i in 2 3; do
    in_ns "${spaces[$((i - 1))]}" timeout 5 bash -c "exec 3<>/dev/tcp/$net.1/${address##*:}" 2>/dev/null ||
        skip "the namespaces cannot reach each other on this machine"
done
for i in 2 3; do
    out=$(in_ns "${spaces[$((i - 1))]}" "$ray" start --address "$address" --host "$net.$i" --num-cpus 2 2>&1) ||
        fail "worker $i: $out"
done
echo "head at $address"
addresses=$(in_ns "${spaces[0]}" "$ray" run --address auto -e '
  local seen = {}
  for _, node in ipairs(ray.nodes()) do seen[#seen + 1] = node.address:match("^(.*):") end
  table.sort(seen)
  print(table.concat(seen, " "))')
echo "node addresses: $addresses"
[ "$addresses" = "$net.1 $net.2 $net.3" ] || fail "expected three distinct addresses, got: $addresses"
scripts=(tasks.lua actors.lua actor_lifecycle.lua blocking.lua cancel.lua "nested.lua 15" prints.lua cluster/placement.lua)
for entry in "${scripts[@]}"; do
    read -r script args <<<"$entry"
    # shellcheck disable=SC2086
    if ! out=$(in_ns "${spaces[0]}" "$ray" run --address auto "Tests/RayCLITests/Scripts/$script" $args 2>&1 >/dev/null); then
        fail "$script: $out"
    fi
    echo "ok $script"
done
"$ray" stop >/dev/null
echo "namespaced cluster test passed"

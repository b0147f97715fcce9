# Sourced by the Ray comparison scripts: sets `venv` to a virtualenv with
# Ray 2.60 (RAY_VENV, default ~/.cache/swiftray/venv-ray), installing it
# from PyPI when missing, and defines `quiesce`, which stops Ray's processes
# and waits (at most 60 s) until none is left: they outlive the driver and
# keep a core busy.
venv=${RAY_VENV:-$HOME/.cache/swiftray/venv-ray}
# ray[default], not ray alone: `ray microbenchmark` imports grpc (and the
# dashboard's aiohttp); without them it dies on import and every Ray cell
# came out empty. A venv that cannot import them is completed.
if [ ! -x "$venv/bin/ray" ] || ! "$venv/bin/python" -c 'import ray, grpc, aiohttp' >/dev/null 2>&1; then
    echo "installing Ray 2.60.0 (with its default extras) into $venv ..." >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q 'ray[default]==2.60.0' numpy >&2
    if ! "$venv/bin/python" -c 'import ray, grpc, aiohttp' >&2; then
        echo "error: Ray in $venv still cannot import what its microbenchmark needs (see above)" >&2
        exit 1
    fi
fi
quiesce() {
    "$venv/bin/ray" stop --force >/dev/null 2>&1 || true
    for _ in $(seq 600); do
        pgrep -f 'raylet|gcs_server|default_worker|ray::' >/dev/null || return 0
        sleep 0.1
    done
    echo "warning: Ray processes still running" >&2
}

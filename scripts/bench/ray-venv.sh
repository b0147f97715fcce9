# Sourced by the Ray comparison scripts: sets `venv` to a virtualenv with
# Ray 2.60 (RAY_VENV, default ~/.cache/swiftray/venv-ray), installing it
# from PyPI when missing, and defines `quiesce`, which stops Ray's processes
# and waits (at most 60 s) until none is left: they outlive the driver and
# keep a core busy.
venv=${RAY_VENV:-$HOME/.cache/swiftray/venv-ray}
if [ ! -x "$venv/bin/ray" ]; then
    echo "installing Ray 2.60.0 into $venv ..." >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q 'ray==2.60.0' numpy >&2
fi
quiesce() {
    "$venv/bin/ray" stop --force >/dev/null 2>&1 || true
    for _ in $(seq 600); do
        pgrep -f 'raylet|gcs_server|default_worker|ray::' >/dev/null || return 0
        sleep 0.1
    done
    echo "warning: Ray processes still running" >&2
}

#!/usr/bin/env bash
# Installs the system packages the build and tests need, when missing:
# Lua 5.4 (headers, library, pkg-config file), libedit (the REPL's line
# editing) and pkg-config itself.
# Python's cloudpickle is optional (benchmark peer column only).
set -euo pipefail
missing=()
pkg-config --exists lua5.4 2>/dev/null || missing+=(liblua5.4-dev)
pkg-config --exists libedit 2>/dev/null || missing+=(libedit-dev)
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
    $SUDO apt-get update
    $SUDO apt-get install -y "${missing[@]}"
fi
pkg-config --modversion lua5.4 >/dev/null

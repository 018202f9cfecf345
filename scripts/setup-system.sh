#!/usr/bin/env bash
# Install the system packages hubfs needs on Debian (run as root; a no-op when present):
# FUSE 3 and its headers for pyfuse3, a compiler and Python headers to build it,
# venv support, and rsync/tar used by the tests and the demo.
set -euo pipefail
python=${PYTHON:-python3}
packages=(fuse3 libfuse3-dev pkg-config gcc rsync tar)
missing=()
for package in "${packages[@]}"; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if ! command -v "$python" >/dev/null 2>&1; then
    missing+=(python3 python3-venv python3-dev)
else
    "$python" -c 'import ensurepip, venv' >/dev/null 2>&1 || missing+=(python3-venv)
    include=$("$python" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
    [ -f "$include/Python.h" ] || missing+=(python3-dev)
fi
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup-system: installing ${missing[*]}"
    if [ "$(id -u)" -ne 0 ]; then
        echo "setup-system: need root to install ${missing[*]}" >&2
        exit 1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
[ -e /dev/fuse ] || echo "setup-system: warning: /dev/fuse is missing; mounts will fail" >&2

#!/usr/bin/env bash
# Peer comparison of IOC-extraction throughput: threatdesk against ioc-finder,
# iocsearcher and iocextract (Python, from PyPI), on one corpus, in one run.
#
#   cargo build --release -p threatdesk && cargo build --release -p threatdesk-extract --example timing
#   scripts/bench-ioc-peers.sh [--rounds N] [--corpus DIR] [--json PATH] [--tools LIST]
#
# Creates (or reuses) a virtualenv at target/peer-venv with the peers, prints
# their versions, then runs scripts/bench_ioc_peers.py with that venv's python,
# passing the arguments through. See that script for the method.
#
# Environment:
#   THREATDESK_BIN      binary to benchmark (default target/release/threatdesk)
#   PEER_VENV_UPGRADE=1 reinstall/upgrade the peers in an existing venv
#
# Needs python3 with the venv module and, on the first run, access to PyPI.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

bin="${THREATDESK_BIN:-$repo_root/target/release/threatdesk}"
if [[ ! -x "$bin" ]]; then
    echo "error: threatdesk binary not found at $bin" >&2
    echo "       build it first:  cargo build --release -p threatdesk" >&2
    exit 1
fi

venv="$repo_root/target/peer-venv"
py="$venv/bin/python"
# iocextract 1.16.1 imports requests at module load without declaring it as a
# dependency, hence requests in this list.
peers=(ioc-finder iocsearcher iocextract requests)

if [[ ! -x "$py" ]]; then
    echo "creating virtualenv $venv"
    rm -rf "$venv"
    python3 -m venv "$venv"
fi

if [[ "${PEER_VENV_UPGRADE:-0}" == 1 ]] \
    || ! "$py" -c 'import ioc_finder, iocsearcher.searcher, iocextract' >/dev/null 2>&1; then
    echo "installing ${peers[*]} into $venv"
    "$py" -m pip install --disable-pip-version-check --quiet --upgrade "${peers[@]}"
fi

"$py" - <<'EOF'
import importlib.metadata as m
import platform
print("python " + platform.python_version() + "; peers: " + ", ".join(
    f"{d} {m.version(d)}" for d in ("ioc-finder", "iocsearcher", "iocextract")))
EOF

exec "$py" "$repo_root/scripts/bench_ioc_peers.py" --bin "$bin" "$@"

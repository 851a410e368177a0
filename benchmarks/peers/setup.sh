#!/usr/bin/env bash
# Create the peers' virtual environments (never the project's): benchmarks/peers/.venv-haystack and
# benchmarks/peers/.venv-txtai (gitignored). torch==2.13.0 (the CPU wheel) goes in first so that no
# peer pulls a CUDA build; then the pinned requirements of each peer.
#
#   bash benchmarks/peers/setup.sh              # both
#   bash benchmarks/peers/setup.sh haystack     # one
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
python="${PYTHON:-python3.11}"
peers=("$@")
[ ${#peers[@]} -eq 0 ] && peers=(haystack txtai)
for peer in "${peers[@]}"; do
    venv="$here/.venv-$peer"
    [ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install -q --upgrade pip
    nice -n 10 "$venv/bin/python" -m pip install -q torch==2.13.0
    nice -n 10 "$venv/bin/python" -m pip install -q -r "$here/requirements-$peer.txt"
    echo "$peer: $venv"
    "$venv/bin/python" -m pip freeze | grep -iE "^(torch|transformers|sentence-transformers|haystack-ai|transformers-haystack|sentence-transformers-haystack|txtai|faiss-cpu|numpy)=="
done

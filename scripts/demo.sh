#!/usr/bin/env bash
# The README demo command: installs what is missing, builds normlab and trains
# the same deep MLP with and without LayerNorm. Extra arguments go to the demo
# (try --help).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$(nproc 2>/dev/null || echo 2)" --target train_mlp >/dev/null
exec build/bin/train_mlp "$@"

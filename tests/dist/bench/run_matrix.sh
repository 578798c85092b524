#!/usr/bin/env bash
# Runs normlab_dist_bench for 1, 2 and 4 processes × none / LayerNorm /
# BatchNorm1d (local) / SyncBatchNorm and prints the markdown tables of
# docs/distributed.md (measured rows, then the cost model from the 2-process
# runs' bytes and calls). Extra arguments go to every run (e.g. --steps 100).
#   bash tests/dist/bench/run_matrix.sh [build-dir] [-- bench flags]
set -euo pipefail
build=${1:-build}
shift || true
[[ "${1:-}" == "--" ]] && shift
bench="$build/bin/normlab_dist_bench"
[[ -x "$bench" ]] || { echo "build $bench first (cmake --build $build --target normlab_dist_bench)" >&2; exit 1; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export NORMLAB_NUM_THREADS=${NORMLAB_NUM_THREADS:-1}
norms=(none layer batch sync-batch)
echo "| norm | processes | global batch | test accuracy | step ms | compute ms | gradient sync ms | norm sync ms | gradient bytes/step (calls) | norm bytes/step (calls) | ranks in sync | one small allreduce µs | one gradient allreduce ms |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
for np in 1 2 4; do
  for norm in "${norms[@]}"; do
    mpirun -np "$np" "$bench" --norm "$norm" --format row "$@" 2>/dev/null
  done
done
echo
echo "| norm | processes (modeled) | gradient sync ms | norm sync ms | step ms | communication share |"
echo "|---|---|---|---|---|---|"
for norm in layer sync-batch; do
  mpirun -np 2 "$bench" --norm "$norm" --format cost "$@" 2>/dev/null
done

#!/usr/bin/env bash
# The example-based tables of docs/distributed.md: mlp_norm --distributed on
# Fashion-MNIST with 1, 2 and 4 processes at a fixed global batch (LayerNorm,
# SyncBatchNorm, local BatchNorm1d), then char_lm --distributed (ln-lstm) with
# 1 and 2 processes. One thread per process; markdown rows on stdout, each
# run's JSON line and files under $out.
#   bash tests/dist/bench/run_examples.sh [build-dir] [mlp|lm|all] [-- extra mlp_norm flags]
#   GLOBAL_BATCH=16 LR=0.0125 bash tests/dist/bench/run_examples.sh build mlp
set -euo pipefail
build=${1:-build}
what=${2:-all}
shift 2 || shift $# || true
[[ "${1:-}" == "--" ]] && shift
command -v jq > /dev/null || { echo "this script reads the programs' JSON with jq: apt-get install jq" >&2; exit 1; }
for program in mlp_norm char_lm; do
  [[ -x "$build/bin/$program" ]] || { echo "build $build/bin/$program first" >&2; exit 1; }
done
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export NORMLAB_NUM_THREADS=1
out=${OUT:-results/dist_examples}
global=${GLOBAL_BATCH:-128}
lr=${LR:-0.05}
mkdir -p "$out"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

# | norm | processes | batch per process | test acc | test loss | train loss | seconds | step ms | compute ms |
#   gradient sync ms | norm sync ms | gradient bytes/step (calls) | norm bytes/step (calls) | ranks in sync |
row() {
  jq -r --arg norm "$1" '"| \($norm) | \(.processes) | \(.batch_size) | \(.test_acc*10000|round/10000) | " +
    "\(.test_loss*10000|round/10000) | \(.train_loss*10000|round/10000) | \(.seconds*10|round/10) | " +
    "\(.per_step.step_ms*100|round/100) | \(.per_step.compute_ms*100|round/100) | " +
    "\(.per_step.gradient_sync_ms*100|round/100) | \(.per_step.norm_sync_ms*100|round/100) | " +
    "\(.per_step.gradient_sync_bytes) (\(.per_step.gradient_sync_calls)) | " +
    "\(.per_step.norm_sync_bytes) (\(.per_step.norm_sync_calls)) | " +
    (if .params_in_sync and .buffers_in_sync then "yes" elif .params_in_sync then "parameters" else "no" end) + " |"'
}

if [[ "$what" == mlp || "$what" == all ]]; then
  echo "| norm | processes | batch per process | test acc | test loss | train loss | seconds | step ms | compute ms | gradient sync ms | norm sync ms | gradient bytes/step (calls) | norm bytes/step (calls) | ranks in sync |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
  for np in 1 2 4; do
    batch=$((global / np))
    for norm in layer sync-bn batch; do
      flags="--norm $norm"
      [[ $norm == sync-bn ]] && flags="--norm batch --sync-bn"
      [[ $norm == sync-bn && $np == 1 ]] && continue  # one process: SyncBatchNorm is BatchNorm1d exactly
      dir="$out/mlp_g${global}_${norm}_np${np}"
      mpirun -np "$np" "$build/bin/mlp_norm" --distributed $flags --batch-size "$batch" --lr "$lr" --out "$dir" "$@" \
        2> "$dir.log" | tail -n 1 > "$dir.json"
      row "$norm" < "$dir.json"
    done
  done
fi

if [[ "$what" == lm || "$what" == all ]]; then
  echo
  echo "| cell | processes | global batch | val bits/char | train loss | seconds | step ms | compute ms | gradient sync ms | gradient bytes/step | norm bytes/step | ranks in sync | evaluation equal |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
  for np in 1 2; do
    dir="$out/char_lm_np${np}"
    mpirun -np "$np" "$build/bin/char_lm" --distributed --cell ln-lstm --steps "${LM_STEPS:-300}" --eval-every 100 \
      --batch-size 32 --hidden 128 --out "$dir" 2> "$dir.log" | tail -n 1 > "$dir.json"
    jq -r '"| \(.cell) | \(.processes) | \(.global_batch) | \(.val_bpc*1000|round/1000) | " +
      "\(.train_loss*1000|round/1000) | \(.seconds*10|round/10) | \(.per_step.step_ms*100|round/100) | " +
      "\(.per_step.compute_ms*100|round/100) | \(.per_step.gradient_sync_ms*100|round/100) | " +
      "\(.per_step.gradient_sync_bytes) | \(.per_step.norm_sync_bytes) | \(.params_in_sync) | \(.eval_in_sync) |"' \
      < "$dir.json"
  done
fi
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

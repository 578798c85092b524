#!/usr/bin/env bash
# The example-based tables of docs/distributed.md: mlp_norm --distributed on
# Fashion-MNIST with 1, 2 and 4 processes at a fixed global batch (LayerNorm,
# SyncBatchNorm, local BatchNorm1d), then char_lm --distributed (ln-lstm) with
# 1, 2 and 4 processes at a fixed global batch. One thread per process; markdown
# rows on stdout; the machine, the load average and every command on stderr;
# each run's JSON line, log and files under $OUT.
#   bash tests/dist/bench/run_examples.sh [build-dir] [mlp|lm|all] [-- extra mlp_norm flags]
#   GLOBAL_BATCH=16 LR=0.0125 bash tests/dist/bench/run_examples.sh build mlp -- --limit 12000
# Environment: OUT (results/dist_examples), GLOBAL_BATCH (128), LR (0.05),
# LM_STEPS (300), LM_GLOBAL_BATCH (32), LM_PROCESSES ("1 2 4").
# Needs only bash, awk and mpirun (the JSON is read by json_fields below).
set -euo pipefail
build=${1:-build}
what=${2:-all}
shift 2 || shift $# || true
[[ "${1:-}" == "--" ]] && shift
for program in mlp_norm char_lm; do
  [[ -x "$build/bin/$program" ]] || { echo "build $build/bin/$program first" >&2; exit 1; }
done
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export NORMLAB_NUM_THREADS=1 OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
out=${OUT:-results/dist_examples}
global=${GLOBAL_BATCH:-128}
lr=${LR:-0.05}
mkdir -p "$out"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(mpirun --version | head -n 1)" >&2
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

# One JSON document (the programs' compact one-line JSON) as "path<TAB>value"
# lines: "per_step.step_ms	7.11", "runs.0.cell	ln-lstm" (strings without
# their quotes, escapes left as they are). Enough for what the programs print.
json_fields() {
  awk '
    function path(   p, d) {
      p = ""
      for (d = 1; d <= depth; d++) p = p (d > 1 ? "." : "") (kind[d] == "{" ? key[d] : index_[d])
      return p
    }
    {
      s = $0; n = length(s); i = 1
      while (i <= n) {
        c = substr(s, i, 1)
        if (c == "{" || c == "[") { kind[++depth] = c; index_[depth] = 0; want_key[depth] = (c == "{"); i++ }
        else if (c == "}" || c == "]") { depth--; i++ }
        else if (c == ",") { if (kind[depth] == "[") index_[depth]++; else want_key[depth] = 1; i++ }
        else if (c == ":") { want_key[depth] = 0; i++ }
        else if (c == " " || c == "\t" || c == "\r") i++
        else if (c == "\"") {
          text = ""
          for (j = i + 1; j <= n; j++) {
            d = substr(s, j, 1)
            if (d == "\\") { text = text substr(s, j, 2); j++; continue }
            if (d == "\"") break
            text = text d
          }
          i = j + 1
          if (kind[depth] == "{" && want_key[depth]) key[depth] = text
          else print path() "\t" text
        } else {
          for (j = i; j <= n && substr(s, j, 1) !~ /[],}]/; j++) {}
          print path() "\t" substr(s, i, j - i)
          i = j
        }
      }
    }'
}

# A markdown row from a run's JSON (stdin): `format` names the fields as
# {path} or {path:precision}; {in_sync} is yes / parameters / no.
row() {
  json_fields | awk -F'\t' -v format="$1" '
    { v[$1] = $2 }
    END {
      v["in_sync"] = v["params_in_sync"] != "true" ? "no" : \
                     (v["buffers_in_sync"] == "false" || v["eval_in_sync"] == "false") ? "parameters" : "yes"
      out = format
      while (match(out, /\{[^}]*\}/)) {
        field = substr(out, RSTART + 1, RLENGTH - 2); digits = -1
        if (split(field, part, ":") == 2) { field = part[1]; digits = part[2] }
        if (!(field in v)) { print "run_examples.sh: no field " field " in the JSON" > "/dev/stderr"; exit 1 }
        value = digits >= 0 ? sprintf("%." digits "f", v[field]) : v[field]
        out = substr(out, 1, RSTART - 1) value substr(out, RSTART + RLENGTH)
      }
      print out
    }'
}

# mpirun -np <n> <program> <args...>: the command on stderr, the run's log in
# $dir.log, its JSON (the last line of stdout) in $dir.json, the row on stdout.
run() {
  local dir=$1 format=$2 np=$3
  shift 3
  echo "+ mpirun -np $np $*" >&2
  mpirun -np "$np" "$@" 2> "$dir.log" > "$dir.out"
  tail -n 1 "$dir.out" > "$dir.json"
  row "$format" < "$dir.json"
}

if [[ "$what" == mlp || "$what" == all ]]; then
  echo "| norm | processes | batch per process | test acc | test loss | train loss | seconds | step ms | compute ms | gradient sync ms | norm sync ms | other ms | slowest compute ms | gradient bytes/step (calls) | norm bytes/step (calls) | ranks in sync |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
  for np in 1 2 4; do
    batch=$((global / np))
    for norm in layer sync-bn batch; do
      flags=(--norm "$norm")
      [[ $norm == sync-bn ]] && flags=(--norm batch --sync-bn)
      [[ $norm == sync-bn && $np == 1 ]] && continue  # one process: SyncBatchNorm is BatchNorm1d exactly
      dir="$out/mlp_g${global}_${norm}_np${np}"
      run "$dir" "| $norm | {processes} | {batch_size} | {test_acc:4} | {test_loss:4} | {train_loss:4} | {seconds:1} | {per_step.step_ms:2} | {per_step.compute_ms:2} | {per_step.gradient_sync_ms:2} | {per_step.norm_sync_ms:2} | {per_step.other_comm_ms:2} | {per_step.compute_ms_max:2} | {per_step.gradient_sync_bytes:0} ({per_step.gradient_sync_calls:0}) | {per_step.norm_sync_bytes:0} ({per_step.norm_sync_calls:0}) | {in_sync} |" \
        "$np" "$build/bin/mlp_norm" --distributed "${flags[@]}" --batch-size "$batch" --lr "$lr" --out "$dir" "$@"
    done
  done
fi

if [[ "$what" == lm || "$what" == all ]]; then
  lm_global=${LM_GLOBAL_BATCH:-32}
  echo
  echo "| cell | processes | batch per process | val bits/char | train loss | seconds | step ms | compute ms | gradient sync ms | norm sync ms | other ms | slowest compute ms | gradient bytes/step (calls) | norm bytes/step | ranks in sync |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
  for np in ${LM_PROCESSES:-1 2 4}; do
    dir="$out/char_lm_g${lm_global}_np${np}"
    run "$dir" "| {cell} | {processes} | {batch_size} | {val_bpc:3} | {train_loss:3} | {seconds:1} | {per_step.step_ms:2} | {per_step.compute_ms:2} | {per_step.gradient_sync_ms:2} | {per_step.norm_sync_ms:2} | {per_step.other_comm_ms:2} | {per_step.compute_ms_max:2} | {per_step.gradient_sync_bytes:0} ({per_step.gradient_sync_calls:0}) | {per_step.norm_sync_bytes:0} | {in_sync} |" \
      "$np" "$build/bin/char_lm" --distributed --cell ln-lstm --steps "${LM_STEPS:-300}" --eval-every 100 \
      --batch-size $((lm_global / np)) --hidden 128 --sample-length 0 --out "$dir"
  done
fi
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

#!/usr/bin/env bash
# Coverage-guided fuzzing of every reader of untrusted bytes (libFuzzer,
# clang-14; docs/architecture.md, "Fuzzing"). The harnesses are
# tests/fuzz/fuzz_<target>.cpp, their committed corpora tests/fuzz/corpus/<target>/.
#
#   scripts/fuzz.sh [SECONDS [TARGET...]]     build, then fuzz each target SECONDS (default 60) in turn
#   scripts/fuzz.sh --minutes 30 [TARGET...]  the same, in minutes (the long run: docs/reliability.md)
#   scripts/fuzz.sh build                     configure and build the fuzz build only
#   scripts/fuzz.sh replay [TARGET...]        run every committed corpus file through its harness
#   scripts/fuzz.sh run SECONDS [TARGET...]   fuzz each target SECONDS from its corpus (new inputs to a scratch dir)
#   scripts/fuzz.sh seeds                     rewrite the generated seed files (tests/fuzz/make_seeds.cpp)
# Options (before the command): --build-dir DIR (default build-fuzz/),
#   --jobs N (build jobs, default nproc).
# Targets: safetensors npy idx text_corpus checkpoint (default: all).
#
# The long run keeps its growing corpus in DIR/corpus/<target>/ (seeded from
# the committed one) and writes what it finds to DIR/findings/<target>/: a
# crash-*, leak-*, oom-* or timeout-* file is an input that broke the contract.
# Reproduce one with `DIR/fuzz_<target> FILE`; once the reader is fixed, commit
# the file to tests/fuzz/corpus/<target>/ as regress_<what>, so every ctest
# run replays it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build_dir=$root/build-fuzz
jobs=$(nproc 2>/dev/null || echo 2)
all_targets=(safetensors npy idx text_corpus checkpoint)
cxx=${NORMLAB_FUZZ_CXX:-clang++-14}

usage() { sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }

while [[ $# -gt 0 ]]; do
  case $1 in
    --build-dir) build_dir=$(realpath -m "$2"); shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    -h|--help) usage ;;
    *) break ;;
  esac
done
command=${1:-60}
[[ $# -eq 0 ]] || shift

# Each input is at most 16 KiB, so no reader has reason to allocate more than a
# few MB (a gzip IDX buffer grows to at most twice the data decompressed plus
# 64 KiB); 256 MB is far beyond that, and an allocation past it is a finding.
fuzz_flags=(-rss_limit_mb=2048 -malloc_limit_mb=256 -max_len=16384 -timeout=10 -print_final_stats=1)
export LSAN_OPTIONS="suppressions=$root/scripts/lsan.supp"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export NORMLAB_NUM_THREADS=1 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1

# select_targets [TARGET...]: sets `selected` (all targets when none are named).
select_targets() {
  selected=("$@")
  [[ $# -gt 0 ]] || selected=("${all_targets[@]}")
  for t in "${selected[@]}"; do
    [[ " ${all_targets[*]} " == *" $t "* ]] || { echo "fuzz.sh: unknown target '$t' (${all_targets[*]})" >&2; exit 2; }
  done
}


build() {
  command -v "$cxx" >/dev/null || { echo "fuzz.sh: $cxx not found (apt-get install clang-14 libclang-rt-14-dev libomp-14-dev)" >&2; exit 1; }
  cmake -S "$root/tests/fuzz/project" -B "$build_dir" -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  local names=(make_fuzz_seeds)
  for t in "${all_targets[@]}"; do names+=("fuzz_$t"); done
  cmake --build "$build_dir" -j "$jobs" --target "${names[@]}"
}

harness() {
  local bin=$build_dir/fuzz_$1
  [[ -x $bin ]] || { echo "fuzz.sh: $bin is not built (scripts/fuzz.sh build)" >&2; exit 1; }
  echo "$bin"
}

replay() {
  select_targets "$@"
  for t in "${selected[@]}"; do
    local files=("$root/tests/fuzz/corpus/$t"/*)
    echo "== replay $t: ${#files[@]} files"
    local bin log
    bin=$(harness "$t")
    log=$(mktemp)
    if ! "$bin" "${fuzz_flags[@]}" "${files[@]}" >"$log" 2>&1; then
      cat "$log"
      rm -f "$log"
      echo "fuzz.sh: $t failed on a committed corpus file" >&2
      exit 1
    fi
    rm -f "$log"
  done
}

# fuzz TARGET SECONDS CORPUS_DIR
fuzz() {
  local t=$1 seconds=$2 corpus=$3 findings=$build_dir/findings/$1 bin
  bin=$(harness "$t")
  mkdir -p "$corpus" "$findings"
  echo "== fuzz $t for ${seconds}s (corpus $corpus, findings $findings/)"
  "$bin" "${fuzz_flags[@]}" -max_total_time="$seconds" -artifact_prefix="$findings/" \
    "$corpus" "$root/tests/fuzz/corpus/$t"
}

case $command in
  build) build ;;
  replay) replay "$@" ;;
  run)
    [[ $# -ge 1 && $1 =~ ^[0-9]+$ ]] || usage
    seconds=$1
    shift
    select_targets "$@"
    for t in "${selected[@]}"; do
      scratch=$(mktemp -d)
      trap 'rm -rf "$scratch"' EXIT
      fuzz "$t" "$seconds" "$scratch"
      rm -rf "$scratch"
    done
    ;;
  --minutes | [0-9]*)
    if [[ $command == --minutes ]]; then
      [[ $# -ge 1 && $1 =~ ^[0-9]+$ ]] || usage
      seconds=$(($1 * 60))
      shift
    else
      [[ $command =~ ^[0-9]+$ ]] || usage
      seconds=$command
    fi
    select_targets "$@"
    build
    for t in "${selected[@]}"; do fuzz "$t" "$seconds" "$build_dir/corpus/$t"; done
    ;;
  seeds)
    "$build_dir/make_fuzz_seeds" "$root/tests/fuzz/corpus"
    ;;
  *) usage ;;
esac

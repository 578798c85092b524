#!/usr/bin/env bash
# Soak test (docs/reliability.md): char_lm trains for MINUTES (default 20)
# under AddressSanitizer + UBSan with a checkpoint every 100 steps, while its
# resident memory and open file descriptors are sampled every 5 seconds. Then
# SIGINT stops it (the step finishes, a checkpoint is written, exit 130) and
# the script reports the memory slope after warm-up, the descriptors at start
# and end, and any sanitizer report. Not part of the README test command: it
# takes MINUTES plus the sanitizer build (build-soak/).
#   scripts/soak.sh [MINUTES]
#   scripts/soak.sh --report    only the report again, from results/soak/ as the last run left it
#   NORMLAB_SOAK_ARGS   char_lm's model and batch flags (default below)
# Output in results/soak/: samples.csv (seconds, rss_kib, peak_rss_kib, fds,
# newest checkpoint step), summary.json, soak.gp and soak.png; the run's
# stderr in char_lm.log.
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=${1:-20}
args=${NORMLAB_SOAK_ARGS:---cell ln-lstm --hidden 128 --embed 32 --batch-size 16 --seq-len 64 --eval-every 500 --eval-batches 2}
out=results/soak
jobs=$(nproc 2>/dev/null || echo 2)

newest_step() { ls "$out/ckpt" 2>/dev/null | sed -n 's/^step_\([0-9]*\)\.safetensors$/\1/p' | sort -n | tail -1; }

if [[ $minutes != --report ]]; then
[[ $minutes =~ ^[0-9]+$ && $minutes -ge 1 ]] || { echo "soak.sh: MINUTES must be a whole number >= 1" >&2; exit 2; }
echo "== Building char_lm under AddressSanitizer + UBSan (build-soak/)"
cmake -S . -B build-soak -DCMAKE_BUILD_TYPE=Debug -DNORMLAB_SANITIZE=ON -DNORMLAB_BUILD_EXAMPLES=ON >/dev/null
cmake --build build-soak -j "$jobs" --target char_lm >/dev/null

rm -rf "$out"
mkdir -p "$out"
export ASAN_OPTIONS="detect_leaks=1" UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export LSAN_OPTIONS="suppressions=$PWD/scripts/lsan.supp"
# shellcheck disable=SC2086  # args is a list of flags
build-soak/bin/char_lm --threads 1 $args --steps 10000000 --checkpoint-dir "$out/ckpt" --checkpoint-every 100 \
  --out "$out/run" 2>"$out/char_lm.log" >/dev/null &
pid=$!
start=$SECONDS
duration=$((minutes * 60))
sample() {  # one row of samples.csv; fails once the process is gone
  local status rss hwm fds
  status=$(cat "/proc/$pid/status" 2>/dev/null) || return 1
  rss=$(awk '/^VmRSS:/ {print $2}' <<<"$status")
  hwm=$(awk '/^VmHWM:/ {print $2}' <<<"$status")
  fds=$(ls "/proc/$pid/fd" 2>/dev/null | wc -l)
  echo "$((SECONDS - start)),$rss,$hwm,$fds,$(newest_step)" >>"$out/samples.csv"
}
echo "seconds,rss_kib,peak_rss_kib,fds,checkpoint_step" >"$out/samples.csv"
echo "== char_lm under ASan for $minutes min (pid $pid), sampling every 5 s into $out/samples.csv"
while ((SECONDS - start < duration)); do
  sample || { echo "soak.sh: char_lm ended early; its log:" >&2; tail -20 "$out/char_lm.log" >&2; exit 1; }
  elapsed=$((SECONDS - start))
  printf '\r  %4d / %d s  rss %s KiB  fds %s  checkpoint step %s   ' "$elapsed" "$duration" \
    "$(tail -1 "$out/samples.csv" | cut -d, -f2)" "$(tail -1 "$out/samples.csv" | cut -d, -f4)" "$(newest_step)"
  sleep 5
done
echo
kill -INT "$pid"
status=0
wait "$pid" || status=$?
echo "$minutes $status" >"$out/run.txt"
fi

read -r minutes status <"$out/run.txt"
duration=$((minutes * 60))

# Least-squares slope of rss over time after warm-up (the first 10% of the
# run, at least 2 minutes or a quarter), with its standard error (RSS under ASan moves by
# several MB from sample to sample), and the mean RSS of the first and of the
# last 2 minutes after warm-up.
short=$((duration / 4 < 120 ? duration / 4 : 120))
warmup=$((duration / 10 > short ? duration / 10 : short))
read -r slope slope_se mean_first mean_last rss_end peak fds_start fds_end samples < <(awk -F, -v w="$warmup" -v end="$duration" '
  NR == 2 { fds_start = $4 }
  NR > 1 { fds_end = $4; rss_end = $2; peak = $3 }
  NR > 1 && $1 >= w { n++; t[n] = $1; r[n] = $2; st += $1; sr += $2
                      if ($1 < w + 120) { first += $2; nf++ }
                      if ($1 >= end - 120) { last += $2; nl++ } }
  END {
    mt = st / n; mr = sr / n
    for (i = 1; i <= n; i++) { stt += (t[i] - mt) ^ 2; str += (t[i] - mt) * (r[i] - mr) }
    s = str / stt
    for (i = 1; i <= n; i++) { e = r[i] - mr - s * (t[i] - mt); sse += e * e }
    printf "%.1f %.1f %d %d %d %d %d %d %d\n", s * 60, sqrt(sse / (n - 2) / stt) * 60, first / nf, last / nl,
      rss_end, peak, fds_start, fds_end, n   # slopes in KiB per minute
  }' "$out/samples.csv")
sanitizer=$(grep -c -E "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:" "$out/char_lm.log" || true)
step=$(newest_step)
cat >"$out/summary.json" <<EOF
{"minutes": $minutes, "args": "$args", "exit_status": $status, "last_checkpoint_step": ${step:-0},
 "warmup_seconds": $warmup, "samples_after_warmup": $samples, "rss_slope_kib_per_minute": $slope,
 "rss_slope_standard_error": $slope_se, "rss_kib_mean_first_2_min": $mean_first, "rss_kib_mean_last_2_min": $mean_last,
 "rss_kib_end": $rss_end, "peak_rss_kib": $peak,
 "fds_start": $fds_start, "fds_end": $fds_end, "sanitizer_reports": $sanitizer}
EOF
cat >"$out/soak.gp" <<EOF
set terminal pngcairo size 900,500 noenhanced
set output "$out/soak.png"
set datafile separator ","
set title "char_lm under ASan, checkpoint every 100 steps: resident memory"
set xlabel "minutes"
set ylabel "resident memory (MiB)"
set y2label "open file descriptors"
set ytics nomirror
set y2tics 1
set y2range [0:$((fds_end * 2 + 2))]
set yrange [0:*]
set key bottom right
set arrow from $warmup/60.0, graph 0 to $warmup/60.0, graph 1 nohead dashtype 2
plot "$out/samples.csv" using (\$1/60):(\$2/1024) skip 1 with lines lw 2 title "RSS", \\
     "" using (\$1/60):(\$3/1024) skip 1 with lines dashtype 3 title "peak RSS", \\
     "" using (\$1/60):4 skip 1 axes x1y2 with steps title "file descriptors"
EOF
if command -v gnuplot >/dev/null; then gnuplot "$out/soak.gp"; fi
echo "== Soak: $minutes min, last checkpoint at step ${step:-none}, exit status $status (130: SIGINT, as expected)"
echo "   RSS after warm-up: slope ${slope} ± ${slope_se} KiB/min; mean ${mean_first} KiB in its first 2 min," \
  "${mean_last} KiB in the last 2; peak ${peak} KiB"
echo "   file descriptors: ${fds_start} at start, ${fds_end} at the end; sanitizer reports: ${sanitizer}"
echo "   $out/summary.json, $out/samples.csv, $out/soak.png"
[[ $status == 130 && $sanitizer == 0 && $fds_start == "$fds_end" ]]

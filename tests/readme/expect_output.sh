#!/usr/bin/env bash
# expect_output.sh PROGRAM EXPECTED_FILE
# Runs PROGRAM and compares its standard output byte for byte with
# EXPECTED_FILE; on a difference prints a unified diff (expected -> actual) and
# fails. PROGRAM's standard error passes through; a nonzero exit fails too.
set -uo pipefail
if (($# != 2)); then
  echo "usage: $0 PROGRAM EXPECTED_FILE" >&2
  exit 2
fi
program=$1
expected=$2
[[ -f "$expected" ]] || { echo "FAIL: no expected-output file $expected" >&2; exit 1; }

actual=$(mktemp "${TMPDIR:-/tmp}/normlab_expect_output.XXXXXX")
trap 'rm -f "$actual"' EXIT
"$program" >"$actual"
status=$?
if ((status != 0)); then
  echo "FAIL: $program exited with status $status; its output so far:" >&2
  cat "$actual" >&2
  exit 1
fi
if ! cmp -s "$expected" "$actual"; then
  echo "FAIL: the output of $program differs from $expected (- expected, + printed):"
  diff -u --label "$expected" --label "output of $program" "$expected" "$actual"
  exit 1
fi
echo "ok: the output of $program equals $expected ($(wc -c <"$expected") bytes)"

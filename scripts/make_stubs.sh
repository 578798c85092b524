#!/usr/bin/env bash
# Writes each student stub exercises/NAME.cpp from its reference solution
# exercises/solutions/NAME.cpp: every region between `// BEGIN SOLUTION: what`
# and `// END SOLUTION` becomes `// TODO: what` (normlab-grade --stub, one
# implementation, also used by the test that holds the committed stubs equal
# to the stripped solutions: tests/grade/test_grade.cpp).
#   scripts/make_stubs.sh           rewrite the stubs
#   scripts/make_stubs.sh --check   only compare; exit 1 if a stub differs
# NORMLAB_GRADE: the normlab-grade binary (default build/bin/normlab-grade, built if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
grade=${NORMLAB_GRADE:-build/bin/normlab-grade}
if [[ ! -x $grade ]]; then
  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build build --target normlab-grade >/dev/null
fi
check=0
[[ ${1:-} == --check ]] && check=1
status=0
for solution in exercises/solutions/*.cpp; do
  stub=exercises/$(basename "$solution")
  if ((check)); then
    if ! "$grade" --stub "$solution" | diff -u "$stub" -; then
      echo "$stub is not the stripped $solution: run scripts/make_stubs.sh" >&2
      status=1
    fi
  else
    "$grade" --stub "$solution" >"$stub"
    echo "wrote $stub"
  fi
done
exit $status

#!/usr/bin/env bash
# check_readme_self_test.sh: check_readme.sh fails, naming the file and the
# first differing line, when the README and tests/readme/ drift apart; and
# expect_output.sh fails with a diff when a program prints something else.
# Works on a copy of README.md and tests/readme/ in a temporary directory.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/normlab_check_readme_self_test.XXXXXX")
trap 'rm -rf "$work"' EXIT

fresh_copy() {
  rm -rf "$work/repo"
  mkdir -p "$work/repo/tests/readme"
  cp "$root/README.md" "$work/repo/"
  cp "$root"/tests/readme/*.cpp "$root"/tests/readme/*.out "$work/repo/tests/readme/"
}
# expect_failure NAME PATTERN...: check_readme.sh must fail and print every PATTERN (grep -E).
expect_failure() {
  local name=$1; shift
  if bash "$here/check_readme.sh" "$work/repo" >"$work/log" 2>&1; then
    echo "FAIL: $name: check_readme.sh passed"; cat "$work/log"; exit 1
  fi
  for pattern in "$@"; do
    if ! grep -Eq -- "$pattern" "$work/log"; then
      echo "FAIL: $name: the message lacks /$pattern/:"; cat "$work/log"; exit 1
    fi
  done
  echo "ok: $name: $(grep -m1 FAIL "$work/log")"
}
# The README line showing line N of a tour file (N counted in the file).
readme_line() {  # FILE N
  local marker
  marker=$(grep -n -F -x "<!-- file: tests/readme/$1 -->" "$work/repo/README.md" | cut -d: -f1)
  echo $((marker + 1 + $2))
}

fresh_copy
bash "$here/check_readme.sh" "$work/repo" >"$work/log" 2>&1 || { echo "FAIL: the unchanged copy does not pass:"; cat "$work/log"; exit 1; }
echo "ok: the unchanged copy passes"

# One README line of the first program changed.
line=$(readme_line tour_basics.cpp 5)
sed -i "${line}s/randn({4, 3})/randn({4, 4})/" "$work/repo/README.md"
expect_failure "a README code line edited" "README.md:$line differs from tests/readme/tour_basics.cpp:5" "randn\(\{4, 4\}\)"

# An output line changed in the file, not in the README.
fresh_copy
sed -i '3s/0.075/0.076/' "$work/repo/tests/readme/tour_training.out"
expect_failure "an .out file edited" "README.md:$(readme_line tour_training.out 3) differs from tests/readme/tour_training.out:3"

# A line added at the end of a file.
fresh_copy
echo "// one more line" >>"$work/repo/tests/readme/tour_training.cpp"
expect_failure "a line appended to a file" "differs from tests/readme/tour_training.cpp:$(($(wc -l <"$root/tests/readme/tour_training.cpp") + 1))" "no line"

# Only the final newline missing.
fresh_copy
printf '%s' "$(cat "$work/repo/tests/readme/tour_basics.out")" >"$work/repo/tests/readme/tour_basics.out"
expect_failure "the final newline dropped" "tests/readme/tour_basics.out does not end with a newline"

# A tour file the README does not show, and a marker for a file that is not there.
fresh_copy
cp "$work/repo/tests/readme/tour_basics.cpp" "$work/repo/tests/readme/tour_extra.cpp"
expect_failure "a file missing from the README" "shows tests/readme/tour_extra.cpp 0 times"
fresh_copy
sed -i 's|<!-- file: tests/readme/tour_basics.out -->|<!-- file: tests/readme/tour_basic.out -->|' "$work/repo/README.md"
expect_failure "a marker naming no file" "shows tests/readme/tour_basic.out, which does not exist" "shows tests/readme/tour_basics.out 0 times"

# A marker not followed by a code block.
fresh_copy
line=$(grep -n -F -x "<!-- file: tests/readme/tour_basics.cpp -->" "$work/repo/README.md" | cut -d: -f1)
sed -i "$((line + 1))i\\
Some text." "$work/repo/README.md"
expect_failure "a marker without a code block" "README.md:$((line + 1)): the line after <!-- file: tests/readme/tour_basics.cpp --> must open a code block"

# expect_output.sh: equal output passes, one changed byte or a missing final newline fails with a diff.
printf 'a\nb\n' >"$work/expected"
printf '#!/bin/sh\nprintf "a\\nb\\n"\n' >"$work/print_ab"
printf '#!/bin/sh\nprintf "a\\nc\\n"\n' >"$work/print_ac"
printf '#!/bin/sh\nprintf "a\\nb"\n' >"$work/print_ab_no_newline"
printf '#!/bin/sh\nprintf "a\\nb\\n"; exit 3\n' >"$work/print_ab_exit3"
chmod +x "$work"/print_*
bash "$here/expect_output.sh" "$work/print_ab" "$work/expected" >"$work/log" 2>&1 || { echo "FAIL: expect_output.sh refuses equal output:"; cat "$work/log"; exit 1; }
echo "ok: expect_output.sh passes equal output"
for program in print_ac print_ab_no_newline print_ab_exit3; do
  if bash "$here/expect_output.sh" "$work/$program" "$work/expected" >"$work/log" 2>&1; then
    echo "FAIL: expect_output.sh passed $program"; cat "$work/log"; exit 1
  fi
  echo "ok: expect_output.sh fails $program: $(grep -m1 FAIL "$work/log")"
done
grep -q '^+c$' <(bash "$here/expect_output.sh" "$work/print_ac" "$work/expected" 2>&1) ||
  { echo "FAIL: expect_output.sh shows no diff line +c"; exit 1; }
echo "ok: all self-tests"

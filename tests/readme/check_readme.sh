#!/usr/bin/env bash
# check_readme.sh [REPO_ROOT]
# README.md shows the API-tour programs of tests/readme/ and their expected
# output. Each shown file is marked by a line
#
#   <!-- file: tests/readme/NAME -->
#
# right before a fenced code block, and the block's lines must be exactly the
# file's contents (byte for byte, final newline included). Every
# tests/readme/*.cpp and *.out must be shown exactly once. On a difference it
# names the README line, the file and the first line where they differ.
# (bash + awk: no Python here; check_readme_self_test.sh shows it failing.)
set -euo pipefail
export LC_ALL=C
root=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
readme=$root/README.md
[[ -f "$readme" ]] || { echo "FAIL: no $readme" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/normlab_check_readme.XXXXXX")
trap 'rm -rf "$work"' EXIT

# Cut each marked block out of the README into $work/block.N; the index lists
# "N<TAB>path<TAB>line of the marker<TAB>line of the block's first content line".
awk -v work="$work" '
  function fail(msg) { print "FAIL: README.md:" NR ": " msg > "/dev/stderr"; failed = 1; exit 1 }
  state == 0 && /^<!-- file: [^ ]+ -->$/ {
    path = $0; sub(/^<!-- file: /, "", path); sub(/ -->$/, "", path)
    marker = NR; state = 1; next
  }
  state == 0 && /^<!-- file:/ { fail("a marker is a line of its own: <!-- file: tests/readme/NAME -->") }
  state == 1 {
    if (!match($0, /^```+/)) fail("the line after <!-- file: " path " --> must open a code block (```)")
    fence = substr($0, 1, RLENGTH)
    n++; block = work "/block." n
    printf "" > block
    print n "\t" path "\t" marker "\t" NR + 1 > (work "/index")
    state = 2; next
  }
  state == 2 {
    if ($0 == fence) { close(block); state = 0; next }
    print $0 > block
  }
  END {
    if (failed) exit 1
    if (state == 1) { NR = marker; fail("<!-- file: " path " --> is not followed by a code block") }
    if (state == 2) { NR = marker; fail("the code block showing " path " is never closed (" fence ")") }
  }
' "$readme"
touch "$work/index"

# The first line where two files differ: its number, or 0 when every line is
# equal (then only the final newline differs).
first_difference() {
  awk -v a="$1" -v b="$2" 'BEGIN {
    for (n = 1; ; n++) {
      ra = (getline la < a); rb = (getline lb < b)
      if (ra <= 0 && rb <= 0) { print 0; exit }
      if (ra <= 0 || rb <= 0 || la != lb) { print n; exit }
    }
  }'
}
# Line n of a file, or a note that the file has fewer lines.
line_of() {
  awk -v n="$2" 'NR == n { print "  |" $0 "|"; found = 1; exit } END { if (!found) print "  (no line " n ": it ends after line " NR ")" }' "$1"
}

errors=0
shown=()
while IFS=$'\t' read -r n path marker first; do
  shown+=("$path")
  file=$root/$path
  block=$work/block.$n
  if [[ ! -f "$file" ]]; then
    echo "FAIL: README.md:$marker shows $path, which does not exist"
    errors=$((errors + 1)); continue
  fi
  if cmp -s "$file" "$block"; then
    echo "ok: README.md:$first-$((first + $(wc -l <"$block") - 1)) is $path"
    continue
  fi
  errors=$((errors + 1))
  line=$(first_difference "$file" "$block")
  if ((line == 0)); then
    echo "FAIL: $path does not end with a newline; the README block showing it (README.md:$first) does: end the file with one"
    continue
  fi
  echo "FAIL: README.md:$((first + line - 1)) differs from $path:$line (the block from README.md:$first shows $path)"
  echo " README.md:$((first + line - 1)):"
  line_of "$block" "$line"
  echo " $path:$line:"
  line_of "$file" "$line"
  echo " (diff, - README, + $path:)"
  diff -u --label "README.md block at line $first" --label "$path" "$block" "$file" | sed 's/^/  /' || true
done <"$work/index"

# Every tour file is in the README, once.
for file in "$root"/tests/readme/*.cpp "$root"/tests/readme/*.out; do
  [[ -e "$file" ]] || continue
  path=${file#"$root"/}
  count=0
  for s in "${shown[@]+"${shown[@]}"}"; do [[ "$s" == "$path" ]] && count=$((count + 1)); done
  if ((count != 1)); then
    echo "FAIL: README.md shows $path $count times; it must show it once, after a line <!-- file: $path -->"
    errors=$((errors + 1))
  fi
done
if ((${#shown[@]} == 0)); then
  echo "FAIL: README.md marks no file with <!-- file: tests/readme/NAME -->"
  errors=$((errors + 1))
fi

if ((errors > 0)); then
  echo "README.md and tests/readme/ disagree in $errors place(s): edit the file in tests/readme/ and copy it into the README (or the other way)"
  exit 1
fi
echo "ok: README.md shows the ${#shown[@]} files of tests/readme/ exactly"

#!/usr/bin/env bash
# The layering of the library, checked over every #include "..." line: each
# folder may include itself and the folders listed for it, nothing else
# (docs/architecture.md draws it). Prints every include that breaks a rule,
# naming file, line and the folders allowed, and exits 1 if there is one.
#   tests/architecture/check_includes.sh [repository root]
set -euo pipefail
root=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$root"

declare -A allowed=(
  [core]="core"
  [layers]="core"
  [optim]="core"
  [data]="core"
  [models]="layers core"
  [train]="layers optim data core"
  [dist]="layers optim core"
)

status=0
checked=0
for folder in "${!allowed[@]}"; do
  [[ -d $folder ]] || { echo "missing library folder: $folder"; status=1; continue; }
  while IFS=: read -r file line text; do
    target=$(sed -E 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"([^"]*)".*/\1/' <<<"$text")
    top=${target%%/*}
    checked=$((checked + 1))
    [[ $target == */* ]] || continue  # a sibling header by bare name stays in the folder
    ok=0
    for dir in $folder ${allowed[$folder]}; do [[ $top == "$dir" ]] && ok=1; done
    if ((!ok)); then
      echo "$file:$line: includes \"$target\" — $folder/ may include only: $folder ${allowed[$folder]}"
      status=1
    fi
  done < <(grep -rnE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$folder" --include='*.h' --include='*.cpp' || true)
done
if ((checked == 0)); then
  echo "no include lines found under $root: wrong root?"
  exit 1
fi
((status == 0)) && echo "layering holds: $checked include lines in ${#allowed[@]} library folders"
exit $status

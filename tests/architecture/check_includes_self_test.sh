#!/usr/bin/env bash
# check_includes.sh must refuse what climbs a floor: a fake tree where core/
# includes layers/ and optim/ includes layers/ (the two smells this layering
# removed) fails with both named; the same tree without them passes.
set -euo pipefail
checker="$(cd "$(dirname "$0")" && pwd)/check_includes.sh"
tree=$(mktemp -d)
trap 'rm -rf "$tree"' EXIT
for folder in core layers optim data models train dist; do mkdir -p "$tree/$folder"; done
printf '#include "core/tensor.h"\n' >"$tree/layers/module.h"
printf '#include "layers/module.h"\n#include "optim/optimizer.h"\n' >"$tree/train/checkpoint.h"
printf '#include "layers/module.h"\n' >"$tree/core/ops.h"
printf '#include "layers/module.h"\n' >"$tree/optim/checkpoint.h"
if out=$("$checker" "$tree"); then
  echo "check_includes.sh accepted core -> layers and optim -> layers:"; echo "$out"; exit 1
fi
grep -q 'core/ops.h:1: includes "layers/module.h"' <<<"$out" || { echo "core -> layers not named:"; echo "$out"; exit 1; }
grep -q 'optim/checkpoint.h:1: includes "layers/module.h"' <<<"$out" || { echo "optim -> layers not named:"; echo "$out"; exit 1; }
rm "$tree/core/ops.h" "$tree/optim/checkpoint.h"
"$checker" "$tree" >/dev/null || { echo "check_includes.sh refused a clean tree"; exit 1; }
echo "check_includes.sh refuses climbing includes and accepts the rest"

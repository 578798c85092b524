#!/usr/bin/env bash
# The README test command: installs what is missing, builds normlab in Release
# and runs the test suite, then builds it again under AddressSanitizer +
# UndefinedBehaviorSanitizer and runs the suite there too.
#   NORMLAB_SKIP_ASAN=1   skip the sanitizer build (quick local runs)
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)

bash scripts/install_deps.sh

echo "== Release build (build/)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j "$jobs"
echo "== Release tests"
ctest --test-dir build --output-on-failure -j "$jobs"

if [[ "${NORMLAB_SKIP_ASAN:-0}" == 1 ]]; then
  echo "== Sanitizer build skipped (NORMLAB_SKIP_ASAN=1)"
  exit 0
fi

echo "== AddressSanitizer + UBSan build (build-asan/)"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DNORMLAB_SANITIZE=ON -DNORMLAB_BUILD_EXAMPLES=OFF
cmake --build build-asan -j "$jobs"
echo "== Sanitizer tests"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export LSAN_OPTIONS="suppressions=$PWD/scripts/lsan.supp"
ctest --test-dir build-asan --output-on-failure -j "$jobs"
echo "== All tests passed (Release and sanitizers)"

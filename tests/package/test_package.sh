#!/usr/bin/env bash
# The installable package, tested from the outside (tests/package/CMakeLists.txt
# registers each step with ctest). Each builds tests/package/consumer/, a
# small program that trains a model with every library and prints
# "normlab <version>", runs it, and checks the version is VERSION.
#
#   test_package.sh add_subdirectory VERSION CXX SOURCE_DIR   (a) normlab built inside the consumer's build
#   test_package.sh install          VERSION BUILD_DIR PREFIX  cmake --install BUILD_DIR --prefix PREFIX; check what is there
#   test_package.sh find_package     VERSION CXX PREFIX        (b) find_package(normlab 0.2 CONFIG REQUIRED)
#   test_package.sh pkg-config       VERSION CXX PREFIX        (c) g++ ... $(pkg-config --cflags --libs normlab)
#   test_package.sh cleanup          PREFIX                    rm -rf PREFIX
#
# Consumer builds go to a fresh temporary directory, removed at the end.
# NORMLAB_PACKAGE_JOBS: parallel jobs for (a) (default 2).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
consumer=$here/consumer
mode=${1:?usage: see the top of $0}
shift

run() {  # prints the command (on stderr: the output may go to a log), then runs it
  echo "+ $*" >&2
  "$@"
}
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
# Runs the consumer and checks its first line is "normlab VERSION".
run_consumer() {  # PROGRAM VERSION
  local output
  echo "+ $1"
  output=$("$1") || fail "the consumer exited with status $?: $output"
  echo "$output"
  [[ "$(head -n 1 <<<"$output")" == "normlab $2" ]] ||
    fail "the consumer says '$(head -n 1 <<<"$output")', the project version is $2 (nl::version() and project(VERSION) disagree)"
}
new_work_dir() {
  work=$(mktemp -d "${TMPDIR:-/tmp}/normlab_package_$mode.XXXXXX")
  trap 'rm -rf "$work"' EXIT
}

case "$mode" in
  add_subdirectory)
    version=$1 cxx=$2 source=$3
    new_work_dir
    # No options: as a subproject normlab builds only its libraries (no tests,
    # examples or benchmarks). The build type "Check" adds no flags (-O0, no
    # -g): the quickest compile of the library, which is all this test times.
    run cmake -S "$consumer" -B "$work/build" -DNORMLAB_SOURCE_DIR="$source" -DCMAKE_CXX_COMPILER="$cxx" \
      -DCMAKE_BUILD_TYPE=Check >"$work/configure.log" || { cat "$work/configure.log"; fail "configure"; }
    for target in normlab_tests normlab-bench mlp_norm; do
      if cmake --build "$work/build" --target help | grep -q -w "$target"; then
        fail "add_subdirectory(normlab) made a target $target: a subproject should build only the libraries"
      fi
    done
    run cmake --build "$work/build" -j "${NORMLAB_PACKAGE_JOBS:-2}" >"$work/build.log" || { cat "$work/build.log"; fail "build"; }
    run_consumer "$work/build/consumer" "$version"
    ;;

  install)
    version=$1 build=$2 prefix=$3
    rm -rf "$prefix"
    run cmake --install "$build" --prefix "$prefix" >"$prefix.log" 2>&1 || { cat "$prefix.log"; rm -f "$prefix.log"; fail "install"; }
    rm -f "$prefix.log"
    source=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$build/CMakeCache.txt")
    [[ -d "$source" ]] || fail "no source directory in $build/CMakeCache.txt"
    # Every header of the library folders, at its path, and normlab.h.
    expected=$(cd "$source" && find normlab.h core layers optim data models dist train -name '*.h' | sort)
    installed=$(cd "$prefix/include/normlab" && find . -type f | sed 's|^\./||' | sort)
    if [[ "$expected" != "$installed" ]]; then
      diff <(echo "$expected") <(echo "$installed") || true
      fail "the installed headers (>) are not the library's headers (<)"
    fi
    echo "ok: $(wc -l <<<"$installed") headers in $prefix/include/normlab"
    for folder in core layers optim data models train dist; do
      [[ -f "$prefix/lib/libnormlab_$folder.a" ]] || fail "no $prefix/lib/libnormlab_$folder.a"
    done
    for file in cmake/normlab/normlabConfig.cmake cmake/normlab/normlabConfigVersion.cmake \
                cmake/normlab/normlabTargets.cmake pkgconfig/normlab.pc; do
      [[ -f "$prefix/lib/$file" ]] || fail "no $prefix/lib/$file"
    done
    grep -q "^ *set(PACKAGE_VERSION \"$version\")" "$prefix/lib/cmake/normlab/normlabConfigVersion.cmake" ||
      fail "normlabConfigVersion.cmake does not say version $version"
    echo "ok: 7 libraries, normlabConfig.cmake, normlabConfigVersion.cmake ($version) and normlab.pc in $prefix/lib"
    ;;

  find_package)
    version=$1 cxx=$2 prefix=$3
    new_work_dir
    run cmake -S "$consumer" -B "$work/build" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_CXX_COMPILER="$cxx" \
      -DCMAKE_BUILD_TYPE=Release >"$work/configure.log" || { cat "$work/configure.log"; fail "configure"; }
    run cmake --build "$work/build" >"$work/build.log" || { cat "$work/build.log"; fail "build"; }
    # The program uses the installed headers, not the source tree's.
    grep -q -- "-I$prefix/include/normlab\|-isystem $prefix/include/normlab" "$work/build/CMakeFiles/consumer.dir/flags.make" ||
      fail "the consumer is not compiled with $prefix/include/normlab"
    run_consumer "$work/build/consumer" "$version"
    # The version file: find_package(normlab VERSION EXACT) finds it, the next major version does not.
    mkdir "$work/versions"
    cat >"$work/versions/CMakeLists.txt" <<CMAKE
cmake_minimum_required(VERSION 3.25)
project(normlab_versions LANGUAGES CXX)
find_package(normlab $((${version%%.*} + 1)).0 CONFIG QUIET)
if(normlab_FOUND)
  message(FATAL_ERROR "find_package(normlab $((${version%%.*} + 1)).0) accepted normlab \${normlab_VERSION}")
endif()
find_package(normlab $version EXACT CONFIG REQUIRED)
message(STATUS "normlab \${normlab_VERSION} found in \${normlab_DIR}, and not as $((${version%%.*} + 1)).0")
CMAKE
    run cmake -S "$work/versions" -B "$work/versions/build" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_CXX_COMPILER="$cxx" \
      >"$work/versions.log" 2>&1 || { cat "$work/versions.log"; fail "the version check"; }
    grep "found in" "$work/versions.log"
    ;;

  pkg-config)
    version=$1 cxx=$2 prefix=$3
    new_work_dir
    export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
    echo "+ PKG_CONFIG_PATH=$PKG_CONFIG_PATH"
    pc_version=$(pkg-config --modversion normlab) || fail "pkg-config cannot read normlab.pc"
    echo "+ pkg-config --modversion normlab: $pc_version"
    [[ "$pc_version" == "$version" ]] || fail "normlab.pc says Version $pc_version, the project version is $version"
    echo "+ pkg-config --cflags --libs normlab: $(pkg-config --cflags --libs normlab)"
    # shellcheck disable=SC2046  # the flags are words
    run "$cxx" -std=c++20 -O2 "$consumer/main.cpp" $(pkg-config --cflags --libs normlab) -o "$work/consumer"
    run_consumer "$work/consumer" "$version"
    ;;

  cleanup)
    prefix=$1
    run rm -rf "$prefix"
    ;;

  *)
    fail "unknown mode $mode"
    ;;
esac
echo "ok: $mode"

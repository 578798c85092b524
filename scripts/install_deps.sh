#!/usr/bin/env bash
# Installs the Debian 12 packages normlab needs, if any are missing.
# As root it runs apt-get; otherwise it prints the exact command and stops.
set -euo pipefail

packages=(
  cmake g++ make pkg-config
  libopenblas-openmp-dev libfmt-dev catch2 libcli11-dev nlohmann-json3-dev
  libbenchmark-dev zlib1g-dev gnuplot-nox graphviz
  libopenmpi-dev openmpi-bin
  clang-14 libclang-rt-14-dev libomp-14-dev
  dataset-fashion-mnist fortunes
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
  exit 0
fi

command="apt-get install -y --no-install-recommends ${missing[*]}"
if [[ $(id -u) -ne 0 ]]; then
  echo "normlab needs these Debian packages: ${missing[*]}" >&2
  echo "Install them as root with:" >&2
  echo "  apt-get update && $command" >&2
  exit 1
fi

echo "Installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
$command

#!/usr/bin/env bash
# Installs what attnbench needs from Debian/Ubuntu packages, only if something is missing.
# CUDA is not installed here: it is expected at /usr/local/cuda (optional; without it the
# CPU paths are built).
set -euo pipefail
packages=(cmake ninja-build g++ libboost-dev libboost-program-options-dev libgtest-dev
          libbenchmark-dev libfccp-dev gnuplot-nox)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing: ${missing[*]}"
sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"

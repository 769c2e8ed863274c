#!/usr/bin/env bash
# Sets egfuse up on Debian 12 (as root): installs missing packages, configures
# and builds into ./build, then compiles the built-in example and prints its
# kernel plan. Idempotent; quiet when everything is already present.
#   bash scripts/setup.sh            # set up + run the example
#   bash scripts/setup.sh --no-example
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(meson ninja-build pkg-config cmake g++ python3 tao-pegtl-dev libboost-dev catch2 spirv-tools
          spirv-headers libvulkan-dev mesa-vulkan-drivers vulkan-tools glslang-tools graphviz
          nlohmann-json3-dev libcli11-dev clang-14 libclang-rt-14-dev libzip-dev libglpk-dev zip unzip
          ${EGFUSE_EXTRA_PACKAGES:-})
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -f build/build.ninja ]; then
  echo "setup: configuring ./build"
  meson setup build >/dev/null
fi
ninja -C build >/tmp/egfuse-build.log 2>&1 || { cat /tmp/egfuse-build.log; exit 1; }

if [ "${1:-}" != "--no-example" ]; then
  ./build/tools/egfuse/egfuse compile examples/mlp.graph
fi

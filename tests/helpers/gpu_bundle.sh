#!/usr/bin/env bash
# Builds .gpu/: what a GPU machine without network or Deno needs to run the GPU evidence script
# (tests/helpers/gpu_evidence.sh): the Deno binary (xz), single-file bundles of the parity, perf
# and bench commands (in .gpu/cli/, two levels below the root like src/cli/, so that their
# module-relative paths to benchmarks/ and datasets/ hold), the golden loss cases and Debian's
# Vulkan loader.
#
# The bundles leave out the packages with native add-ons (onnxruntime-node, tfjs-node, sharp,
# playwright-core); none is needed on the GPU path (synthetic data, cpu and webgpu backends).
# Usage: bash tests/helpers/gpu_bundle.sh   (from the repository root; needs network to npm/apt)
set -euo pipefail
G=.gpu
mkdir -p "$G/gl" "$G/cli"
grep -qx "/$G/" .git/info/exclude 2>/dev/null || echo "/$G/" >>.git/info/exclude
ext=(--external onnxruntime-node --external @tensorflow/tfjs-node --external
  @tensorflow/tfjs-node-gpu --external sharp --external playwright-core)
for cmd in parity perf bench; do
  deno bundle --quiet --platform deno "${ext[@]}" -o "$G/cli/$cmd.js" "src/cli/$cmd.ts"
  # image_folder.ts decodes JPEG/PNG folders with sharp; the GPU path never reads such folders.
  sed -i 's|^import sharp from "sharp";$|const sharp = () => { throw new Error("sharp is not in this bundle"); };|' "$G/cli/$cmd.js"
  if grep -q '^import .* from "\(sharp\|onnxruntime-node\|playwright-core\)";$' "$G/cli/$cmd.js"; then
    echo "gpu_bundle: $G/cli/$cmd.js still imports a native package statically" >&2
    exit 1
  fi
done
deno bundle --quiet --platform deno "${ext[@]}" -o "$G/cli/profile.js" tests/helpers/webgpu_profile.ts
deno_bin=$(readlink -f "$(command -v deno)")
if [ ! -s "$G/deno.xz" ] || [ "$deno_bin" -nt "$G/deno.xz" ]; then
  xz -T2 -6 -c "$deno_bin" >"$G/deno.xz.tmp" && mv "$G/deno.xz.tmp" "$G/deno.xz"
fi
gzip -9 -c ../shared/golden/amdim-loss-cases.json >"$G/amdim-loss-cases.json.gz"
if ! ls "$G"/gl/libglvnd0_*.deb >/dev/null 2>&1; then
  o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
  mkdir -p /tmp/amd64/partial
  # shellcheck disable=SC2086
  apt-get $o update >/dev/null && (cd "$G/gl" && apt-get $o download libvulkan1 libglvnd0 libegl1 libgl1 libglx0 libopengl0 libgles2)
fi
du -sh "$G"

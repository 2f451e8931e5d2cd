#!/usr/bin/env bash
# GPU evidence on a machine with an accelerator and no network or Deno (built by
# tests/helpers/gpu_bundle.sh into .gpu/): the WebGPU adapter, backend parity of webgpu against
# cpu (and the golden loss cases on both), `perf` on webgpu, the PyTorch CUDA reference of the
# same model (tests/helpers/torch_reference_bench.py), and the `smoke` benchmark end to end on
# webgpu. Each step has its own time limit, so one that hangs does not take the rest with it.
#
# Usage (repository root): OUT=DIR bash tests/helpers/gpu_evidence.sh
# Knobs: PARITY_ARGS, PERF_CONFIGS ("tiny small"), PERF_ARGS, TORCH=0 (skip PyTorch), BENCH=0.
set -uo pipefail
G=.gpu
O=${OUT:-/tmp/gpu-evidence}
mkdir -p "$O"
exec > >(tee -a "$O/gpu-evidence.log") 2>&1
T=$(mktemp -d)
stamp() { echo "== $(date -u +%H:%M:%S) $*"; }

stamp setup
# The Vulkan loader and GLVND (libGLX_nvidia, the NVIDIA Vulkan driver, needs libGLdispatch).
for f in "$G"/gl/*.deb; do dpkg -x "$f" /; done
ldconfig
if command -v deno >/dev/null && [ ! -s "$G/deno.xz" ]; then DENO=$(command -v deno); else
  DENO=$T/deno
  xz -dc "$G/deno.xz" >"$DENO" && chmod +x "$DENO"
fi
gunzip -c "$G/amdim-loss-cases.json.gz" >"$T/amdim-loss-cases.json"
export DENO_DIR=$T/deno-dir DENO_NO_UPDATE_CHECK=1 NO_COLOR=1
run() { timeout "$1" "$DENO" run -A --no-config --no-lock "${@:2}"; }
"$DENO" --version | head -1
{
  uname -a
  nproc
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null
  ldconfig -p | grep -i vulkan
} | tee "$O/machine.txt"

stamp webgpu adapter
probe='const a = await navigator.gpu?.requestAdapter({ powerPreference: "high-performance" });
console.log(JSON.stringify(a ? { ...Object.fromEntries(Object.entries(a.info ?? {})),
  description: a.info?.description, vendor: a.info?.vendor, fallback: a.isFallbackAdapter } : null));'
adapter=$(timeout 60 "$DENO" eval "$probe" 2>&1 | tail -1)
echo "adapter: $adapter"
if [ "$adapter" = "null" ] || [ -z "$adapter" ]; then
  export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
  adapter=$(timeout 60 "$DENO" eval "$probe" 2>&1 | tail -1)
  echo "adapter with VK_DRIVER_FILES=$VK_DRIVER_FILES: $adapter"
fi
echo "$adapter" >>"$O/machine.txt"

stamp parity cpu,webgpu
# shellcheck disable=SC2086
run 240 "$G/cli/parity.js" --backends cpu,webgpu ${PARITY_ARGS:---config tiny --batch 4 --steps 2} \
  --golden "$T/amdim-loss-cases.json" --out "$O/parity.json"
echo "parity exit $?"

for cfg in ${PERF_CONFIGS:-tiny small}; do
  stamp "perf webgpu $cfg"
  # shellcheck disable=SC2086
  run 150 "$G/cli/perf.js" --backend webgpu --config "$cfg" ${PERF_ARGS:-} --json |
    tail -1 | tee -a "$O/perf-webgpu.jsonl"
done

if [ "${TORCH:-1}" != 0 ]; then
  for cfg in ${PERF_CONFIGS:-tiny small}; do
    stamp "torch cuda $cfg"
    timeout 120 python3 tests/helpers/torch_reference_bench.py "$cfg" --device cuda --threads 16 |
      tail -1 | tee -a "$O/torch-cuda.jsonl"
  done
fi

if [ "${BENCH:-1}" != 0 ]; then
  stamp "bench smoke on webgpu"
  run 240 "$G/cli/bench.js" smoke --backend webgpu --results "$T/results"
  echo "bench exit $?"
  tar -C "$T/results" --exclude='checkpoints' -czf "$O/bench-smoke-webgpu.tar.gz" runs
fi
stamp done

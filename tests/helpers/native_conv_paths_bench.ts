/**
 * Per-layer timings of the native backend's two convolution paths, im2col + OpenBLAS and oneDNN,
 * for the AMDIM encoder's layer shapes (batch 64, 2 threads, the kernels' own parallel split):
 * forward, forward with the bias + ReLU epilogue, input gradient, filter gradient, ms per call
 * (mean of 20 after 3 warm-up calls). The shape rule in `conv2d.ts` (`convOnDnnl`) was chosen
 * from these. Usage: deno run -A tests/helpers/native_conv_paths_bench.ts [tiny|small]
 */
import { loadNativeBackend } from "../../src/backend/native/mod.ts";
import {
  conv2dBackpropFilter,
  conv2dBackpropInput,
  conv2dForward,
  dnnlForEveryConvolution,
} from "../../src/backend/native/conv2d.ts";
import { dnnlBound } from "../../src/backend/native/dnnl_library.ts";
import { sharedF32 } from "../../src/backend/native/thread_pool.ts";
import { squareConvGeometry } from "./native_compare.ts";

const r = await loadNativeBackend();
if (!r.ok) throw new Error(`${r.reason} (${r.hint})`);
if (!dnnlBound()) throw new Error(`oneDNN is not in use: ${r.info.convolutions}`);
console.log(`convolutions: ${r.info.convolutions}; ${r.info.threads} thread(s)`);

type Layer = [string, number, number, number, number, number];
const small = Deno.args[0] === "small";
const w = small ? 2 : 1;
const layers: Layer[] = [
  ["stem 3x3", 32, 3, 32 * w, 3, 1],
  ["1x1 at 30", 30, 32 * w, 32 * w, 1, 1],
  ["4x4/2", 30, 32 * w, 64 * w, 4, 2],
  ["1x1 at 14", 14, 64 * w, 64 * w, 1, 1],
  ["2x2/2", 14, 64 * w, 128 * w, 2, 2],
  ["1x1 at 7", 7, 128 * w, 128 * w, 1, 1],
  ["3x3 at 7", 7, 128 * w, 128 * w, 3, 1],
  ["3x3 at 5", 5, 128 * w, 128 * w, 3, 1],
  ["head 1x1", 7, 128 * w, 256 * w, 1, 1],
];

const { setDnnlEnabled } = await import("../../src/backend/native/dnnl_library.ts");
const time = (f: () => void) => {
  for (let i = 0; i < 3; i++) f();
  const t0 = performance.now();
  for (let i = 0; i < 20; i++) f();
  return ((performance.now() - t0) / 20).toFixed(2).padStart(6);
};
console.log("layer        path   fwd    fwd+epi  dx      dw   (ms per call)");
for (const [name, h, c, o, k, s] of layers) {
  const g = squareConvGeometry(64, h, c, o, k, s);
  const x = sharedF32(64 * h * h * c).fill(0.1), f = sharedF32(k * k * c * o).fill(0.01);
  const y = sharedF32(64 * g.outHeight * g.outWidth * o), b = sharedF32(o);
  const dw = sharedF32(k * k * c * o), dx = sharedF32(64 * h * h * c);
  for (const on of [false, true]) {
    setDnnlEnabled(on);
    dnnlForEveryConvolution(on);
    console.log(
      `${name.padEnd(12)} ${on ? "dnnl" : "blas"} ${time(() => conv2dForward(g, x, f, y))} ${
        time(() => conv2dForward(g, x, f, y, { bias: b, relu: true }))
      } ${time(() => conv2dBackpropInput(g, y, f, dx))} ${
        time(() => conv2dBackpropFilter(g, x, y, dw))
      }`,
    );
  }
  setDnnlEnabled(true);
  dnnlForEveryConvolution(false);
}
Deno.exit(0);

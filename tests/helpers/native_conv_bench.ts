/**
 * Per-shape GFLOP/s of the native conv kernels at the AMDIM 32-px encoder shapes (min of N runs),
 * timed by process CPU time (so a loaded machine distorts it less), next to a bare SGEMM of the
 * forward's GEMM shape (what the convolution would cost without im2col).
 * Usage: deno run -A tests/helpers/native_conv_bench.ts [ndf=32] [nRkhs=256] [batch=64] [reps=5]
 */
import * as tf from "@tensorflow/tfjs";
import { loadNativeBackend } from "../../src/backend/native/mod.ts";
import { processCpuMs } from "../../src/backend/native/cpu_clock.ts";
import { sgemm } from "../../src/backend/native/gemm.ts";

const [ndf, nRkhs, B, reps] = [32, 256, 64, 5].map((d, i) => Number(Deno.args[i] ?? d));
const r = await loadNativeBackend();
if (!r.ok) throw new Error(r.reason);
await tf.setBackend("native");
// [name, H, Cin, Cout, k, s]
const shapes: [string, number, number, number, number, number][] = [
  ["stem 3x3", 32, 3, ndf, 3, 1],
  ["l1 1x1", 30, ndf, ndf, 1, 1],
  ["l2 4x4s2", 30, ndf, 2 * ndf, 4, 2],
  ["l2 1x1", 14, 2 * ndf, 2 * ndf, 1, 1],
  ["l3 2x2s2", 14, 2 * ndf, 4 * ndf, 2, 2],
  ["l3 1x1", 7, 4 * ndf, 4 * ndf, 1, 1],
  ["l5 3x3", 7, 4 * ndf, 4 * ndf, 3, 1],
  ["l5 1x1", 5, 4 * ndf, 4 * ndf, 1, 1],
  ["l6 3x3", 5, 4 * ndf, 4 * ndf, 3, 1],
  ["l7 3x3", 3, 4 * ndf, nRkhs, 3, 1],
  ["r7 1x1 a", 7, 4 * ndf, nRkhs, 1, 1],
  ["r7 1x1 b", 7, nRkhs, nRkhs, 1, 1],
];
const time = (f: () => void) => {
  let best = Infinity;
  for (let i = 0; i < reps; i++) {
    const t0 = processCpuMs();
    f();
    best = Math.min(best, processCpuMs() - t0);
  }
  return best;
};
console.log(`native conv kernels, batch ${B}, threads ${r.info.threads}, min of ${reps}`);
console.log("layer        fwd ms  GF/s | dx ms  GF/s | dw ms  GF/s | gemm ms GF/s");
let total = 0, flopsAll = 0;
for (const [name, H, ci, co, k, s] of shapes) {
  const x = tf.randomUniform([B, H, H, ci]) as tf.Tensor4D;
  const w = tf.randomUniform([k, k, ci, co]) as tf.Tensor4D;
  const y = tf.conv2d(x, w, s, "valid");
  const dy = tf.randomUniform(y.shape) as tf.Tensor4D;
  const flops = 2 * y.size * k * k * ci;
  const run = (f: () => tf.Tensor) => time(() => f().dispose());
  const tf_ = run(() => tf.conv2d(x, w, s, "valid"));
  const tdx = run(() => tf.conv2dTranspose(dy, w, x.shape, s, "valid"));
  const tdw = run(() =>
    tf.engine().runKernel("Conv2DBackpropFilter", { x, dy }, {
      strides: s,
      pad: "valid",
      dataFormat: "NHWC",
      filterShape: w.shape,
    }) as tf.Tensor
  );
  const gf = (ms: number) => (flops / ms / 1e6).toFixed(1).padStart(5);
  const M = y.size / co, K = k * k * ci;
  const ga = new Float32Array(M * K).fill(0.5), gb = new Float32Array(K * co).fill(0.25);
  const gc = new Float32Array(M * co);
  const tg = time(() => sgemm(false, false, M, co, K, 1, ga, K, gb, co, 0, gc, co));
  total += tf_ + tdx + tdw;
  flopsAll += 3 * flops;
  console.log(
    `${name.padEnd(10)} ${tf_.toFixed(2).padStart(7)} ${gf(tf_)} | ${tdx.toFixed(2).padStart(5)} ${
      gf(tdx)
    } | ${tdw.toFixed(2).padStart(5)} ${gf(tdw)} | ${tg.toFixed(2).padStart(5)} ${gf(tg)}`,
  );
  tf.dispose([x, w, y, dy]);
}
console.log(`all: ${total.toFixed(1)} ms, ${(flopsAll / total / 1e6).toFixed(1)} GFLOP/s`);

import * as tf from "@tensorflow/tfjs";
import { assert, assertEquals } from "../src/testing/asserts.ts";
import { compareWithCpu, input, nativeAvailable, runOn } from "./helpers/native_compare.ts";
import { countFallbacks, fallbackCounts } from "../src/backend/native/blas_kernels.ts";
import { nativeKernelNames } from "../src/backend/native/mod.ts";

const ok = await nativeAvailable();
const opts = { ignore: !ok, sanitizeOps: false, sanitizeResources: false };

/** Values with the awkward cases the fast loops must still get exactly right. */
function special(name: string, shape: number[]) {
  const x = input(name, shape);
  const v = x.values;
  v[0] = NaN;
  v[1] = -Infinity;
  v[2] = Infinity;
  v[3] = -0;
  v[4] = 0;
  v[5] = -1e-30;
  return x;
}

function sameBits(a: ArrayLike<number>, b: ArrayLike<number>, label: string): void {
  assertEquals(a.length, b.length, label);
  for (let i = 0; i < a.length; i++) {
    if (!Object.is(a[i], b[i])) throw new Error(`${label}: [${i}] ${a[i]} != cpu ${b[i]}`);
  }
}

Deno.test({
  name: "native fused: relu, step and the relu gradient are exact, NaN and infinities included",
  ...opts,
  fn: async () => {
    const x = special("rg/x", [3, 5, 5, 4]), dy = input("rg/dy", [3, 5, 5, 4]);
    dy.values[7] = NaN;
    const build = (xt: tf.Tensor, dyt: tf.Tensor) => {
      const [gx] = tf.grads((a: tf.Tensor) => tf.mul(tf.relu(a), dyt))([xt]);
      return [tf.relu(xt), tf.step(xt), tf.step(xt, 0.5), gx];
    };
    const want = await runOn("cpu", [x, dy], build);
    const got = await runOn("native", [x, dy], build);
    for (let i = 0; i < want.length; i++) sameBits(got[i].values, want[i].values, `output ${i}`);
    // Without special values the one-pass path runs (no fix-up) and must still be exact.
    const plain = input("rg/plain", [64, 9, 9, 8]), dy2 = input("rg/dy2", [64, 9, 9, 8]);
    const w2 = await runOn("cpu", [plain, dy2], build);
    const g2 = await runOn("native", [plain, dy2], build);
    for (let i = 0; i < w2.length; i++) sameBits(g2[i].values, w2[i].values, `plain ${i}`);
    assert(nativeKernelNames().includes("NativeReluGrad"));
  },
});

Deno.test({
  name: "native fused: the Relu gradient on other backends is tfjs' own",
  ...opts,
  fn: async () => {
    await tf.setBackend("cpu");
    const x = tf.tensor1d([-1, 2, NaN, 0]);
    const g = tf.grad((a: tf.Tensor) => tf.sum(tf.relu(a)))(x);
    const v = Array.from(g.dataSync());
    assertEquals(v.slice(0, 2), [0, 1]);
    assert(Number.isNaN(v[2]));
    assertEquals(v[3], 0);
    tf.dispose([x, g]);
  },
});

Deno.test({
  name: "native fused: bool and int32 casts give float32 arrays (no cpu fallback downstream)",
  ...opts,
  fn: async () => {
    const a = input("cast/a", [16, 40]), b = input("cast/b", [16, 1]);
    const build = (at: tf.Tensor, bt: tf.Tensor) => {
      const mask = tf.cast(tf.greater(at, 0), "float32");
      const ints = tf.cast(tf.cast(tf.mul(at, 10), "int32"), "float32");
      return [tf.mul(bt, mask), tf.add(ints, at), mask];
    };
    await compareWithCpu("casts", [a, b], build, 0);
    await tf.setBackend("native");
    fallbackCounts.clear();
    countFallbacks(true);
    try {
      tf.tidy(() => {
        const [at, bt] = [tf.tensor(a.values, a.shape), tf.tensor(b.values, b.shape)];
        build(at, bt).forEach((t) => t.dataSync());
      });
    } finally {
      countFallbacks(false);
    }
    assertEquals([...fallbackCounts.keys()], []);
  },
});

Deno.test({
  name: "native fused: separable avgPool and its gradient match cpu (encoder and edge shapes)",
  ...opts,
  fn: async () => {
    // [batch, size, channels, kernel, stride]
    const cases: [number, number, number, number, number][] = [
      [2, 30, 8, 4, 2], // the 4x4/2 shortcut
      [2, 14, 4, 2, 2],
      [3, 7, 5, 3, 1],
      [2, 11, 3, 5, 3], // trailing rows no window covers
      [1, 9, 2, 2, 3], // stride > kernel: columns no window covers
      [2, 5, 6, 5, 1],
    ];
    for (const [b, s, c, k, st] of cases) {
      const x = input(`ap/${s}${k}${st}`, [b, s, s, c]);
      const oh = Math.floor((s - k) / st) + 1;
      const r = input(`ap/r${s}${k}${st}`, [b, oh, oh, c]);
      await compareWithCpu(`avgPool ${s} k${k} s${st}`, [x, r], (t, rt) => {
        const f = (a: tf.Tensor) =>
          tf.sum(tf.mul(tf.avgPool(a as tf.Tensor4D, k, st, "valid"), rt));
        return [tf.avgPool(t as tf.Tensor4D, k, st, "valid"), tf.grad(f)(t)];
      }, 1e-5);
    }
  },
});

Deno.test({
  name: "native fused: NativeAdamL2 is bit-identical to the composed Adam update",
  ...opts,
  fn: async () => {
    const p = input("adam/p", [300]), g = input("adam/g", [300], -0.01, 0.01);
    const m = input("adam/m", [300], -0.001, 0.001), v = input("adam/v", [300], 0, 1e-5);
    g.values[0] = 0;
    v.values[0] = 0;
    for (const wd of [1e-5, 0]) {
      const attrs = {
        beta1: 0.8,
        beta2: 0.999,
        weightDecay: wd,
        eps: 1e-8,
        stepSize: 2e-4 / (1 - 0.8 ** 3),
        bc2Sqrt: Math.sqrt(1 - 0.999 ** 3),
      };
      const composed = (pt: tf.Tensor, g0: tf.Tensor, mt: tf.Tensor, vt: tf.Tensor) => {
        const gt = wd !== 0 ? tf.add(g0, tf.mul(pt, wd)) : g0;
        const m1 = tf.add(tf.mul(mt, attrs.beta1), tf.mul(gt, 1 - attrs.beta1));
        const v1 = tf.add(tf.mul(vt, attrs.beta2), tf.mul(tf.square(gt), 1 - attrs.beta2));
        const denom = tf.add(tf.div(tf.sqrt(v1), attrs.bc2Sqrt), attrs.eps);
        return [tf.sub(pt, tf.mul(tf.div(m1, denom), attrs.stepSize)), m1, v1];
      };
      const fused = (pt: tf.Tensor, gt: tf.Tensor, mt: tf.Tensor, vt: tf.Tensor) =>
        tf.engine().runKernel("NativeAdamL2", { p: pt, g: gt, m: mt, v: vt }, attrs) as tf.Tensor[];
      const want = await runOn("cpu", [p, g, m, v], composed);
      const wantNative = await runOn("native", [p, g, m, v], composed);
      const got = await runOn("native", [p, g, m, v], fused);
      for (let i = 0; i < 3; i++) {
        sameBits(got[i].values, want[i].values, `wd ${wd} output ${i} vs cpu`);
        sameBits(got[i].values, wantNative[i].values, `wd ${wd} output ${i} vs native ops`);
      }
    }
  },
});

import * as tf from "@tensorflow/tfjs";
import { assert, assertEquals } from "../src/testing/asserts.ts";
import { compareWithCpu, input, nativeAvailable, runOn } from "./helpers/native_compare.ts";
import { countFallbacks, fallbackCounts } from "../src/backend/native/blas_kernels.ts";
import { nativeKernelNames } from "../src/backend/native/mod.ts";
import { batchNorm, BN_EPS } from "../src/model/batch_norm.ts";
import { convBiasRelu } from "../src/model/fused_ops.ts";
import type { StateUpdate } from "../src/model/types.ts";
import { nceDirection } from "../src/loss/nce_loss.ts";
import { evalLastJson, moduleLiteral } from "./helpers/deno_eval.ts";

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

/** Training-mode BatchNorm through the model's function, with its gradients and running stats. */
function bnTrainBuild(xt: tf.Tensor, w: tf.Tensor, b: tf.Tensor, dyt: tf.Tensor): tf.Tensor[] {
  const C = xt.shape[xt.rank - 1];
  const zeros = tf.zeros([C]), ones = tf.ones([C]);
  const vars = {
    name: "bn",
    weight: tf.variable(w, true, "bn_test.weight"),
    bias: tf.variable(b, true, "bn_test.bias"),
    runningMean: tf.variable(zeros, false, "bn_test.running_mean"),
    runningVar: tf.variable(ones, false, "bn_test.running_var"),
  };
  const updates: StateUpdate[] = [];
  const f = (a: tf.Tensor, g: tf.Tensor, be: tf.Tensor) =>
    tf.sum(
      tf.mul(
        batchNorm(a, { ...vars, weight: g as tf.Variable, bias: be as tf.Variable }, true, updates),
        dyt,
      ),
    );
  const y = batchNorm(xt, vars, true, updates);
  const grads = tf.grads(f)([xt, vars.weight, vars.bias]);
  const out = [y, ...grads, ...updates.slice(0, 2).map((u) => u.value)];
  for (const u of updates) if (!out.includes(u.value)) u.value.dispose();
  tf.dispose([vars.weight, vars.bias, vars.runningMean, vars.runningVar]);
  return out;
}

Deno.test({
  name:
    "native fused: training-mode BatchNorm matches cpu; forward bit-identical to the composed ops",
  ...opts,
  fn: async () => {
    assert(nativeKernelNames().includes("NativeBatchNormTrain"));
    for (
      const shape of [[64, 7, 7, 256], [8, 3, 3, 5], [128, 1024], [64, 1, 1, 256], [2, 30, 30, 32]]
    ) {
      const C = shape[shape.length - 1];
      const x = input(`bn/x${shape}`, shape, -3, 5), dy = input(`bn/dy${shape}`, shape);
      const w = input(`bn/w${C}`, [C], 0, 1), b = input(`bn/b${C}`, [C]);
      const worst = await compareWithCpu(`bn ${shape}`, [x, w, b, dy], bnTrainBuild, 1e-4);
      assert(worst < 1e-4, `${shape}: ${worst}`);
      // Forward on native: the fused kernel against the composed ops on the same backend.
      const composed = (xt: tf.Tensor, wt: tf.Tensor, bt: tf.Tensor) => {
        const axes = xt.rank === 4 ? [0, 1, 2] : [0];
        const { mean, variance } = tf.moments(xt, axes);
        const scale = tf.mul(wt, tf.rsqrt(tf.add(variance, BN_EPS)));
        const shift = tf.sub(bt, tf.mul(mean, scale));
        return [tf.add(tf.mul(xt, scale), shift), mean, variance];
      };
      const fused = (xt: tf.Tensor, wt: tf.Tensor, bt: tf.Tensor) =>
        tf.engine().runKernel("NativeBatchNormTrain", { x: xt, gamma: wt, beta: bt }, {
          epsilon: BN_EPS,
        }) as tf.Tensor[];
      const want = await runOn("native", [x, w, b], composed);
      const got = await runOn("native", [x, w, b], fused);
      for (let i = 0; i < 3; i++) sameBits(got[i].values, want[i].values, `${shape} output ${i}`);
    }
  },
});

Deno.test({
  name: "native fused: conv + bias + ReLU and its gradients are bit-identical to the unfused ops",
  ...opts,
  fn: async () => {
    const cases: { x: number[]; w: number[]; stride: number; bias: boolean; relu: boolean }[] = [
      { x: [4, 32, 32, 3], w: [3, 3, 3, 32], stride: 1, bias: true, relu: true },
      { x: [64, 30, 30, 32], w: [4, 4, 32, 64], stride: 2, bias: false, relu: true },
      { x: [64, 7, 7, 128], w: [1, 1, 128, 256], stride: 1, bias: true, relu: false },
      { x: [3, 5, 5, 8], w: [5, 5, 8, 16], stride: 1, bias: false, relu: false },
    ];
    for (const c of cases) {
      const label = `conv ${c.x} ${c.w} s${c.stride}${c.bias ? " bias" : ""}${
        c.relu ? " relu" : ""
      }`;
      const co = c.w[3];
      const x = input(`fc/x${c.x}`, c.x), w = input(`fc/w${c.w}`, c.w, -0.3, 0.3);
      const b = input(`fc/b${co}`, [co], -0.5, 0.5);
      const oh = Math.floor((c.x[1] - c.w[0]) / c.stride) + 1;
      const dy = input(`fc/dy${c.x}${c.w}`, [c.x[0], oh, oh, co]);
      const unfused = (xt: tf.Tensor, wt: tf.Tensor, bt: tf.Tensor) => {
        let h = tf.conv2d(xt as tf.Tensor4D, wt as tf.Tensor4D, c.stride, "valid");
        if (c.bias) h = tf.add(h, bt);
        return c.relu ? tf.relu(h) : h;
      };
      const fused = (xt: tf.Tensor, wt: tf.Tensor, bt: tf.Tensor) =>
        convBiasRelu(xt as tf.Tensor4D, wt as tf.Tensor4D, {
          stride: c.stride,
          bias: c.bias ? bt as tf.Tensor1D : undefined,
          relu: c.relu,
        });
      const withGrads =
        (f: typeof unfused) => (xt: tf.Tensor, wt: tf.Tensor, bt: tf.Tensor, d: tf.Tensor) => {
          const loss = (a: tf.Tensor, q: tf.Tensor, r?: tf.Tensor) =>
            tf.sum(tf.mul(f(a, q, r ?? bt), d));
          const grads = c.bias ? tf.grads(loss)([xt, wt, bt]) : tf.grads(loss)([xt, wt]);
          return [f(xt, wt, bt), ...grads];
        };
      const want = await runOn("native", [x, w, b, dy], withGrads(unfused));
      const got = await runOn("native", [x, w, b, dy], withGrads(fused));
      assertEquals(got.length, want.length);
      for (let i = 0; i < want.length; i++) {
        sameBits(got[i].values, want[i].values, `${label} output ${i}`);
      }
      // Against cpu (slow convolutions) on the first two images only.
      const two = (t: { shape: number[]; values: Float32Array }) => {
        const per = t.values.length / t.shape[0];
        return { shape: [2, ...t.shape.slice(1)], values: t.values.slice(0, 2 * per) };
      };
      await compareWithCpu(label, [two(x), w, b, two(dy)], withGrads(fused), 1e-4);
    }
    await tf.setBackend("native");
    const k = tf.getKernel("NativeFusedConv2D", "native");
    assert(k !== undefined, "NativeFusedConv2D registered");
  },
});

Deno.test({
  name: "native fused: AMDIM_NATIVE_FUSED=0 leaves the fused layer kernels unregistered",
  ...opts,
  fn: async () => {
    const mod = moduleLiteral("src/backend/native/mod.ts");
    const code = `
      import * as tf from "@tensorflow/tfjs";
      import { loadNativeBackend } from ${mod};
      const r = await loadNativeBackend({ threads: 1 });
      const names = ["NativeFusedConv2D", "NativeBatchNormTrain", "NativeNceScores", "NativeReluGrad"];
      console.log(JSON.stringify(names.map((n) => r.ok && !!tf.getKernel(n, "native"))));`;
    const run = (value: string) => evalLastJson(code, { AMDIM_NATIVE_FUSED: value });
    assertEquals(await run("0"), [false, false, false, true]);
    assertEquals(await run("1"), [true, true, true, true]);
  },
});

Deno.test({
  name: "native fused: the NCE score kernel and its gradient match the composed loss on cpu",
  ...opts,
  fn: async () => {
    await tf.setBackend("native");
    assert(
      tf.getKernel("NativeNceScores", "native") !== undefined,
      "the fused kernel is registered",
    );
    for (const [b, l, d] of [[16, 25, 32], [8, 49, 16], [2, 1, 4]]) {
      const src = input(`nce/src${b}`, [b, d], -2, 2), trg = input(`nce/trg${b}`, [b, l, d], -2, 2);
      await compareWithCpu(`nce B=${b} L=${l}`, [src, trg], (s, t) => {
        const f = (ss: tf.Tensor, tt: tf.Tensor) => {
          const r = nceDirection(ss as tf.Tensor2D, tt as tf.Tensor3D, 20, 0.05);
          return tf.add(tf.mul(r.loss, 0.7), tf.mul(r.reg, 1.3));
        };
        const r = nceDirection(s as tf.Tensor2D, t as tf.Tensor3D, 20, 0.05);
        return [r.loss, r.reg, ...tf.grads(f)([s, t])];
      }, 2e-5);
    }
  },
});

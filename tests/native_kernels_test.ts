import * as tf from "@tensorflow/tfjs";
import { assert, assertEquals } from "../src/testing/asserts.ts";
import { compareWithCpu, input, nativeAvailable, runOn } from "./helpers/native_compare.ts";

const ok = await nativeAvailable();
const opts = { ignore: !ok, sanitizeOps: false, sanitizeResources: false };

type Pad = "valid" | "same";
// [batch, height, width, cin, cout, kernel, stride, pad]
const CONV_CASES: [number, number, number, number, number, number, number, Pad][] = [];
for (const k of [1, 2, 3, 4, 5]) {
  for (const s of [1, 2]) {
    CONV_CASES.push([1, 11, 9, 5, 6, k, s, "valid"]);
    CONV_CASES.push([64, 7, 7, 2, 3, k, s, "valid"]);
  }
}
CONV_CASES.push([2, 9, 9, 4, 3, 3, 1, "same"], [2, 10, 10, 3, 4, 4, 2, "same"]);
CONV_CASES.push([4, 3, 3, 6, 5, 3, 1, "valid"]); // window covers the input: no im2col
CONV_CASES.push([3, 6, 6, 32, 40, 4, 2, "valid"]); // rows long enough for the block copy

Deno.test({
  name: "native: Conv2D and both gradients match cpu (k 1-5, stride 1/2, batch 1/64)",
  ...opts,
  fn: async () => {
    for (const [b, h, w, ci, co, k, s, pad] of CONV_CASES) {
      const label = `conv b${b} ${h}x${w}x${ci}->${co} k${k} s${s} ${pad}`;
      const x = input(`${label}/x`, [b, h, w, ci]);
      const f = input(`${label}/f`, [k, k, ci, co]);
      const yShape = tf.tidy(() =>
        tf.conv2d(
          tf.zeros([b, h, w, ci]) as tf.Tensor4D,
          tf.zeros([k, k, ci, co]) as tf.Tensor4D,
          s,
          pad,
        )
          .shape
      );
      const r = input(`${label}/r`, yShape);
      await compareWithCpu(label, [x, f, r], (xt, ft, rt) => {
        const loss = (a: tf.Tensor, c: tf.Tensor) =>
          tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, c as tf.Tensor4D, s, pad), rt));
        const [dx, df] = tf.grads(loss)([xt, ft]);
        return [tf.conv2d(xt as tf.Tensor4D, ft as tf.Tensor4D, s, pad), dx, df];
      });
    }
  },
});

Deno.test({
  name: "native: fused conv and fused matmul (bias, relu) match cpu",
  ...opts,
  fn: async () => {
    const x = input("fc/x", [3, 8, 8, 4]),
      f = input("fc/f", [3, 3, 4, 5]),
      bias = input("fc/b", [5]);
    for (const activation of ["linear", "relu"] as const) {
      await compareWithCpu(
        `fusedConv2d ${activation}`,
        [x, f, bias],
        (xt, ft, bt) =>
          tf.fused.conv2d({
            x: xt as tf.Tensor4D,
            filter: ft as tf.Tensor4D,
            strides: 1,
            pad: "valid",
            bias: bt,
            activation,
          }),
      );
      const a = input("fm/a", [6, 7]), m = input("fm/b", [7, 5]);
      await compareWithCpu(
        `fusedMatMul ${activation}`,
        [a, m, bias],
        (at, mt, bt) =>
          tf.fused.matMul({ a: at as tf.Tensor2D, b: mt as tf.Tensor2D, bias: bt, activation }),
      );
    }
  },
});

Deno.test({
  name: "native: matMul (transposes, batches, broadcast batch) matches cpu",
  ...opts,
  fn: async () => {
    for (const tA of [false, true]) {
      for (const tB of [false, true]) {
        const a = input(`mm/a${tA}`, tA ? [7, 5] : [5, 7]),
          b = input(`mm/b${tB}`, tB ? [3, 7] : [7, 3]);
        await compareWithCpu(`matMul tA=${tA} tB=${tB}`, [a, b], (x, y) => tf.matMul(x, y, tA, tB));
        const ab = input(`mm/ab${tA}`, tA ? [4, 7, 5] : [4, 5, 7]);
        const bb = input(`mm/bb${tB}`, tB ? [4, 3, 7] : [4, 7, 3]);
        await compareWithCpu(
          `batch matMul tA=${tA} tB=${tB}`,
          [ab, bb],
          (x, y) => tf.matMul(x, y, tA, tB),
        );
        await compareWithCpu(
          `stack x matrix tA=${tA} tB=${tB}`,
          [ab, b],
          (x, y) => tf.matMul(x, y, tA, tB),
        );
      }
    }
    // The NCE shape: sources x all targets, B x D by (B * locations) x D transposed.
    const s = input("nce/s", [64, 32]), t = input("nce/t", [64 * 25, 32]);
    await compareWithCpu("nce scores", [s, t], (x, y) => tf.matMul(x, y, false, true));
    const one = input("mm/one", [1, 5, 7]), many = input("mm/many", [3, 7, 4]);
    await compareWithCpu("broadcast batch 1 vs 3", [one, many], (x, y) => tf.matMul(x, y));
  },
});

Deno.test({
  name: "native: elementwise, reductions, pooling, slice, pad, addN match cpu",
  ...opts,
  fn: async () => {
    const x = input("ew/x", [4, 6, 6, 8]), pos = input("ew/pos", [4, 6, 6, 8], 0.1, 3);
    const c = input("ew/c", [8]), y = input("ew/y", [4, 6, 6, 8]);
    for (
      const op of [
        "relu",
        "relu6",
        "elu",
        "exp",
        "tanh",
        "sigmoid",
        "neg",
        "abs",
        "square",
        "expm1",
        "log1p",
      ] as const
    ) {
      await compareWithCpu(op, [x], (t) => tf[op](t), 1e-6);
    }
    for (const op of ["sqrt", "rsqrt", "log", "reciprocal"] as const) {
      await compareWithCpu(op, [pos], (t) => tf[op](t), 1e-6);
    }
    await compareWithCpu("step", [x], (t) => tf.step(t, 0.25), 0);
    await compareWithCpu("leakyRelu", [x], (t) => tf.leakyRelu(t, 0.1), 1e-6);
    for (
      const op of ["add", "sub", "mul", "div", "maximum", "minimum", "squaredDifference"] as const
    ) {
      await compareWithCpu(`${op} same`, [x, y], (a, b) => tf[op](a, b), 1e-6);
      await compareWithCpu(`${op} bias`, [x, c], (a, b) => tf[op](a, b), 1e-6);
      await compareWithCpu(`${op} scalar`, [x], (a) => tf[op](a, tf.scalar(0.37)), 1e-6);
    }
    const col = input("ew/col", [5, 1]),
      row = input("ew/row", [1, 4]),
      r5 = input("ew/r5", [2, 3, 2, 3, 2]);
    const r5b = input("ew/r5b", [2, 1, 2, 1, 2]);
    await compareWithCpu("outer broadcast", [col, row], (a, b) => tf.mul(a, b), 1e-6);
    await compareWithCpu("rank-5 broadcast (cpu path)", [r5, r5b], (a, b) => tf.add(a, b), 1e-6);
    for (
      const op of ["equal", "greater", "less", "greaterEqual", "lessEqual", "notEqual"] as const
    ) {
      await compareWithCpu(op, [x, c], (a, b) => tf[op](a, tf.round(b)), 0);
    }
    for (const axis of [[0, 1, 2], [1], [3], [0], [1, 2], undefined]) {
      for (const keepDims of [false, true]) {
        for (const op of ["sum", "mean", "max", "min"] as const) {
          await compareWithCpu(
            `${op} ${axis} ${keepDims}`,
            [x],
            (t) => tf[op](t, axis, keepDims),
            1e-5,
          );
        }
      }
    }
    await compareWithCpu(
      "sum over non-contiguous axes (cpu path)",
      [x],
      (t) => tf.sum(t, [0, 2]),
      1e-5,
    );
    await compareWithCpu("logSumExp", [x], (t) => tf.logSumExp(t, 3), 1e-5);
    for (const [k, s] of [[4, 2], [2, 2], [3, 1], [1, 1]]) {
      const xp = input(`pool/${k}${s}`, [3, 10, 10, 5]);
      await compareWithCpu(`avgPool k${k} s${s} + grad`, [xp], (t) => {
        const f = (a: tf.Tensor) =>
          tf.sum(tf.mul(tf.avgPool(a as tf.Tensor4D, k, s, "valid"), 1.5));
        return [tf.avgPool(t as tf.Tensor4D, k, s, "valid"), tf.grad(f)(t)];
      }, 1e-5);
    }
    await compareWithCpu(
      "avgPool same (cpu path)",
      [x],
      (t) => tf.avgPool(t as tf.Tensor4D, 3, 2, "same"),
      1e-5,
    );
    await compareWithCpu("slice 4d", [x], (t) => tf.slice(t, [1, 2, 0, 3], [2, 3, 6, 4]), 0);
    await compareWithCpu("slice rows", [x], (t) => tf.slice(t, [1], [2]), 0);
    await compareWithCpu(
      "pad channels",
      [x],
      (t) => tf.pad(t, [[0, 0], [0, 0], [0, 0], [0, 8]]),
      0,
    );
    await compareWithCpu(
      "pad all dims",
      [x],
      (t) => tf.pad(t, [[1, 0], [0, 2], [1, 1], [3, 0]], 0.5),
      0,
    );
    await compareWithCpu("addN", [x, y, x], (a, b, d) => tf.addN([a, b, d]), 1e-6);
  },
});

Deno.test({
  name: "native: conv and matmul outputs are bit-identical across repeated runs",
  ...opts,
  fn: async () => {
    const x = input("det/x", [64, 14, 14, 16]), f = input("det/f", [4, 4, 16, 32]);
    const build = (xt: tf.Tensor, ft: tf.Tensor) => {
      const [dx, df] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
        tf.sum(tf.square(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, "valid")))
      )([xt, ft]);
      return [dx, df, tf.matMul(tf.reshape(xt, [64, -1]), tf.reshape(xt, [64, -1]), false, true)];
    };
    const first = await runOn("native", [x, f], build);
    const second = await runOn("native", [x, f], build);
    for (let i = 0; i < first.length; i++) assertEquals(second[i].values, first[i].values);
    assert(first[1].values.some((v) => v !== 0));
  },
});

/**
 * A small network that uses every op AMDIM training needs (valid convolutions with strides 1
 * and 2 and kernels 1-5, average pooling, reflect padding, channel zero-padding, ReLU, tanh,
 * batch-norm moments, matrix products, exp/log/max/sum/mean, square/sqrt/rsqrt,
 * reshape/transpose/slice/concat, gather/oneHot, softmax/logSoftmax), with deterministic inputs,
 * for comparing backends and auditing their kernels.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { Rng } from "../../src/util/rng.ts";

/** Plain-array parameters and inputs (backend-independent). */
export interface NetData {
  x: { shape: number[]; values: Float32Array };
  labels: Int32Array;
  params: Record<string, { shape: number[]; values: Float32Array }>;
}

function randn(rng: Rng, shape: number[], scale: number) {
  const n = shape.reduce((a, b) => a * b, 1);
  const values = new Float32Array(n);
  for (let i = 0; i < n; i++) values[i] = rng.normal() * scale;
  return { shape, values };
}

/**
 * Deterministic inputs and parameters for {@linkcode netLoss}.
 *
 * @example
 * ```ts
 * const data = makeNetData(1);
 * ```
 */
export function makeNetData(seed: number): NetData {
  const rng = new Rng(seed, "backend-net");
  const conv = (k: number, ci: number, co: number) =>
    randn(rng, [k, k, ci, co], 1 / Math.sqrt(k * k * ci));
  return {
    x: randn(rng, [2, 16, 16, 3], 1),
    labels: Int32Array.from([1, 3]),
    params: {
      c1: conv(3, 3, 8), // 16 -> 14 (after reflect pad 1: 18 -> 16)
      c2: conv(4, 8, 12), // stride 2: 16 -> 7
      c3: conv(1, 12, 12),
      c4: conv(2, 12, 12), // stride 2: 7 -> 3
      c5: conv(5, 12, 16), // on 7x7 -> 3x3
      w: randn(rng, [16, 4], 0.5),
    },
  };
}

/**
 * The loss and the tensors it depends on. Call inside `tf.tidy` / `tf.grads`.
 *
 * @example
 * ```ts
 * const loss = netLoss(tensors.x, tensors.params, tensors.labels);
 * ```
 */
export function netLoss(
  x: tf.Tensor4D,
  p: Record<string, tf.Tensor>,
  labels: tf.Tensor1D,
): tf.Scalar {
  const conv = (a: tf.Tensor4D, w: tf.Tensor, s: number) =>
    tf.conv2d(a, w as tf.Tensor4D, s, "valid");
  const xp = tf.mirrorPad(x, [[0, 0], [1, 1], [1, 1], [0, 0]], "reflect");
  const h1 = tf.relu(conv(xp, p.c1, 1)); // [2,16,16,8]
  // residual block with stride 2: conv 4x4 s2 + avg-pooled, channel zero-padded shortcut
  const h2a = conv(h1, p.c2, 2); // [2,7,7,12]
  const short = tf.pad(tf.avgPool(h1, 4, 2, "valid"), [[0, 0], [0, 0], [0, 0], [0, 4]]);
  let h2: tf.Tensor4D = tf.relu(tf.add(h2a, short));
  // batch-norm with batch moments
  const { mean, variance } = tf.moments(h2, [0, 1, 2]);
  h2 = tf.mul(tf.sub(h2, mean), tf.rsqrt(tf.add(variance, 1e-5))) as tf.Tensor4D;
  const h3 = tf.tanh(conv(h2, p.c3, 1)); // [2,7,7,12]
  const h4 = conv(h3, p.c4, 2); // [2,3,3,12]
  const h5 = conv(h3, p.c5, 1); // [2,3,3,16]
  // slice/concat/transpose/reshape
  const cat = tf.concat([
    tf.slice(h4, [0, 0, 0, 0], [2, 3, 3, 8]),
    tf.slice(h5, [0, 0, 0, 0], [2, 3, 3, 8]),
  ], 3);
  const feat = tf.mean(tf.reshape(tf.transpose(cat, [0, 3, 1, 2]), [2, 16, 9]), 2); // [2,16]
  const logits = tf.matMul(feat, p.w); // [2,4]
  const ce = tf.neg(tf.mean(tf.sum(tf.mul(tf.oneHot(labels, 4), tf.logSoftmax(logits)), 1)));
  // NCE-like term: clipped scores, log-sum-exp by hand, batched matmul
  const tclip = 5;
  const scores = tf.mul(
    tclip,
    tf.tanh(
      tf.div(tf.matMul(tf.reshape(h5, [2, 9, 16]), tf.reshape(h5, [2, 9, 16]), false, true), tclip),
    ),
  );
  const mx = tf.max(scores, 2, true);
  const lse = tf.add(tf.squeeze(mx, [2]), tf.log(tf.sum(tf.exp(tf.sub(scores, mx)), 2)));
  const pos = tf.gather(tf.reshape(scores, [2, 81]), tf.tensor1d([0, 10, 20], "int32"), 1); // [2,3]
  const nce = tf.sub(tf.mean(lse), tf.mean(pos));
  const reg = tf.mul(0.05, tf.mean(tf.square(scores)));
  const soft = tf.mean(tf.mul(tf.softmax(logits), tf.sqrt(tf.add(tf.square(logits), 1))));
  return tf.addN([ce, nce, reg, soft]) as tf.Scalar;
}

/** Loss and gradients (w.r.t. the input and every parameter) as plain arrays. */
export interface NetResult {
  loss: number;
  grads: Record<string, Float32Array>;
}

/**
 * Runs {@linkcode netLoss} and its gradients on the active backend.
 *
 * @example
 * ```ts
 * const { loss, grads } = await runNet(makeNetData(1));
 * ```
 */
export async function runNet(data: NetData): Promise<NetResult> {
  const names = Object.keys(data.params);
  const x = tf.tensor4d(data.x.values, data.x.shape as [number, number, number, number]);
  const labels = tf.tensor1d(data.labels, "int32");
  const ps = names.map((n) => tf.tensor(data.params[n].values, data.params[n].shape));
  const { value, grads } = tf.valueAndGrads((...args: tf.Tensor[]) => {
    const p: Record<string, tf.Tensor> = {};
    names.forEach((n, i) => (p[n] = args[i + 1]));
    return netLoss(args[0] as tf.Tensor4D, p, labels);
  })([x, ...ps]);
  const out: Record<string, Float32Array> = { x: (await grads[0].data()) as Float32Array };
  for (let i = 0; i < names.length; i++) {
    out[names[i]] = (await grads[i + 1].data()) as Float32Array;
  }
  const loss = (await value.data())[0];
  tf.dispose([x, labels, ...ps, value, ...grads]);
  return { loss, grads: out };
}

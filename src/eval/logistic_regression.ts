/**
 * Multinomial logistic regression on frozen features, trained with tfjs: features are
 * standardised with the mean and standard deviation of the fitting rows (like a BatchNorm without
 * affine parameters in front of the linear layer), the weights start from `N(0, 0.01²)` drawn from
 * `Rng(seed, "logreg-init", tag)`, and minibatch Adam (β = 0.9, 0.999, ε = 1e-8, constant learning
 * rate) minimises
 *
 *     mean cross-entropy + (l2 / 2) · ‖W‖²      (the bias is not penalised)
 *
 * over `epochs` passes, each in the order `Rng(seed, "logreg-shuffle", tag, epoch)` (the last,
 * partial batch is kept). Gradients are written out by hand (softmax − one-hot), so one step is a
 * handful of ops and the result is a pure function of the inputs and the seed on a given backend.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { Rng } from "../util/rng.ts";

/** Hyperparameters of {@linkcode fitLogisticRegression}. */
export interface LogisticRegressionOptions {
  /** L2 strength on the weights (`(l2 / 2)·‖W‖²` is added to the mean cross-entropy). */
  l2: number;
  /** Passes over the fitting rows. */
  epochs: number;
  /** Minibatch size (rows); use a value ≥ n for full-batch Adam. */
  batchSize: number;
  /** Adam learning rate. */
  lr: number;
  /** Seed of the init and shuffles. */
  seed: number;
  /** Extra key part that separates the random streams of different fits with the same seed. */
  tag?: string;
  /**
   * Called after every epoch (1-based) with a scorer that uses the current weights; a returned
   * promise is awaited before the next epoch.
   */
  onEpoch?: (
    epoch: number,
    score: (features: Float32Array) => Promise<Float32Array>,
  ) => void | Promise<void>;
}

/** A fitted model: standardisation plus a linear map to class scores. */
export interface LogisticModel {
  /** Feature dimension. */
  dim: number;
  /** Number of classes. */
  numClasses: number;
  /** Per-feature mean of the fitting rows. */
  mean: Float32Array;
  /** Per-feature 1/std of the fitting rows (1 where the std is ~0). */
  invStd: Float32Array;
  /** `[dim, numClasses]` row-major weights. */
  weights: Float32Array;
  /** `[numClasses]` bias. */
  bias: Float32Array;
}

/** Per-feature mean and inverse standard deviation (computed in float64). */
export function featureMoments(
  x: Float32Array,
  n: number,
  dim: number,
): { mean: Float32Array; invStd: Float32Array } {
  const sum = new Float64Array(dim);
  const sq = new Float64Array(dim);
  for (let i = 0; i < n; i++) {
    const r = i * dim;
    for (let j = 0; j < dim; j++) sum[j] += x[r + j];
  }
  const mean = new Float32Array(dim);
  for (let j = 0; j < dim; j++) mean[j] = sum[j] / Math.max(1, n);
  for (let i = 0; i < n; i++) {
    const r = i * dim;
    for (let j = 0; j < dim; j++) {
      const d = x[r + j] - mean[j];
      sq[j] += d * d;
    }
  }
  const invStd = new Float32Array(dim);
  for (let j = 0; j < dim; j++) {
    const std = Math.sqrt(sq[j] / Math.max(1, n));
    invStd[j] = std > 1e-6 ? 1 / std : 1;
  }
  return { mean, invStd };
}

function standardise(x: Float32Array, dim: number, mean: Float32Array, invStd: Float32Array) {
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i += dim) {
    for (let j = 0; j < dim; j++) out[i + j] = (x[i + j] - mean[j]) * invStd[j];
  }
  return out;
}

/**
 * Class scores (logits) `[n, numClasses]` of a fitted model.
 *
 * @example
 * ```ts
 * const scores = await logisticScores(model, testFeatures);
 * ```
 */
export async function logisticScores(
  model: LogisticModel,
  features: Float32Array,
): Promise<Float32Array> {
  const n = features.length / model.dim;
  const scores = tf.tidy(() => {
    const x = tf.tensor2d(standardise(features, model.dim, model.mean, model.invStd), [
      n,
      model.dim,
    ]);
    const w = tf.tensor2d(model.weights, [model.dim, model.numClasses]);
    const b = tf.tensor1d(model.bias);
    return tf.add(tf.matMul(x, w), b);
  });
  try {
    return await scores.data() as Float32Array;
  } finally {
    scores.dispose();
  }
}

/**
 * Fits multinomial logistic regression to `features` (`[n, dim]`) and `labels` (all in
 * `[0, numClasses)`).
 *
 * @example
 * ```ts
 * const model = await fitLogisticRegression(x, y, 256, 10, { l2: 1e-4, epochs: 100, batchSize: 256, lr: 1e-3, seed: 1 });
 * ```
 */
export async function fitLogisticRegression(
  features: Float32Array,
  labels: Int32Array,
  dim: number,
  numClasses: number,
  options: LogisticRegressionOptions,
): Promise<LogisticModel> {
  const n = labels.length;
  if (features.length !== n * dim) {
    throw new RangeError(`features hold ${features.length} values, expected ${n} x ${dim}`);
  }
  if (n === 0) throw new RangeError("no rows to fit");
  for (let i = 0; i < n; i++) {
    if (!(labels[i] >= 0 && labels[i] < numClasses)) {
      throw new RangeError(`label ${labels[i]} of row ${i} is outside [0, ${numClasses})`);
    }
  }
  const { l2, epochs, lr, seed } = options;
  const tag = options.tag ?? "";
  const batchSize = Math.max(1, Math.min(options.batchSize, n));
  const { mean, invStd } = featureMoments(features, n, dim);
  const initW = new Float32Array(dim * numClasses);
  const initRng = new Rng(seed, "logreg-init", tag);
  for (let i = 0; i < initW.length; i++) initW[i] = 0.01 * initRng.normal();

  const x = tf.tensor2d(standardise(features, dim, mean, invStd), [n, dim]);
  const y = tf.tidy(() => tf.oneHot(tf.tensor1d(labels, "int32"), numClasses).toFloat());
  const w = tf.variable(tf.tensor2d(initW, [dim, numClasses]));
  const b = tf.variable(tf.zeros([numClasses]));
  const mw = tf.variable(tf.zeros([dim, numClasses]));
  const vw = tf.variable(tf.zeros([dim, numClasses]));
  const mb = tf.variable(tf.zeros([numClasses]));
  const vb = tf.variable(tf.zeros([numClasses]));
  const beta1 = 0.9, beta2 = 0.999, eps = 1e-8;

  const scorer = async (feat: Float32Array): Promise<Float32Array> => {
    const scores = tf.tidy(() => {
      const m = feat.length / dim;
      const xs = tf.tensor2d(standardise(feat, dim, mean, invStd), [m, dim]);
      return tf.add(tf.matMul(xs, w), b);
    });
    try {
      return await scores.data() as Float32Array;
    } finally {
      scores.dispose();
    }
  };

  try {
    let t = 0;
    for (let epoch = 0; epoch < epochs; epoch++) {
      const order = new Rng(seed, "logreg-shuffle", tag, epoch).permutation(n);
      for (let start = 0; start < n; start += batchSize) {
        t++;
        const idx = order.subarray(start, Math.min(n, start + batchSize));
        const c1 = 1 / (1 - Math.pow(beta1, t));
        const c2 = 1 / (1 - Math.pow(beta2, t));
        tf.tidy(() => {
          const ids = tf.tensor1d(idx, "int32");
          const xb = tf.gather(x, ids);
          const yb = tf.gather(y, ids);
          const p = tf.softmax(tf.add(tf.matMul(xb, w), b));
          const g = tf.div(tf.sub(p, yb), idx.length);
          let gw = tf.matMul(xb, g, true, false);
          if (l2 !== 0) gw = tf.add(gw, tf.mul(w, l2));
          const gb = tf.sum(g, 0);
          const update = (
            param: tf.Variable,
            m: tf.Variable,
            v: tf.Variable,
            grad: tf.Tensor,
          ) => {
            const m1 = tf.add(tf.mul(m, beta1), tf.mul(grad, 1 - beta1));
            const v1 = tf.add(tf.mul(v, beta2), tf.mul(tf.square(grad), 1 - beta2));
            m.assign(m1);
            v.assign(v1);
            const step = tf.div(tf.mul(m1, c1), tf.add(tf.sqrt(tf.mul(v1, c2)), eps));
            param.assign(tf.sub(param, tf.mul(step, lr)));
          };
          update(w, mw, vw, gw);
          update(b, mb, vb, gb);
        });
      }
      await options.onEpoch?.(epoch + 1, scorer);
    }
    const [weights, bias] = await Promise.all([w.data(), b.data()]);
    return {
      dim,
      numClasses,
      mean,
      invStd,
      weights: weights.slice() as Float32Array,
      bias: bias.slice() as Float32Array,
    };
  } finally {
    tf.dispose([x, y, w, b, mw, vw, mb, vb]);
  }
}

/**
 * BatchNorm with PyTorch semantics, as a pure function of its variables: eps 1e-5, momentum 0.1;
 * training mode normalises with the batch mean and the biased batch variance and returns the new
 * running statistics (running variance updated with the unbiased batch variance) instead of
 * assigning them; eval mode uses the running statistics.
 *
 * Where the active backend has a fused training-mode kernel (`NativeBatchNormTrain` on `native`:
 * two passes for the statistics and one for the output, and one gradient kernel instead of the
 * dozen elementwise ones autodiff builds), it is used; its forward values are bit-identical to
 * the composed ops.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { BenchError } from "../util/errors.ts";
import type { StateUpdate } from "./types.ts";
import { backendHasKernel } from "./fused_ops.ts";

/** PyTorch's BatchNorm epsilon. */
export const BN_EPS = 1e-5;
/** PyTorch's BatchNorm momentum (weight of the new batch statistic). */
export const BN_MOMENTUM = 0.1;

/** The four variables of one BatchNorm layer. */
export interface BatchNormVariables {
  name: string;
  weight: tf.Variable;
  bias: tf.Variable;
  runningMean: tf.Variable;
  runningVar: tf.Variable;
}

/**
 * Applies a BatchNorm over the last axis of `x` (NHWC 4-D or `[B, C]` 2-D). In training mode the
 * running-statistics updates are pushed onto `updates` (values `tf.keep`-ed; the caller owns them).
 *
 * @example
 * ```ts
 * const updates: StateUpdate[] = [];
 * const y = batchNorm(x, bnVars, true, updates);
 * ```
 */
export function batchNorm<T extends tf.Tensor>(
  x: T,
  v: BatchNormVariables,
  training: boolean,
  updates: StateUpdate[],
): T {
  const axes = x.rank === 4 ? [0, 1, 2] : [0];
  if (!training) {
    const scale = tf.mul(v.weight, tf.rsqrt(tf.add(v.runningVar, BN_EPS)));
    const shift = tf.sub(v.bias, tf.mul(v.runningMean, scale));
    return tf.add(tf.mul(x, scale), shift) as T;
  }
  const c = x.shape[x.rank - 1];
  const n = x.size / c;
  if (n < 2) {
    throw new BenchError(
      "batch_too_small",
      `BatchNorm ${v.name} in training mode needs more than one value per channel, got ${n}`,
      {
        location: v.name,
        hint: "use a batch of at least 2 images in training mode (as PyTorch requires)",
      },
    );
  }
  const { y, mean, variance } = trainingForward(x, v, axes);
  const m = BN_MOMENTUM;
  updates.push({
    name: `${v.name}.running_mean`,
    variable: v.runningMean,
    value: tf.keep(tf.add(tf.mul(v.runningMean, 1 - m), tf.mul(mean, m))),
  });
  updates.push({
    name: `${v.name}.running_var`,
    variable: v.runningVar,
    value: tf.keep(tf.add(tf.mul(v.runningVar, 1 - m), tf.mul(variance, (m * n) / (n - 1)))),
  });
  return y;
}

function trainingForward<T extends tf.Tensor>(
  x: T,
  v: BatchNormVariables,
  axes: number[],
): { y: T; mean: tf.Tensor; variance: tf.Tensor } {
  if (x.dtype === "float32" && backendHasKernel("NativeBatchNormTrain")) {
    const [y, mean, variance] = tf.engine().runKernel(
      "NativeBatchNormTrain",
      { x, gamma: v.weight, beta: v.bias },
      { epsilon: BN_EPS },
    ) as tf.Tensor[];
    return { y: y as T, mean, variance };
  }
  const { mean, variance } = tf.moments(x, axes);
  const scale = tf.mul(v.weight, tf.rsqrt(tf.add(variance, BN_EPS)));
  const shift = tf.sub(v.bias, tf.mul(mean, scale));
  return { y: tf.add(tf.mul(x, scale), shift) as T, mean, variance };
}

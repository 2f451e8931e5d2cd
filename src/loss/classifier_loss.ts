/**
 * The loss of the AMDIM evaluation classifiers (costs.py `loss_xent`):
 * `CE(10 * tanh(logits / 10), y, ignore_index = -1) + 1e-3 * mean(logits^2)`.
 *
 * The cross-entropy is the mean over labelled rows only (label `-1` = unlabelled is ignored); when
 * no row is labelled the cross-entropy part is 0 (PyTorch would give NaN). The logit penalty is
 * the mean over all rows, labelled or not, of the unclipped logits.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { BenchError } from "../util/errors.ts";

/** Soft clip of the classifier logits (costs.py `tanh_clip(logits, 10.)`). */
export const CLASSIFIER_LOGIT_CLIP = 10;
/** Weight of the classifier logit penalty (costs.py `1e-3`). */
export const CLASSIFIER_LOGIT_REG = 1e-3;

/**
 * Classifier loss of `logits` [N, K] against `labels` (N integers in [-1, K); -1 = ignored).
 * Returns a scalar tensor (the caller disposes it); differentiable in `logits`.
 *
 * @example
 * ```ts
 * const loss = classifierLoss(tf.tensor2d([[2, 0], [0, 1]]), new Int32Array([0, -1]));
 * ```
 */
export function classifierLoss(
  logits: tf.Tensor2D,
  labels: Int32Array | readonly number[],
): tf.Scalar {
  const [n, k] = logits.shape;
  if (labels.length !== n) {
    throw new BenchError(
      "classifier_loss_shape",
      `${n} rows of logits but ${labels.length} labels`,
    );
  }
  const oneHot = new Float32Array(n * k);
  let labelled = 0;
  for (let i = 0; i < n; i++) {
    const y = labels[i];
    if (y === -1) continue;
    if (!Number.isInteger(y) || y < 0 || y >= k) {
      throw new BenchError("classifier_loss_label", `label ${y} of row ${i} is outside [-1, ${k})`);
    }
    oneHot[i * k + y] = 1;
    labelled++;
  }
  return tf.tidy(() => {
    const reg = tf.mul(tf.mean(tf.square(logits)), CLASSIFIER_LOGIT_REG);
    if (labelled === 0) return tf.add(reg, 0) as tf.Scalar;
    const clipped = tf.mul(
      tf.tanh(tf.mul(logits, 1 / CLASSIFIER_LOGIT_CLIP)),
      CLASSIFIER_LOGIT_CLIP,
    );
    const logp = tf.logSoftmax(clipped);
    // one-hot rows of unlabelled samples are zero, so they drop out of the sum
    const nll = tf.neg(tf.sum(tf.sum(tf.mul(logp, tf.tensor2d(oneHot, [n, k])), 1)));
    return tf.add(tf.mul(nll, 1 / labelled), reg) as tf.Scalar;
  });
}

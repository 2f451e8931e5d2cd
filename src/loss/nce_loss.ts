/**
 * The AMDIM NCE objective (amdim-public costs.py, `LossMultiNCE` / `NCE_MI_MULTI`) on NHWC
 * features.
 *
 * For one pair and direction, with sources `s_i` (B x D) and targets `t_{j,l}` (B images x L
 * locations x D) of the other view:
 *
 * - `raw[i,j,l] = <s_i, t_{j,l}> / sqrt(D)`;
 * - `reg = lgtRegWeight * mean(raw^2)` over all (i, j, l), before the clip;
 * - `c = tclip * tanh(raw / tclip)`;
 * - positive of (i, l) = `c[i,i,l]`; the negatives of image i are `c[i,j,l']` for every j != i and
 *   every l' (shared by all positives of image i; other locations of image i are not negatives);
 * - `loss = mean_{i,l} softplus(lse_i - c[i,i,l])` where `lse_i` is the log-sum-exp over the
 *   negatives of image i (max-shifted, like the official code). This equals
 *   `-mean log(exp(c_ii,l) / (exp(c_ii,l) + sum_neg exp))` without the cancellation of the
 *   `a - log(exp(a) + S)` form.
 *
 * Pairs: 1->5 and 1->7 (r1 of one view to every location of r5 / r7 of the other) and 5->5 (one
 * r5 location per image, given by `loc5V1` / `loc5V2`, to every r5 location of the other view),
 * each in both directions (`_a`: view 1 sources, `_b`: view 2 sources). Each pair's loss is
 * `0.5 (a + b)`, `lgt_reg = 0.5 * (sum of the six regs)`, `loss_g2l = loss_1t5 + loss_1t7 +
 * loss_5t5` and `total = loss_g2l + lgt_reg`.
 *
 * Reductions are done axis by axis (at most max(B, L) terms per float32 sum) so that backends
 * that accumulate in float32 stay within 1e-5 relative of a float64 reference.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { backendHasKernel } from "../model/fused_ops.ts";
import type { Rng } from "../util/rng.ts";
import { BenchError } from "../util/errors.ts";

/** Number of locations in the 5x5 map. */
export const LOC5_COUNT = 25;

/** The features the NCE objective needs from one view (NHWC; structurally `EncoderOutputs`). */
export interface NceFeatures {
  /** Global features, [B, D]. */
  r1: tf.Tensor2D;
  /** 5x5 local features, [B, 5, 5, D]. */
  r5: tf.Tensor4D;
  /** 7x7 local features, [B, 7, 7, D]. */
  r7: tf.Tensor4D;
}

/** Options of {@linkcode amdimNceLoss}. */
export interface NceLossOptions {
  /** Soft clip of the scores, `tclip * tanh(raw / tclip)`; AMDIM uses 20. */
  tclip?: number;
  /** Weight of the logit regulariser `mean(raw^2)`; AMDIM uses 0.05. */
  lgtRegWeight?: number;
  /** 5->5 source location of each image of view 1, flat `row * 5 + col` in [0, 25). */
  loc5V1: Int32Array;
  /** 5->5 source location of each image of view 2, flat `row * 5 + col` in [0, 25). */
  loc5V2: Int32Array;
}

/** Default soft clip of the NCE scores (train.py `--tclip`). */
export const DEFAULT_TCLIP = 20;
/** Default weight of the logit regulariser (costs.py `5e-2`). */
export const DEFAULT_LGT_REG_WEIGHT = 0.05;

/** Names of every component {@linkcode amdimNceLoss} returns (the golden file's names). */
export const NCE_COMPONENTS = [
  "loss_1t5_a",
  "loss_1t5_b",
  "loss_1t7_a",
  "loss_1t7_b",
  "loss_5t5_a",
  "loss_5t5_b",
  "reg_1t5_a",
  "reg_1t5_b",
  "reg_1t7_a",
  "reg_1t7_b",
  "reg_5t5_a",
  "reg_5t5_b",
  "loss_1t5",
  "loss_1t7",
  "loss_5t5",
  "lgt_reg",
  "loss_g2l",
  "total",
] as const;

/** One component name of the NCE objective. */
export type NceComponentName = typeof NCE_COMPONENTS[number];

/** Every component of the NCE objective as a scalar tensor (the caller disposes them). */
export type NceLossComponents = Record<NceComponentName, tf.Scalar>;

/** Result of one pair and direction. */
export interface NceDirectionResult {
  /** `-mean_{i,l} log softmax` of the positives (scalar). */
  loss: tf.Scalar;
  /** `lgtRegWeight * mean(raw^2)` (scalar). */
  reg: tf.Scalar;
}

/**
 * NCE loss and logit regulariser of one pair and direction.
 *
 * @param src sources, [B, D]
 * @param trg targets of the other view, [B, L, D]
 * @example
 * ```ts
 * const { loss, reg } = nceDirection(r1a, tf.reshape(r5b, [b, 25, d]) as tf.Tensor3D, 20, 0.05);
 * ```
 */
export function nceDirection(
  src: tf.Tensor2D,
  trg: tf.Tensor3D,
  tclip: number,
  lgtRegWeight: number,
): NceDirectionResult {
  return tf.tidy(() => {
    const [b, d] = src.shape;
    const [bt, nLocs, dt] = trg.shape;
    if (bt !== b || dt !== d) {
      throw new BenchError(
        "nce_shape",
        `sources [${src.shape}] and targets [${trg.shape}] disagree on batch or dimension`,
      );
    }
    // raw[i, j*L + l] = <s_i, t_{j,l}> / sqrt(D)
    const trgFlat = tf.reshape(trg, [b * nLocs, d]);
    const raw3 = tf.reshape(
      tf.mul(tf.matMul(src, trgFlat, false, true), 1 / Math.sqrt(d)),
      [b, b, nLocs],
    ) as tf.Tensor3D;
    if (b >= 2 && raw3.dtype === "float32" && backendHasKernel("NativeNceScores")) {
      // One fused kernel for everything below (native backend), with its closed-form gradient.
      const [loss, reg] = tf.engine().runKernel("NativeNceScores", { raw: raw3 }, {
        tclip,
        lgtRegWeight,
      }) as tf.Tensor[];
      return { loss: loss as tf.Scalar, reg: reg as tf.Scalar };
    }
    // reg = w * mean(raw^2), summed axis by axis
    const sq = tf.square(raw3);
    const reg = tf.mul(tf.sum(tf.sum(tf.sum(sq, 2), 1), 0), lgtRegWeight / (b * b * nLocs));
    const c = tf.mul(tf.tanh(tf.mul(raw3, 1 / tclip)), tclip);
    const eye = tf.reshape(tf.eye(b), [b, b, 1]);
    const notEye = tf.sub(1, eye);
    // positives c[i,i,l]: exact (adds zeros)
    const pos = tf.sum(tf.mul(c, eye), 1); // [B, L]
    // negatives: positive slots set to -tclip for the max and excluded from the sum
    const neg = tf.sub(tf.mul(c, notEye), tf.mul(eye, tclip)); // [B, B, L]
    const negMax = tf.max(tf.reshape(neg, [b, b * nLocs]), 1, true); // [B, 1]
    const shifted = tf.exp(tf.sub(neg, tf.reshape(negMax, [b, 1, 1])));
    const negSum = tf.sum(tf.sum(tf.mul(shifted, notEye), 2), 1, true); // [B, 1]
    const lseNeg = tf.add(negMax, tf.log(negSum)); // [B, 1]
    const x = tf.sub(lseNeg, pos); // [B, L]
    // softplus(x) = max(x, 0) + log1p(exp(-|x|))
    const sp = tf.add(tf.relu(x), tf.log1p(tf.exp(tf.neg(tf.abs(x)))));
    const loss = tf.mul(tf.sum(tf.sum(sp, 1), 0), 1 / (b * nLocs));
    return { loss: loss as tf.Scalar, reg: reg as tf.Scalar };
  });
}

/**
 * Picks one r5 location per image: `out[i] = r5[i, loc[i] / 5, loc[i] % 5, :]`, as a masked sum
 * (differentiable on every backend; no scatter needed in the gradient).
 *
 * @example
 * ```ts
 * const src = gatherLoc5(r5, new Int32Array([0, 12, 24])); // [3, D]
 * ```
 */
export function gatherLoc5(r5: tf.Tensor4D, loc: Int32Array): tf.Tensor2D {
  const [b, h, w, d] = r5.shape;
  const n = h * w;
  if (loc.length !== b) {
    throw new BenchError("nce_shape", `need ${b} 5x5 locations, got ${loc.length}`);
  }
  const mask = new Float32Array(b * n);
  for (let i = 0; i < b; i++) {
    const l = loc[i];
    if (!Number.isInteger(l) || l < 0 || l >= n) {
      throw new BenchError("nce_shape", `5x5 location ${l} of image ${i} is outside [0, ${n})`);
    }
    mask[i * n + l] = 1;
  }
  return tf.tidy(() =>
    tf.sum(tf.mul(tf.reshape(r5, [b, n, d]), tf.tensor3d(mask, [b, n, 1])), 1) as tf.Tensor2D
  );
}

function locs(t: tf.Tensor4D): tf.Tensor3D {
  const [b, h, w, d] = t.shape;
  return tf.reshape(t, [b, h * w, d]);
}

/**
 * The full AMDIM NCE objective of two views; every component (see {@linkcode NCE_COMPONENTS}) as
 * a scalar tensor. Differentiable (use inside `tf.variableGrads` / `tf.grads`).
 *
 * @example
 * ```ts
 * const rng = new Rng(seed, "nce-loc", step);
 * const loc5V1 = drawLoc5(rng, b); // view 1 first,
 * const loc5V2 = drawLoc5(rng, b); // then view 2 from the same stream
 * const parts = amdimNceLoss(out1, out2, { tclip: 20, loc5V1, loc5V2 });
 * console.log((await parts.total.data())[0]);
 * tf.dispose(parts);
 * ```
 */
export function amdimNceLoss(
  v1: NceFeatures,
  v2: NceFeatures,
  options: NceLossOptions,
): NceLossComponents {
  const tclip = options.tclip ?? DEFAULT_TCLIP;
  const w = options.lgtRegWeight ?? DEFAULT_LGT_REG_WEIGHT;
  if (!(tclip > 0)) throw new BenchError("nce_config", `tclip must be > 0, got ${tclip}`);
  const b = v1.r1.shape[0];
  for (const [name, t] of Object.entries({ ...v1, ...v2 })) {
    if (t.shape[0] !== b) {
      throw new BenchError("nce_shape", `${name} has batch ${t.shape[0]}, expected ${b}`);
    }
  }
  if (b < 2) throw new BenchError("nce_shape", `the NCE loss needs a batch of at least 2`);
  return tf.tidy(() => {
    const r5a = locs(v1.r5), r5b = locs(v2.r5);
    const r7a = locs(v1.r7), r7b = locs(v2.r7);
    const d1t5a = nceDirection(v1.r1, r5b, tclip, w);
    const d1t5b = nceDirection(v2.r1, r5a, tclip, w);
    const d1t7a = nceDirection(v1.r1, r7b, tclip, w);
    const d1t7b = nceDirection(v2.r1, r7a, tclip, w);
    const d5t5a = nceDirection(gatherLoc5(v1.r5, options.loc5V1), r5b, tclip, w);
    const d5t5b = nceDirection(gatherLoc5(v2.r5, options.loc5V2), r5a, tclip, w);
    const half = (x: tf.Tensor, y: tf.Tensor) => tf.mul(tf.add(x, y), 0.5) as tf.Scalar;
    const loss1t5 = half(d1t5a.loss, d1t5b.loss);
    const loss1t7 = half(d1t7a.loss, d1t7b.loss);
    const loss5t5 = half(d5t5a.loss, d5t5b.loss);
    const lgtReg = tf.mul(
      tf.addN([d1t5a.reg, d1t5b.reg, d1t7a.reg, d1t7b.reg, d5t5a.reg, d5t5b.reg]),
      0.5,
    ) as tf.Scalar;
    const lossG2l = tf.addN([loss1t5, loss1t7, loss5t5]) as tf.Scalar;
    const total = tf.add(lossG2l, lgtReg) as tf.Scalar;
    return {
      loss_1t5_a: d1t5a.loss,
      loss_1t5_b: d1t5b.loss,
      loss_1t7_a: d1t7a.loss,
      loss_1t7_b: d1t7b.loss,
      loss_5t5_a: d5t5a.loss,
      loss_5t5_b: d5t5b.loss,
      reg_1t5_a: d1t5a.reg,
      reg_1t5_b: d1t5b.reg,
      reg_1t7_a: d1t7a.reg,
      reg_1t7_b: d1t7b.reg,
      reg_5t5_a: d5t5a.reg,
      reg_5t5_b: d5t5b.reg,
      loss_1t5: loss1t5,
      loss_1t7: loss1t7,
      loss_5t5: loss5t5,
      lgt_reg: lgtReg,
      loss_g2l: lossG2l,
      total,
    };
  });
}

/**
 * Draws the 5->5 source location of each image: uniform over the 25 positions (costs.py draws
 * `torch.randint` per image). The training step uses one stream `new Rng(seed, "nce-loc", step)`
 * and draws view 1, then view 2 from it.
 *
 * @example
 * ```ts
 * const loc5V1 = drawLoc5(new Rng(1, "nce-loc", 0), 64); // Int32Array(64), values 0..24
 * ```
 */
export function drawLoc5(rng: Rng, batchSize: number): Int32Array {
  const out = new Int32Array(batchSize);
  for (let i = 0; i < batchSize; i++) out[i] = rng.int(0, LOC5_COUNT - 1);
  return out;
}

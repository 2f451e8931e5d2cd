/**
 * Test-split accuracy of a pair of classifier heads (linear and MLP) on top of an encoder, as the
 * official `test_model` computes it: eval-mode encoder and heads on the policy's test transform,
 * optionally after the transductive BatchNorm warm-up and with the drop_last truncation.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { type AugmentPool, testViews } from "../augment/pipeline.ts";
import type { PolicyName } from "../augment/policy.ts";
import type { Classifiers } from "../model/classifiers.ts";
import type { Encoder } from "../model/encoder.ts";
import { applyStateUpdates, type NamedVariable } from "../model/types.ts";
import { Rng } from "../util/rng.ts";
import { type TopKCounts, topKCounts } from "./accuracy.ts";
import type { LabelledSource } from "./features.ts";
import { type R1Source, tfjsR1Source } from "./r1_source.ts";

/** Options of {@linkcode evaluateHeads}. */
export interface HeadsEvalOptions {
  /** Augmentation policy (its test transform). */
  policy: PolicyName;
  /** Test batch size (the official loaders use the training batch size). */
  batchSize: number;
  /** Seed of the test-order shuffles (warm-up batches, drop_last truncation). */
  seed: number;
  /**
   * Official transductive BatchNorm warm-up: before scoring, 50 shuffled test batches run through
   * encoder and heads in training mode, updating the running statistics from test data.
   */
  bnWarmup: boolean;
  /** Official drop_last: score only the first `floor(n / batchSize) * batchSize` images of a shuffled order. */
  dropLast: boolean;
  /** Augmentation worker pool. */
  pool?: AugmentPool;
  /** Where r1 of `encoder` comes from (default: the tfjs encoder, {@linkcode tfjsR1Source}). */
  features?: R1Source;
}

/** Hit counts of both heads. */
export interface HeadsCounts {
  linear: TopKCounts;
  mlp: TopKCounts;
  /** Images scored. */
  evaluated: number;
}

/** Number of batches of the official BatchNorm warm-up. */
export const BN_WARMUP_BATCHES = 50;

/**
 * Host copies of variables, to put them back after a protocol changed them.
 *
 * @example
 * ```ts
 * const snap = await snapshotVariables(encoder.state);
 * restoreSnapshot(encoder.state, snap);
 * ```
 */
export async function snapshotVariables(vars: readonly NamedVariable[]): Promise<Float32Array[]> {
  const values = await Promise.all(vars.map((v) => v.variable.data()));
  return values.map((d) => (d as Float32Array).slice());
}

/** Restores a {@linkcode snapshotVariables} copy. */
export function restoreSnapshot(vars: readonly NamedVariable[], snap: Float32Array[]): void {
  vars.forEach((v, i) => tf.tidy(() => v.variable.assign(tf.tensor(snap[i], v.variable.shape))));
}

/**
 * Scores both heads on `test`. With `bnWarmup` the BatchNorm running statistics of encoder and heads
 * are changed (as in the official code); callers that need them intact snapshot them first.
 *
 * @example
 * ```ts
 * const c = await evaluateHeads(encoder, heads, testSet, { policy: "cifar", batchSize: 200, seed: 1, bnWarmup: false, dropLast: false });
 * ```
 */
export async function evaluateHeads(
  encoder: Encoder,
  heads: Classifiers,
  test: LabelledSource,
  options: HeadsEvalOptions,
): Promise<HeadsCounts> {
  const { policy, batchSize, pool } = options;
  const source = options.features ?? tfjsR1Source(encoder);
  const n = test.length;
  const forward = async (indices: number[], training: boolean, batchIndex: number) => {
    const v = await testViews(test, { policy, indices, pool });
    const enc = await source.r1(v, { training });
    try {
      const scores = tf.tidy(() => {
        const out = heads.apply(enc.r1, {
          training,
          rng: training ? new Rng(options.seed, "bn-warmup-dropout", batchIndex) : undefined,
        });
        if (training) {
          applyStateUpdates(enc.stateUpdates);
          applyStateUpdates(out.stateUpdates);
          return undefined;
        }
        return { linear: out.outputs.linear, mlp: out.outputs.mlp };
      });
      if (!scores) return undefined;
      try {
        const [linear, mlp] = await Promise.all([scores.linear.data(), scores.mlp.data()]);
        return { linear: linear as Float32Array, mlp: mlp as Float32Array };
      } finally {
        tf.dispose([scores.linear, scores.mlp]);
      }
    } finally {
      enc.r1.dispose();
    }
  };
  if (options.bnWarmup) {
    const order = new Rng(options.seed, "bn-warmup-order").permutation(n);
    for (let b = 0; b < BN_WARMUP_BATCHES && (b + 1) * batchSize <= n; b++) {
      await forward(Array.from(order.subarray(b * batchSize, (b + 1) * batchSize)), true, b);
    }
  }
  let order: Int32Array;
  if (options.dropLast) {
    const perm = new Rng(options.seed, "test-order").permutation(n);
    order = perm.subarray(0, Math.floor(n / batchSize) * batchSize);
  } else {
    order = Int32Array.from({ length: n }, (_, i) => i);
  }
  const counts: HeadsCounts = {
    linear: { count: 0, top1: 0, top5: 0 },
    mlp: { count: 0, top1: 0, top5: 0 },
    evaluated: order.length,
  };
  for (let start = 0; start < order.length; start += batchSize) {
    const idx = Array.from(order.subarray(start, Math.min(order.length, start + batchSize)));
    const out = (await forward(idx, false, 0))!;
    const labels = Int32Array.from(idx, (i) => test.labels[i]);
    for (const head of ["linear", "mlp"] as const) {
      const c = topKCounts(out[head], heads.nClasses, labels);
      counts[head].count += c.count;
      counts[head].top1 += c.top1;
      counts[head].top5 += c.top5;
    }
  }
  return counts;
}

/** Accuracy fractions from counts (NaN when nothing was labelled). */
export function fractions(c: TopKCounts): { top1: number; top5: number } {
  return { top1: c.top1 / c.count, top5: c.top5 / c.count };
}

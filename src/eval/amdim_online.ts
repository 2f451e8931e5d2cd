/**
 * The `amdim-online` protocol: the linear and MLP heads trained alongside pretraining (on the
 * detached r1 of both augmented views) are scored on the test split. Off by default, and recorded:
 * the official transductive BatchNorm warm-up on test data (`bnWarmup`) and the official drop_last
 * truncation of the shuffled test loader (`dropLast`). The encoder's and heads' BatchNorm state is
 * restored afterwards, so later protocols see the trained model unchanged. Metrics:
 * `amdim-online.linear.top1|top5`, `amdim-online.mlp.top1|top5` (final heads: `last` only).
 *
 * @module
 */
import type { Classifiers } from "../model/classifiers.ts";
import type { Encoder } from "../model/encoder.ts";
import type { LabelledSource } from "./features.ts";
import {
  evaluateHeads,
  fractions,
  type HeadsEvalOptions,
  restoreSnapshot,
  snapshotVariables,
} from "./heads_eval.ts";
import type { EvalResult } from "./types.ts";

/**
 * Scores the online heads.
 *
 * @example
 * ```ts
 * const r = await amdimOnlineEval(encoder, heads, testSet, { policy: "cifar", batchSize: 200, seed: 1, bnWarmup: false, dropLast: false });
 * ```
 */
export async function amdimOnlineEval(
  encoder: Encoder,
  heads: Classifiers,
  test: LabelledSource,
  options: HeadsEvalOptions,
): Promise<EvalResult> {
  const state = [...encoder.state, ...heads.state];
  const snap = await snapshotVariables(state);
  try {
    const c = await evaluateHeads(encoder, heads, test, options);
    const lin = fractions(c.linear), mlp = fractions(c.mlp);
    return {
      protocol: "amdim-online",
      metrics: {
        "amdim-online.linear.top1": { last: lin.top1 },
        "amdim-online.linear.top5": { last: lin.top5 },
        "amdim-online.mlp.top1": { last: mlp.top1 },
        "amdim-online.mlp.top5": { last: mlp.top5 },
      },
      details: {
        bnWarmup: options.bnWarmup,
        dropLast: options.dropLast,
        batchSize: options.batchSize,
        nTest: test.length,
        nEvaluated: c.evaluated,
      },
    };
  } finally {
    restoreSnapshot(state, snap);
  }
}

/**
 * The pre-BatchNorm tap of an encoder: the activation that enters the first *active* BatchNorm on
 * the path from the input to r1. With `useBn: false` (every shipped spec) that BatchNorm is
 * `final.bn`, the standalone BatchNorm r1 is read from, so the tap is the output of `final.unit0`
 * and everything before it is free of BatchNorm: an inference graph computes it exactly as a
 * training-mode forward does, and only `final.bn` itself depends on the mode. With `useBn: true`
 * the first active BatchNorm sits inside the first residual unit, and the tap is that unit's
 * `conv_a` output.
 *
 * @module
 */
import type { EncoderPlan, PlanLayer, PlanModule } from "../model/plan.ts";

/** Name of the pre-BatchNorm output of an exported encoder. */
export const PRE_BN_OUTPUT = "pre_bn";

/** Where the first active BatchNorm on the path to r1 sits. */
export interface PreBnTap {
  /** The BatchNorm layer whose input is tapped (e.g. `final.bn`). */
  layer: PlanLayer;
  /** The trunk module holding it. */
  module: PlanModule;
  /** Index of that module in `plan.trunk`. */
  moduleIndex: number;
  /**
   * True when that BatchNorm is the standalone module r1 is read from, so r1 is exactly
   * `BatchNorm(tap)` reshaped to `[N, nRkhs]`.
   */
  feedsR1Directly: boolean;
}

/**
 * Finds the first active BatchNorm on the path to r1.
 *
 * @example
 * ```ts
 * const tap = preBnTap(encoderPlan(NAMED_ENCODERS.tiny));
 * tap.layer.name; // "final.bn"
 * tap.feedsR1Directly; // true
 * ```
 */
export function preBnTap(plan: EncoderPlan): PreBnTap {
  const r1Source = plan.outputs.r1.source;
  for (let i = 0; i < plan.trunk.length; i++) {
    const module = plan.trunk[i];
    const layer = module.layers.find((l) => l.kind === "batchnorm" && l.active);
    if (layer) {
      return {
        layer,
        module,
        moduleIndex: i,
        feedsR1Directly: module.kind === "batchnorm" && module.name === r1Source,
      };
    }
    if (module.name === r1Source) break;
  }
  throw new RangeError(`the encoder plan has no active BatchNorm before r1 (${r1Source})`);
}

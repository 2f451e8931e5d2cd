/**
 * r1 of a frozen encoder in either BatchNorm mode, with ONNX Runtime doing the convolutions: the
 * exported graph computes `pre_bn`, the input of `final.bn`, and tfjs applies `final.bn` itself
 * with the encoder's live variables — the same {@linkcode batchNorm} call as `encoder.apply`, so
 * training mode normalises with the batch statistics and returns the same running-statistics
 * updates. This is what lets `amdim-offline` (frozen encoder in training mode) run on ONNX
 * Runtime.
 *
 * It needs every BatchNorm before `final.bn` to be dormant (`encoder.useBn: false`): an active
 * one inside the trunk would have to run in training mode too, which an inference graph cannot
 * do. {@linkcode ortR1Support} says whether an encoder qualifies and, if not, why.
 *
 * The r5/r7 heads are not computed: their BatchNorm statistics never reach r1. (The tfjs path
 * computes them and lets their statistics drift with the rest; `amdim-offline` restores all of
 * them afterwards, so the encoder state after the protocol is the same either way.)
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { R1Source } from "../eval/r1_source.ts";
import { batchNorm, type BatchNormVariables } from "../model/batch_norm.ts";
import type { Encoder } from "../model/encoder.ts";
import { exportNamedTensors } from "../model/named_tensors.ts";
import type { StateUpdate } from "../model/types.ts";
import { BenchError } from "../util/errors.ts";
import { exportEncoderOnnx, weightLookup } from "./export_encoder.ts";
import { type OnnxEncoder, openOnnxEncoder } from "./ort_session.ts";
import { PRE_BN_OUTPUT, type PreBnTap, preBnTap } from "./pre_bn.ts";

/** Whether an encoder can have r1 computed through ONNX Runtime in training mode. */
export type OrtR1Support = { ok: true; tap: PreBnTap } | { ok: false; reason: string };

/**
 * Checks that the first active BatchNorm on the path to r1 is the final one.
 *
 * @example
 * ```ts
 * const s = ortR1Support(encoder);
 * if (!s.ok) console.log(s.reason);
 * ```
 */
export function ortR1Support(encoder: Pick<Encoder, "plan">): OrtR1Support {
  const tap = preBnTap(encoder.plan);
  if (tap.feedsR1Directly) return { ok: true, tap };
  return {
    ok: false,
    reason: `encoder.useBn is ${encoder.plan.config.useBn}: ${tap.layer.name} is an active ` +
      `BatchNorm inside the trunk, before ${encoder.plan.outputs.r1.source}; in training mode it ` +
      "needs batch statistics, which an ONNX Runtime inference graph does not compute",
  };
}

/** An ONNX Runtime {@linkcode R1Source} that owns its session. */
export interface OrtR1Source extends R1Source {
  readonly name: "onnxruntime";
  /** The session computing `pre_bn`. */
  readonly session: OnnxEncoder;
  /** Releases the session. */
  release(): Promise<void>;
}

function unsupported(reason: string, location: string): never {
  throw new BenchError("onnx_r1_unsupported", reason, {
    location,
    hint: "use the tfjs encoder for this configuration",
  });
}

/**
 * Wraps a session that exposes `pre_bn` (an export of `encoder`'s current weights with
 * `outputs` including `"pre_bn"`) as an {@linkcode R1Source}; `final.bn` comes from `encoder`.
 * The encoder's weights must not change while the source is used (its BatchNorm running
 * statistics may).
 *
 * @example
 * ```ts
 * const session = await onnxSessionOfEncoder(encoder, { outputs: ["r1", "pre_bn"] });
 * const source = ortR1Source(encoder, session);
 * ```
 */
export function ortR1Source(encoder: Encoder, session: OnnxEncoder): OrtR1Source {
  const support = ortR1Support(encoder);
  if (!support.ok) unsupported(support.reason, session.location);
  const { layer } = support.tap;
  const declared = session.metadata.preBnLayer;
  if (declared !== layer.name || !session.metadata.outputs?.split(",").includes(PRE_BN_OUTPUT)) {
    throw new BenchError(
      "onnx_model_mismatch",
      `the model has no "${PRE_BN_OUTPUT}" output before ${layer.name} (outputs: ${
        session.metadata.outputs ?? "unknown"
      }, preBnLayer: ${declared ?? "none"})`,
      { location: session.location, hint: `export the encoder with outputs including pre_bn` },
    );
  }
  const size = layer.inSize;
  const channels = layer.inChannels;
  const variables: BatchNormVariables = {
    name: layer.name,
    weight: encoder.variable(`${layer.name}.weight`),
    bias: encoder.variable(`${layer.name}.bias`),
    runningMean: encoder.variable(`${layer.name}.running_mean`),
    runningVar: encoder.variable(`${layer.name}.running_var`),
  };
  return {
    name: "onnxruntime",
    session,
    async r1(batch, { training }) {
      if (batch.height !== session.inputSize || batch.width !== session.inputSize) {
        throw new RangeError(
          `the views are ${batch.height}x${batch.width}, the ONNX encoder takes ${session.inputSize}`,
        );
      }
      const n = batch.n;
      const pre = (await session.runOutputs(batch.x, n, [PRE_BN_OUTPUT]))[PRE_BN_OUTPUT];
      if (pre.data.length !== n * size * size * channels) {
        throw new BenchError(
          "onnx_model_mismatch",
          `output "${PRE_BN_OUTPUT}" has shape [${pre.dims.join(", ")}], expected ` +
            `[${n}, ${size}, ${size}, ${channels}]`,
          { location: session.location, hint: "re-export the encoder's current weights" },
        );
      }
      const stateUpdates: StateUpdate[] = [];
      const r1 = tf.tidy(() => {
        const x = tf.tensor4d(pre.data, [n, size, size, channels]);
        const y = batchNorm(x, variables, training, stateUpdates);
        return tf.reshape(y, [n, encoder.plan.outputs.r1.channels]) as tf.Tensor2D;
      });
      return { r1, stateUpdates };
    },
    release: () => session.release(),
  };
}

/**
 * Exports `encoder`'s current weights with the `pre_bn` output in memory, opens them with ONNX
 * Runtime and wraps them with {@linkcode ortR1Source}. A `BenchError` `onnx_r1_unsupported` when
 * {@linkcode ortR1Support} refuses the encoder.
 *
 * @example
 * ```ts
 * const source = await openOrtR1Source(encoder);
 * try {
 *   const { r1, stateUpdates } = await source.r1(views, { training: true });
 * } finally {
 *   await source.release();
 * }
 * ```
 */
export async function openOrtR1Source(
  encoder: Encoder,
  options: { threads?: number } = {},
): Promise<OrtR1Source> {
  const support = ortR1Support(encoder);
  if (!support.ok) unsupported(support.reason, "<exported encoder>");
  const bytes = exportEncoderOnnx(encoder.config, weightLookup(await exportNamedTensors(encoder)), {
    outputs: [PRE_BN_OUTPUT],
  });
  const session = await openOnnxEncoder(bytes, {
    inputSize: encoder.config.inputSize,
    outputName: PRE_BN_OUTPUT,
    threads: options.threads,
    location: "<exported encoder>",
  });
  try {
    return ortR1Source(encoder, session);
  } catch (error) {
    await session.release();
    throw error;
  }
}

/**
 * Frozen features through ONNX Runtime: a {@linkcode FeatureExtractor} over an {@linkcode OnnxEncoder}
 * (an exported AMDIM encoder or any ONNX image encoder), fed by the same batched test transform as
 * the tfjs path ({@linkcode collectFeatures}).
 *
 * @module
 */
import type { Encoder } from "../model/encoder.ts";
import { exportNamedTensors } from "../model/named_tensors.ts";
import { collectFeatures, type FeatureExtractor } from "../eval/features.ts";
import { BenchError } from "../util/errors.ts";
import {
  exportEncoderOnnx,
  type ExportOutputName,
  type OnnxLayout,
  weightLookup,
} from "./export_encoder.ts";
import { type OnnxEncoder, openOnnxEncoder } from "./ort_session.ts";

/** An ONNX Runtime feature extractor that owns its session. */
export interface OnnxFeatureExtractor extends FeatureExtractor {
  readonly name: "onnxruntime";
  /** The session it runs. */
  readonly session: OnnxEncoder;
  /** Releases the session. */
  release(): Promise<void>;
}

/**
 * Wraps an opened ONNX encoder as a feature extractor.
 *
 * @example
 * ```ts
 * const fx = ortFeatureExtractor(await openOnnxEncoder("enc.onnx", { inputSize: 32 }));
 * const test = await fx.extract(testSet, { policy: "cifar" });
 * ```
 */
export function ortFeatureExtractor(session: OnnxEncoder): OnnxFeatureExtractor {
  return {
    name: "onnxruntime",
    session,
    extract: (source, options) =>
      collectFeatures(source, options, async (x, n, h, w) => {
        if (h !== session.inputSize || w !== session.inputSize) {
          throw new RangeError(
            `the test transform gives ${h}x${w} images, the ONNX encoder takes ${session.inputSize}`,
          );
        }
        return (await session.run(x, n)).features;
      }),
    release: () => session.release(),
  };
}

/**
 * Exports a tfjs encoder's current weights to ONNX in memory (outputs r1 by default; add
 * `"pre_bn"` for an `ortR1Source` on the same session) and opens them with ONNX
 * Runtime. The session's `run` reads r1.
 *
 * @example
 * ```ts
 * const session = await onnxSessionOfEncoder(encoder);
 * ```
 */
export async function onnxSessionOfEncoder(
  encoder: Encoder,
  options: { layout?: OnnxLayout; threads?: number; outputs?: readonly ExportOutputName[] } = {},
): Promise<OnnxEncoder> {
  const outputs = options.outputs ?? ["r1"];
  if (!outputs.includes("r1")) {
    throw new BenchError("usage", `outputs must include r1, got [${outputs}]`, {
      location: "onnxSessionOfEncoder",
      hint: "r1 is the feature the session's run() returns",
    });
  }
  const bytes = exportEncoderOnnx(encoder.config, weightLookup(await exportNamedTensors(encoder)), {
    layout: options.layout ?? "nhwc",
    outputs,
  });
  return openOnnxEncoder(bytes, {
    inputSize: encoder.config.inputSize,
    outputName: "r1",
    threads: options.threads,
    location: "<exported encoder>",
  });
}

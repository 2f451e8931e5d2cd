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
import { exportEncoderOnnx, type OnnxLayout, weightLookup } from "./export_encoder.ts";
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
 * Exports a tfjs encoder's current weights (r1 only) to ONNX in memory and opens them with ONNX
 * Runtime.
 *
 * @example
 * ```ts
 * const session = await onnxSessionOfEncoder(encoder);
 * ```
 */
export async function onnxSessionOfEncoder(
  encoder: Encoder,
  options: { layout?: OnnxLayout; threads?: number } = {},
): Promise<OnnxEncoder> {
  const bytes = exportEncoderOnnx(encoder.config, weightLookup(await exportNamedTensors(encoder)), {
    layout: options.layout ?? "nhwc",
    outputs: ["r1"],
  });
  return openOnnxEncoder(bytes, {
    inputSize: encoder.config.inputSize,
    outputName: "r1",
    threads: options.threads,
    location: "<exported encoder>",
  });
}

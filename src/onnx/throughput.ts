/**
 * Feature-extraction throughput (images/s) of the two paths, tfjs (the active backend) and ONNX
 * Runtime (CPU), on the same weights and the same seeded batch, plus how far their r1 outputs
 * are apart.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Encoder } from "../model/encoder.ts";
import { Rng } from "../util/rng.ts";
import type { OnnxEncoder } from "./ort_session.ts";

/** Options of {@linkcode measureFeatureThroughput}. */
export interface ThroughputOptions {
  /** Images per forward pass (default 64). */
  batch?: number;
  /** Timed forward passes per path after one warm-up pass (default 3). */
  repeats?: number;
  /** Seed of the batch (default 0). */
  seed?: number;
  /** Measure only these paths (default both). */
  paths?: readonly ("tfjs" | "onnxruntime")[];
}

/** Measured throughput of each path and the largest r1 difference between them. */
export interface ThroughputResult {
  batch: number;
  repeats: number;
  /** images/s of the tfjs path (null when not measured). */
  tfjs: number | null;
  /** images/s of the ONNX Runtime path (null when not measured). */
  onnxruntime: number | null;
  /** max |r1_tfjs − r1_ort| / max(1, |r1_tfjs|) on the batch (null unless both ran). */
  maxRelDiff: number | null;
}

/**
 * Times r1 extraction through tfjs (`encoder.apply`, eval mode, read back to the host) and
 * through ONNX Runtime (`session.run`) on one seeded batch of U(−1, 1) images.
 *
 * @example
 * ```ts
 * const r = await measureFeatureThroughput(encoder, await onnxSessionOfEncoder(encoder));
 * console.log(r.tfjs, r.onnxruntime);
 * ```
 */
export async function measureFeatureThroughput(
  encoder: Encoder,
  session: OnnxEncoder | null,
  options: ThroughputOptions = {},
): Promise<ThroughputResult> {
  const batch = options.batch ?? 64;
  const repeats = options.repeats ?? 3;
  const paths = options.paths ?? ["tfjs", "onnxruntime"];
  const s = encoder.config.inputSize;
  const x = new Rng(options.seed ?? 0, "feature-throughput", batch, s).fillUniform(
    new Float32Array(batch * s * s * 3),
    -1,
    1,
  );
  let tfjsRate: number | null = null;
  let ortRate: number | null = null;
  let ref: Float32Array | null = null;
  let got: Float32Array | null = null;
  if (paths.includes("tfjs")) {
    const once = async () => {
      const r1 = tf.tidy(() => {
        const { outputs } = encoder.apply(tf.tensor4d(x, [batch, s, s, 3]), { training: false });
        return outputs.r1;
      });
      try {
        return await r1.data() as Float32Array;
      } finally {
        r1.dispose();
      }
    };
    ref = await once();
    const t0 = performance.now();
    for (let i = 0; i < repeats; i++) await once();
    tfjsRate = (batch * repeats) / ((performance.now() - t0) / 1000);
  }
  if (session && paths.includes("onnxruntime")) {
    got = (await session.run(x, batch)).features;
    const t0 = performance.now();
    for (let i = 0; i < repeats; i++) await session.run(x, batch);
    ortRate = (batch * repeats) / ((performance.now() - t0) / 1000);
  }
  const maxRelDiff = ref && got ? maxRelativeDifference(ref, got) : null;
  return { batch, repeats, tfjs: tfjsRate, onnxruntime: ortRate, maxRelDiff };
}

/**
 * max |ref − got| / max(1, |ref|) over all values; Infinity when the lengths differ or a value is
 * NaN.
 *
 * @example
 * ```ts
 * maxRelativeDifference(new Float32Array([2, 0]), new Float32Array([2.002, 0.001])); // ≈ 0.001
 * ```
 */
export function maxRelativeDifference(ref: Float32Array, got: Float32Array): number {
  if (ref.length !== got.length) return Infinity;
  let max = 0;
  for (let i = 0; i < ref.length; i++) {
    const d = Math.abs(ref[i] - got[i]) / Math.max(1, Math.abs(ref[i]));
    if (!(d <= max)) max = Number.isNaN(d) ? Infinity : d;
  }
  return max;
}

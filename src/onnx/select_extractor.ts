/**
 * Chooses how the frozen features of a run are extracted: `tfjs` (the active backend), or
 * `onnxruntime` (the same weights exported to ONNX and run by ONNX Runtime on the CPU), or `auto`.
 *
 * `auto` decides by rule, never by a timing, so that the same spec, seed and backend always take
 * the same path (and give the same numbers): on the CPU backends (`cpu`, `wasm`, `native`,
 * `tensorflow`), where ONNX Runtime extracts features several times faster, it uses ONNX Runtime
 * when it loads and its r1 agrees with TF.js on a calibration batch (relative difference ≤ 1e-4);
 * on GPU backends it keeps TF.js. Both rates are still measured and recorded for information. The
 * choice, the reason and the rates are recorded with the run
 * (`environment.backend.details.featureExtractor*`).
 *
 * @module
 */
import type { Encoder } from "../model/encoder.ts";
import { type FeatureExtractor, tfjsFeatureExtractor } from "../eval/features.ts";
import { BenchError } from "../util/errors.ts";
import { onnxSessionOfEncoder, ortFeatureExtractor } from "./ort_features.ts";
import type { OnnxEncoder } from "./ort_session.ts";
import { measureFeatureThroughput, type ThroughputResult } from "./throughput.ts";

/** What `--feature-extractor` accepts. */
export const FEATURE_EXTRACTORS = ["auto", "tfjs", "onnxruntime"] as const;
/** One of {@linkcode FEATURE_EXTRACTORS}. */
export type FeatureExtractorChoice = typeof FEATURE_EXTRACTORS[number];

/** Backends on which `auto` extracts features with ONNX Runtime. */
export const CPU_BACKENDS: ReadonlySet<string> = new Set(["cpu", "wasm", "native", "tensorflow"]);

/** Largest relative r1 difference at which `auto` accepts ONNX Runtime. */
export const AUTO_PARITY_TOLERANCE = 1e-4;

/** The extractor a run uses, why, and what was measured. */
export interface ResolvedFeatureExtractor {
  /** The extractor to hand to the protocols. */
  extractor: FeatureExtractor;
  /** What was asked for. */
  requested: FeatureExtractorChoice;
  /** Why this one. */
  reason: string;
  /** The calibration measurement (`auto` only). */
  measured: ThroughputResult | null;
  /** Record entries (`featureExtractor`, `featureExtractorReason`, ...), all strings. */
  details: Record<string, string>;
  /** Releases an ONNX Runtime session if one was opened. */
  release(): Promise<void>;
}

/**
 * Checks a `--feature-extractor` value.
 *
 * @example
 * ```ts
 * parseFeatureExtractorChoice("auto"); // "auto"
 * ```
 */
export function parseFeatureExtractorChoice(value: string): FeatureExtractorChoice {
  if ((FEATURE_EXTRACTORS as readonly string[]).includes(value)) {
    return value as FeatureExtractorChoice;
  }
  throw new BenchError("usage", `unknown feature extractor "${value}"`, {
    location: "--feature-extractor",
    hint: `one of ${FEATURE_EXTRACTORS.join(", ")}`,
  });
}

/**
 * Resolves the feature extractor of a run for `encoder` (its weights are exported as they are
 * now; call it after pretraining).
 *
 * @example
 * ```ts
 * const fx = await resolveFeatureExtractor(encoder, { requested: "auto", backend: "wasm" });
 * await runProtocols({ ...ctx, featureExtractor: fx.extractor });
 * await fx.release();
 * ```
 */
export async function resolveFeatureExtractor(
  encoder: Encoder,
  options: {
    requested: FeatureExtractorChoice;
    /** Name of the active tfjs backend (for the reason text). */
    backend: string;
    /** Calibration batch (default 64). */
    batch?: number;
    /** ONNX Runtime threads. */
    threads?: number;
    log?: (line: string) => void;
  },
): Promise<ResolvedFeatureExtractor> {
  const { requested, backend } = options;
  const tfjs = tfjsFeatureExtractor(encoder);
  const done = (
    extractor: FeatureExtractor,
    reason: string,
    measured: ThroughputResult | null,
    session: OnnxEncoder | null,
  ): ResolvedFeatureExtractor => {
    const details: Record<string, string> = {
      featureExtractor: extractor.name,
      featureExtractorRequested: requested,
      featureExtractorReason: reason,
      featureExtractorScope: "linear-probe,knn",
    };
    if (measured?.tfjs) details.featureTfjsImagesPerSecond = measured.tfjs.toFixed(1);
    if (measured?.onnxruntime) {
      details.featureOrtImagesPerSecond = measured.onnxruntime.toFixed(1);
    }
    if (session) details.onnxruntime = session.runtimeVersion;
    return {
      extractor,
      requested,
      reason,
      measured,
      details,
      release: async () => {
        if (session) await session.release();
      },
    };
  };
  if (requested === "tfjs") return done(tfjs, "requested", null, null);
  if (requested === "onnxruntime") {
    const session = await onnxSessionOfEncoder(encoder, { threads: options.threads });
    return done(ortFeatureExtractor(session), "requested", null, session);
  }
  let session: OnnxEncoder;
  try {
    session = await onnxSessionOfEncoder(encoder, { threads: options.threads });
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    return done(tfjs, `onnxruntime unavailable (${why})`, null, null);
  }
  const measured = await measureFeatureThroughput(encoder, session, {
    batch: options.batch ?? 64,
    repeats: 2,
  });
  const rates = `tfjs/${backend} ${measured.tfjs!.toFixed(0)} images/s, onnxruntime/cpu ${
    measured.onnxruntime!.toFixed(0)
  } images/s`;
  options.log?.(`feature extractor: measured ${rates}`);
  if (measured.maxRelDiff === null || !(measured.maxRelDiff <= AUTO_PARITY_TOLERANCE)) {
    await session.release();
    return done(
      tfjs,
      `onnxruntime r1 differs from tfjs by ${measured.maxRelDiff} (> ${AUTO_PARITY_TOLERANCE})`,
      measured,
      null,
    );
  }
  if (CPU_BACKENDS.has(backend)) {
    return done(
      ortFeatureExtractor(session),
      `cpu backend ${backend}: ${rates}`,
      measured,
      session,
    );
  }
  await session.release();
  return done(tfjs, `accelerator backend ${backend}: ${rates}`, measured, null);
}

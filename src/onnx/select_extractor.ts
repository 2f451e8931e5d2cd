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
 * For a run with an `amdim-offline` entry, the same choice covers its r1 (the frozen encoder in
 * training mode): on ONNX Runtime, the session also exposes `pre_bn` and tfjs applies `final.bn`
 * ({@linkcode ortR1Source}); `auto` additionally requires that `final.bn` of `pre_bn` (eval mode)
 * gives ONNX Runtime's own r1 to within the same tolerance. An encoder with an active BatchNorm
 * before `final.bn` (`useBn: true`) keeps tfjs for `amdim-offline`, and the record says why
 * (`featureExtractorOffline`, `featureExtractorOfflineReason`).
 *
 * @module
 */
import type { Encoder } from "../model/encoder.ts";
import { type FeatureExtractor, tfjsFeatureExtractor } from "../eval/features.ts";
import { type R1Source, tfjsR1Source } from "../eval/r1_source.ts";
import { BenchError } from "../util/errors.ts";
import { Rng } from "../util/rng.ts";
import type { ExportOutputName } from "./export_encoder.ts";
import { onnxSessionOfEncoder, ortFeatureExtractor } from "./ort_features.ts";
import { ortR1Source, ortR1Support } from "./ort_r1_source.ts";
import type { OnnxEncoder } from "./ort_session.ts";
import { PRE_BN_OUTPUT } from "./pre_bn.ts";
import {
  maxRelativeDifference,
  measureFeatureThroughput,
  type ThroughputResult,
} from "./throughput.ts";

/** What `--feature-extractor` accepts. */
export const FEATURE_EXTRACTORS = ["auto", "tfjs", "onnxruntime"] as const;
/** One of {@linkcode FEATURE_EXTRACTORS}. */
export type FeatureExtractorChoice = typeof FEATURE_EXTRACTORS[number];

/** Backends on which `auto` extracts features with ONNX Runtime. */
export const CPU_BACKENDS: ReadonlySet<string> = new Set(["cpu", "wasm", "native", "tensorflow"]);

/** Largest relative r1 difference at which `auto` accepts ONNX Runtime. */
export const AUTO_PARITY_TOLERANCE = 1e-4;

/** Images of the `auto` check of the `amdim-offline` path. */
export const OFFLINE_CALIBRATION_BATCH = 8;

/** The extractor a run uses, why, and what was measured. */
export interface ResolvedFeatureExtractor {
  /** The extractor to hand to `linear-probe` and `knn`. */
  extractor: FeatureExtractor;
  /**
   * Where `amdim-offline` gets r1: ONNX Runtime (pre-BatchNorm graph + tfjs `final.bn`) when
   * `offline` was asked for, the extractor is `onnxruntime` and the encoder qualifies; the tfjs
   * encoder otherwise. An ONNX Runtime source shares the extractor's session: usable until
   * `release()`.
   */
  offline: R1Source;
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
 * const fx = await resolveFeatureExtractor(encoder, { requested: "auto", backend: "wasm", offline: true });
 * await runProtocols({ ...ctx, featureExtractor: fx.extractor, offlineFeatures: fx.offline });
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
    /** The run has an `amdim-offline` entry: resolve its r1 source too (default false). */
    offline?: boolean;
    log?: (line: string) => void;
  },
): Promise<ResolvedFeatureExtractor> {
  const { requested, backend } = options;
  const tfjs = tfjsFeatureExtractor(encoder);
  const support = options.offline ? ortR1Support(encoder) : null;
  const outputs: ExportOutputName[] = support?.ok ? ["r1", PRE_BN_OUTPUT] : ["r1"];
  const openSession = () => onnxSessionOfEncoder(encoder, { threads: options.threads, outputs });
  const followsTfjs = { source: tfjsR1Source(encoder), reason: "the feature extractor is tfjs" };
  const done = (
    extractor: FeatureExtractor,
    reason: string,
    measured: ThroughputResult | null,
    session: OnnxEncoder | null,
    offline: { source: R1Source; reason: string } = followsTfjs,
  ): ResolvedFeatureExtractor => {
    const sameForOffline = support !== null && offline.source.name === extractor.name;
    const details: Record<string, string> = {
      featureExtractor: extractor.name,
      featureExtractorRequested: requested,
      featureExtractorReason: reason,
      featureExtractorScope: sameForOffline ? "linear-probe,knn,amdim-offline" : "linear-probe,knn",
    };
    if (support) {
      details.featureExtractorOffline = offline.source.name;
      details.featureExtractorOfflineReason = offline.reason;
    }
    if (measured?.tfjs) details.featureTfjsImagesPerSecond = measured.tfjs.toFixed(1);
    if (measured?.onnxruntime) {
      details.featureOrtImagesPerSecond = measured.onnxruntime.toFixed(1);
    }
    if (session) details.onnxruntime = session.runtimeVersion;
    return {
      extractor,
      offline: offline.source,
      requested,
      reason,
      measured,
      details,
      release: async () => {
        if (session) await session.release();
      },
    };
  };
  /** The `amdim-offline` source on an ONNX Runtime session that exposes `pre_bn` when possible. */
  const offlineOn = (session: OnnxEncoder): { source: R1Source; reason: string } => {
    if (support === null) return followsTfjs;
    if (!support.ok) return { source: tfjsR1Source(encoder), reason: support.reason };
    const bn = support.tap.layer.name;
    return {
      source: ortR1Source(encoder, session),
      reason: `onnxruntime computes the input of ${bn}; tfjs applies ${bn} ` +
        "(training mode: batch statistics)",
    };
  };
  if (requested === "tfjs") return done(tfjs, "requested", null, null);
  if (requested === "onnxruntime") {
    const session = await openSession();
    return done(ortFeatureExtractor(session), "requested", null, session, offlineOn(session));
  }
  let session: OnnxEncoder;
  try {
    session = await openSession();
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
    let offline = offlineOn(session);
    if (offline.source.name === "onnxruntime") {
      const diff = await offlineParity(offline.source, session, encoder.config.inputSize);
      if (!(diff <= AUTO_PARITY_TOLERANCE)) {
        offline = {
          source: tfjsR1Source(encoder),
          reason: `onnxruntime ${PRE_BN_OUTPUT} through tfjs's final BatchNorm differs from ` +
            `its r1 by ${diff} (> ${AUTO_PARITY_TOLERANCE})`,
        };
      }
    }
    return done(
      ortFeatureExtractor(session),
      `cpu backend ${backend}: ${rates}`,
      measured,
      session,
      offline,
    );
  }
  await session.release();
  return done(tfjs, `accelerator backend ${backend}: ${rates}`, measured, null);
}

/**
 * Largest relative difference between an ONNX Runtime {@linkcode R1Source}'s eval-mode r1 and the
 * session's own r1 on a seeded batch: checks that `pre_bn` is the input of the BatchNorm tfjs
 * applies.
 */
async function offlineParity(
  source: R1Source,
  session: OnnxEncoder,
  size: number,
): Promise<number> {
  const n = OFFLINE_CALIBRATION_BATCH;
  const x = new Rng(0, "offline-calibration", size).fillUniform(
    new Float32Array(n * size * size * 3),
    -1,
    1,
  );
  const ref = (await session.runOutputs(x, n, ["r1"])).r1.data;
  const { r1 } = await source.r1({ x, n, height: size, width: size }, { training: false });
  try {
    return maxRelativeDifference(ref, await r1.data() as Float32Array);
  } finally {
    r1.dispose();
  }
}

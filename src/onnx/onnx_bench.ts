/**
 * Benchmarks any ONNX image encoder under a spec's frozen-feature protocols (`linear-probe`,
 * `knn`): the spec's data (verified against its pins), its policy's test transform and
 * normalisation, the model run by ONNX Runtime, and a record like any other run's, with
 * `encoder: {source: "onnx", path, sha256, inputName, outputName, layout, ...}`. Protocols that
 * need more than frozen eval-mode features are skipped with the reason recorded: `amdim-online`
 * (the heads trained during pretraining) and `amdim-offline` (it runs the encoder in training
 * mode, with batch statistics, which an inference graph does not have).
 *
 * @module
 */
import { join, resolve } from "node:path";
import { AugmentPool } from "../augment/pipeline.ts";
import { getPolicy } from "../augment/policy.ts";
import type { ImageDataset } from "../data/types.ts";
import { FeatureCache, rawPixelFeatures } from "../eval/features.ts";
import { knnEval } from "../eval/knn.ts";
import { linearProbe } from "../eval/linear_probe.ts";
import type { BaselineName } from "../eval/run_protocols.ts";
import type { EvalLog, EvalResult, FeatureSet, MetricValue } from "../eval/types.ts";
import { captureCode, captureEnvironment } from "../report/environment.ts";
import { EVENT, openEventLog } from "../report/events.ts";
import { readPublished, referenceFor } from "../report/published.ts";
import { createRunDir, makeRunId, writeRecord } from "../report/record.ts";
import type { BackendDescription, OnnxEncoderSource, RunRecord } from "../report/record_types.ts";
import { comparableHash } from "../spec/canonical.ts";
import { loadSpec } from "../spec/load.ts";
import type { EvalSpec, Spec } from "../spec/types.ts";
import { openSpecData, requestedBaselines } from "../train/run_benchmark.ts";
import { writeJsonAtomic } from "../util/atomic_write.ts";
import type { OnnxLayout } from "./export_encoder.ts";
import { ortFeatureExtractor } from "./ort_features.ts";
import { type OnnxEncoder, openOnnxEncoder } from "./ort_session.ts";

/** Options of {@linkcode runOnnxBenchmark}. */
export interface RunOnnxBenchmarkOptions {
  /** Spec id or path. */
  target: string;
  /** `--set` overrides. */
  overrides?: string[];
  /** The `.onnx` file. */
  encoderPath: string;
  /** Input layout (default: from the model's metadata or input shape). */
  layout?: OnnxLayout;
  /** Output to read (default `r1`, or the model's only output). */
  outputName?: string;
  /** Results folder (default `results`). */
  resultsDir?: string;
  /** Data folder. */
  dataDir?: string;
  /** Specs folder. */
  specsDir?: string;
  /** Extra baselines (only `raw-pixels` applies to a foreign encoder). */
  baselines?: BaselineName[];
  /** The active tfjs backend (runs the protocols' classifiers). */
  backend: BackendDescription;
  /** ONNX Runtime threads. */
  threads?: number;
  /** Augmentation worker threads (default 0). */
  workers?: number;
  /** Progress lines. */
  progress?: (line: string) => void;
}

/** Why a protocol is not run on an ONNX encoder. */
export const ONNX_SKIP_REASONS: Readonly<Record<string, string>> = {
  "amdim-online": "needs the online classifier heads trained during pretraining; " +
    "an ONNX encoder has none",
  "amdim-offline": "runs the encoder in training mode (BatchNorm batch statistics) on augmented " +
    "views; an ONNX inference graph gives only frozen eval-mode features",
};

/**
 * Runs a spec's linear-probe / knn entries on frozen features and returns one result per entry
 * (the same calls, with the same hyperparameters, as the pretrained-encoder path).
 *
 * @example
 * ```ts
 * const results = await featureProtocolResults(spec.eval, train, test, console.log);
 * ```
 */
export async function featureProtocolResults(
  entries: readonly EvalSpec[],
  train: FeatureSet,
  test: FeatureSet,
  log?: EvalLog,
): Promise<EvalResult[]> {
  const out: EvalResult[] = [];
  for (const entry of entries) {
    if (entry.protocol === "linear-probe") {
      const { valFraction, seed, l2, epochs, batchSize, lr } = entry;
      out.push(
        await linearProbe(train, test, { valFraction, seed, l2, epochs, batchSize, lr }, log),
      );
    } else if (entry.protocol === "knn") {
      const { k, temperature, normalize } = entry;
      out.push(await knnEval(train, test, { k, temperature, normalize }));
    }
  }
  return out;
}

/** What {@linkcode runOnnxBenchmark} returns. */
export interface RunOnnxBenchmarkResult {
  record: RunRecord;
  recordPath: string;
  runDir: string;
}

/**
 * Evaluates an ONNX encoder under a spec and writes its record. The model is checked against the
 * spec (input size, float32 input, a usable output) before any run folder is created.
 *
 * @example
 * ```ts
 * const { record } = await runOnnxBenchmark({
 *   target: "smoke", encoderPath: "encoder.onnx", backend: info,
 * });
 * ```
 */
export async function runOnnxBenchmark(
  options: RunOnnxBenchmarkOptions,
): Promise<RunOnnxBenchmarkResult> {
  const progress = options.progress ?? (() => {});
  const resultsDir = resolve(options.resultsDir ?? "results");
  const overrides = options.overrides ?? [];
  const loaded = await loadSpec(options.target, { overrides, specsDir: options.specsDir });
  const spec: Spec = loaded.spec;
  const session = await openOnnxEncoder(options.encoderPath, {
    inputSize: spec.encoder.inputSize,
    layout: options.layout,
    outputName: options.outputName,
    threads: options.threads,
  });
  let train: ImageDataset | undefined;
  let test: ImageDataset | undefined;
  let pool: AugmentPool | undefined;
  try {
    const startedAt = new Date().toISOString();
    const data = await openSpecData(spec, { dataDir: options.dataDir });
    ({ train, test } = data);
    pool = options.workers ? new AugmentPool(options.workers) : undefined;
    const code = await captureCode();
    const { runId, dir: runDir } = await createRunDir(
      join(resultsDir, "runs"),
      makeRunId(spec.id, loaded.hash, new Date()),
    );
    const baselines = requestedBaselines(spec, options.baselines);
    await writeJsonAtomic(join(runDir, "spec.json"), {
      spec,
      specHash: loaded.hash,
      overrides,
      baselines,
      startedAt,
      encoder: { source: "onnx", path: options.encoderPath, sha256: session.sha256 },
    }, { noOverwrite: true });
    progress(`run ${runId} (${spec.id}, ONNX encoder ${session.sha256.slice(0, 12)}) -> ${runDir}`);
    const log = await openEventLog(runDir);
    try {
      await log.append({
        event: EVENT.runStart,
        runId,
        specHash: loaded.hash,
        encoder: "onnx",
        encoderSha256: session.sha256,
      });
    } finally {
      log.close();
    }
    const t0 = performance.now();
    const { metrics, seconds, skipped, featureDim, baselineValues } = await evaluateOnnxEncoder(
      spec,
      session,
      train,
      test,
      {
        cache: new FeatureCache(join(resultsDir, ".cache", "features")),
        pool,
        log: progress,
        baselines,
      },
    );
    const evalSeconds = (performance.now() - t0) / 1000;
    const environment = await captureEnvironment(options.backend);
    environment.backend.details = {
      ...environment.backend.details,
      featureExtractor: "onnxruntime",
      featureExtractorReason: "ONNX encoder (--encoder)",
      onnxruntime: session.runtimeVersion,
    };
    const norm = getPolicy(spec.augment.policy).normalization;
    const encoder: OnnxEncoderSource = {
      source: "onnx",
      path: options.encoderPath,
      sha256: session.sha256,
      inputName: session.inputName,
      outputName: session.outputName,
      layout: session.layout,
      inputSize: session.inputSize,
      ...(featureDim ? { featureDim } : {}),
      normalization: { mean: [...norm.mean], std: [...norm.std] },
      runtime: `onnxruntime-node ${session.runtimeVersion} (cpu)`,
      metadata: session.metadata,
      skipped,
    };
    const record: RunRecord = {
      schemaVersion: 1,
      runId,
      status: "complete",
      specId: spec.id,
      spec,
      specHash: loaded.hash,
      comparableHash: comparableHash(spec),
      overrides,
      datasetHashes: data.hashes,
      code,
      environment,
      seeds: { pretrain: spec.pretrain.seed, augment: spec.augment.seed },
      phases: {
        pretrain: { wallSeconds: 0, imagesPerSecond: null, steps: 0 },
        eval: { wallSeconds: evalSeconds, byProtocol: seconds },
      },
      peakMemoryBytes: null,
      metrics,
      ...(Object.keys(baselineValues).length ? { baselines: baselineValues } : {}),
      reference: spec.reference === null ? null : referenceFor(spec, await readPublished()),
      encoder,
      startedAt,
      finishedAt: new Date().toISOString(),
    };
    const events = await openEventLog(runDir);
    try {
      for (const [metric, m] of Object.entries(metrics)) {
        await events.append({
          event: EVENT.evalResult,
          protocol: metric.split(".")[0],
          metric,
          value: m.last,
          split: "test",
          ...(m.selected ? { setting: m.selected } : {}),
        });
      }
      await events.append({ event: EVENT.runEnd, wallSeconds: evalSeconds });
    } finally {
      events.close();
    }
    const recordPath = await writeRecord(runDir, record);
    return { record, recordPath, runDir };
  } finally {
    pool?.close();
    train?.close();
    test?.close();
    await session.release();
  }
}

/** What {@linkcode evaluateOnnxEncoder} measured. */
export interface OnnxEvaluation {
  metrics: Record<string, MetricValue>;
  /** Wall seconds per protocol. */
  seconds: Record<string, number>;
  /** Protocols not run, with the reason. */
  skipped: { protocol: string; reason: string }[];
  /** Feature dimension of the output read (0 when no feature protocol ran). */
  featureDim: number;
  /** Baseline values `<baseline>/<metric>`. */
  baselineValues: Record<string, number>;
}

/**
 * The protocols of `spec.eval` that need only frozen features, on an opened ONNX encoder; the
 * library function behind `deno task bench --encoder` (no record written).
 *
 * @example
 * ```ts
 * const { metrics, skipped } = await evaluateOnnxEncoder(spec, session, train, test, {
 *   cache: new FeatureCache(),
 * });
 * ```
 */
export async function evaluateOnnxEncoder(
  spec: Spec,
  session: OnnxEncoder,
  train: ImageDataset,
  test: ImageDataset,
  options: {
    cache: FeatureCache;
    pool?: AugmentPool;
    log?: EvalLog;
    baselines?: readonly BaselineName[];
  },
): Promise<OnnxEvaluation> {
  const { cache, pool, log } = options;
  const policy = spec.augment.policy;
  const extractor = ortFeatureExtractor(session);
  const features = async (ds: ImageDataset, raw: boolean): Promise<FeatureSet> => {
    const key = {
      model: raw ? "raw-pixels" : `onnx:${session.sha256}:${session.outputName}:${session.layout}`,
      dataset: ds.id,
      split: ds.split,
      transform: `test:${policy}`,
      feature: raw ? "pixels" : session.outputName,
      n: ds.length,
    };
    return await cache.get(key, () => {
      log?.(`features: ${key.model.slice(0, 24)} ${ds.id}/${ds.split} (${ds.length} images)`);
      return raw ? rawPixelFeatures(ds, { policy, pool }) : extractor.extract(ds, { policy, pool });
    });
  };
  const metrics: Record<string, MetricValue> = {};
  const seconds: Record<string, number> = {};
  const skipped: { protocol: string; reason: string }[] = [];
  let featureDim = 0;
  for (const entry of spec.eval) {
    if (entry.protocol !== "linear-probe" && entry.protocol !== "knn") {
      const reason = ONNX_SKIP_REASONS[entry.protocol] ?? "not a frozen-feature protocol";
      skipped.push({ protocol: entry.protocol, reason });
      log?.(`${entry.protocol}: skipped (${reason})`);
      continue;
    }
    const t0 = performance.now();
    const trainSet = await features(train, false);
    const testSet = await features(test, false);
    featureDim = trainSet.dim;
    for (const r of await featureProtocolResults([entry], trainSet, testSet, log)) {
      Object.assign(metrics, r.metrics);
      for (const [name, m] of Object.entries(r.metrics)) {
        log?.(
          `${name}: ${(m.last * 100).toFixed(2)}%` +
            (m.bestVal !== undefined ? ` (bestVal ${(m.bestVal * 100).toFixed(2)}%)` : ""),
        );
      }
    }
    seconds[entry.protocol] = (seconds[entry.protocol] ?? 0) + (performance.now() - t0) / 1000;
  }
  const baselineValues: Record<string, number> = {};
  const entries = spec.eval.filter((e) => e.protocol === "linear-probe" || e.protocol === "knn");
  for (const b of options.baselines ?? []) {
    if (b !== "raw-pixels") {
      skipped.push({
        protocol: `baseline ${b}`,
        reason: "random-init needs the AMDIM initialisation of the spec's encoder, not this model",
      });
      continue;
    }
    const trainSet = await features(train, true);
    const testSet = await features(test, true);
    for (const r of await featureProtocolResults(entries, trainSet, testSet, log)) {
      for (const [metric, v] of Object.entries(r.metrics)) {
        baselineValues[`${b}/${metric}`] = v.last;
      }
    }
  }
  return { metrics, seconds, skipped, featureDim, baselineValues };
}

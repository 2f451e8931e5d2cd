/**
 * One benchmark run end to end: resolve the spec, open and verify the data, start the backend,
 * pretrain (or resume), evaluate every protocol (and the requested baselines), write the record.
 * The `bench` command is a thin shell around {@linkcode runBenchmark}.
 *
 * Run folder `<results>/runs/<runId>/`: `spec.json` (the resolved spec, its hash and overrides,
 * written first so a killed run can be resumed), `metrics.jsonl`, `checkpoints/last.safetensors`
 * and `final.safetensors`, `record.json` (written once at the end, atomically). Resuming a run
 * whose record says `interrupted` or `failed` keeps that record as `record.attempt-<n>.json` and
 * writes the final `record.json`; a `complete` run cannot be resumed.
 *
 * @module
 */
import { basename, join, resolve } from "node:path";
import { AugmentPool } from "../augment/pipeline.ts";
import { openDataset } from "../data/open_dataset.ts";
import { getDataset } from "../data/get.ts";
import { stderrDownloadProgress } from "../data/progress.ts";
import { datasetFingerprint } from "../data/fingerprint.ts";
import type { ImageDataset } from "../data/types.ts";
import { FeatureCache } from "../eval/features.ts";
import { type BaselineName, runBaselines, runProtocols } from "../eval/run_protocols.ts";
import type { MetricValue } from "../eval/types.ts";
import { createRunDir, makeRunId, RECORD_FILE, writeRecord } from "../report/record.ts";
import type { BackendDescription, RunRecord } from "../report/record_types.ts";
import { captureCode, captureEnvironment } from "../report/environment.ts";
import { EVENT, openEventLog } from "../report/events.ts";
import { readPublished, referenceFor } from "../report/published.ts";
import { comparableHash, specHash } from "../spec/canonical.ts";
import { loadSpec } from "../spec/load.ts";
import type { Spec } from "../spec/types.ts";
import { BenchError } from "../util/errors.ts";
import { sha256File } from "../util/hash.ts";
import { writeJsonAtomic } from "../util/atomic_write.ts";
import { FINAL_CHECKPOINT, pretrain, type StopSignal } from "./pretrain.ts";
import { type FeatureExtractorChoice, resolveFeatureExtractor } from "../onnx/select_extractor.ts";

/** Options of {@linkcode runBenchmark}. */
export interface RunBenchmarkOptions {
  /** Spec id or path (ignored with `resume`). */
  target?: string;
  /** `--set` overrides. */
  overrides?: string[];
  /** Overrides `pretrain.seed` and `augment.seed`. */
  seed?: number;
  /** Run id or folder to resume. */
  resume?: string;
  /** Results folder (default `results`). */
  resultsDir?: string;
  /** Data folder. */
  dataDir?: string;
  /** Specs folder. */
  specsDir?: string;
  /** Baselines to run for every feature protocol, on top of the spec's `eval[].baselines`. */
  baselines?: BaselineName[];
  /** The started backend (the caller starts it). */
  backend: BackendDescription;
  /** Stop flag (SIGINT). */
  stop?: StopSignal;
  /** Progress lines. */
  progress?: (line: string) => void;
  /** Deliberate NaN at an update (fault-injection tests). */
  nanAtStep?: number;
  /** Augmentation worker threads (default 0: in-thread). */
  workers?: number;
  /**
   * How linear-probe / knn features and amdim-offline's r1 are computed (default `tfjs`; `auto`:
   * ONNX Runtime on CPU backends when it agrees with tfjs, tfjs on GPU backends). Recorded in
   * `environment.backend.details`.
   */
  featureExtractor?: FeatureExtractorChoice;
}

/** What {@linkcode runBenchmark} returns. */
export interface RunBenchmarkResult {
  /** The record written. */
  record: RunRecord;
  /** Its path. */
  recordPath: string;
  /** The run folder. */
  runDir: string;
}

interface SavedSpec {
  spec: Spec;
  specHash: string;
  overrides: string[];
  baselines: BaselineName[];
  startedAt: string;
}

/** Datasets `deno task bench` downloads itself when they are not installed. */
export const DOWNLOADABLE_DATASETS: readonly string[] = [
  "fashion-mnist",
  "cifar10",
  "cifar100",
  "stl10",
];

/**
 * Opens a split; when the dataset is not installed and can be downloaded, fetches it (verified
 * against the manifest's checksums) and opens it again. Any other error is passed on.
 *
 * @example
 * ```ts
 * const ds = await openOrFetch("fashion-mnist", () => openDataset("fashion-mnist", "train"),
 *   () => getDataset("fashion-mnist"));
 * ```
 */
export async function openOrFetch<T>(
  id: string,
  open: () => Promise<T>,
  fetchData: () => Promise<unknown>,
): Promise<T> {
  try {
    return await open();
  } catch (error) {
    if (
      !(error instanceof BenchError) || error.code !== "data_missing" ||
      !DOWNLOADABLE_DATASETS.includes(id)
    ) throw error;
    await fetchData();
    return await open();
  }
}

/**
 * Opens the spec's train and test splits (downloading a missing downloadable dataset first) and
 * checks the sha256 of every file the spec pins.
 *
 * @example
 * ```ts
 * const { train, test, hashes } = await openSpecData(spec, { dataDir: undefined });
 * ```
 */
export async function openSpecData(
  spec: Spec,
  opts: {
    dataDir?: string;
    urlBase?: string;
    /** Download a missing downloadable dataset (default true). */
    download?: boolean;
    log?: (line: string) => void;
  },
): Promise<{ train: ImageDataset; test: ImageDataset; hashes: Record<string, string> }> {
  const d = spec.dataset;
  const synthetic = d.synthetic ?? undefined;
  const openTrain = () =>
    openDataset(d.id, d.trainSplit, { dataDir: opts.dataDir, limit: d.limitTrain, synthetic });
  const train = opts.download === false ? await openTrain() : await openOrFetch(
    d.id,
    openTrain,
    () => {
      opts.log?.(`dataset ${d.id} is not installed: downloading it (deno task data get ${d.id})`);
      return getDataset(d.id, {
        dataDir: opts.dataDir,
        urlBase: opts.urlBase,
        progress: stderrDownloadProgress,
        log: opts.log,
      });
    },
  );
  const test = await openDataset(d.id, d.testSplit, { dataDir: opts.dataDir, synthetic });
  const hashes = { ...await datasetFingerprint(train), ...await datasetFingerprint(test) };
  for (const [file, pin] of Object.entries(d.pins)) {
    if (pin === null) continue;
    const got = hashes[file] ?? Object.entries(hashes).find(([k]) => basename(k) === file)?.[1];
    if (got === undefined) {
      throw new BenchError("data_pin_missing", `pinned file ${file} was not read`, {
        location: `dataset.pins.${file}`,
        hint: `files read: ${Object.keys(hashes).join(", ")}`,
      });
    }
    if (got !== pin) {
      throw new BenchError(
        "data_pin_mismatch",
        `sha256 of ${file} is ${got}, the spec pins ${pin}`,
        {
          location: `dataset.pins.${file}`,
          hint: "the data changed or is corrupt: re-download it (deno task data) or fix the pin",
        },
      );
    }
  }
  return { train, test, hashes };
}

/** Baselines the spec asks for: `eval[].baselines` of its feature protocols, plus extra ones. */
export function requestedBaselines(
  spec: Spec,
  extra: readonly BaselineName[] = [],
): BaselineName[] {
  const out = new Set<BaselineName>(extra);
  for (const e of spec.eval) {
    const b = (e as { baselines?: BaselineName[] }).baselines;
    if (Array.isArray(b)) { for (const x of b) out.add(x); }
  }
  return [...out];
}

/**
 * Runs one benchmark (or resumes one) and writes its record.
 *
 * @example
 * ```ts
 * const { record } = await runBenchmark({ target: "smoke", backend: info });
 * ```
 */
export async function runBenchmark(options: RunBenchmarkOptions): Promise<RunBenchmarkResult> {
  const progress = options.progress ?? (() => {});
  const resultsDir = resolve(options.resultsDir ?? "results");
  const runsDir = join(resultsDir, "runs");
  // The code that runs is the code at the start: capture it before anything can change it.
  const code = await captureCode();

  // 1. The spec, the run folder.
  let saved: SavedSpec;
  let runId: string;
  let runDir: string;
  let previousStatus: string | null = null;
  if (options.resume) {
    runDir = options.resume.includes("/") ? resolve(options.resume) : join(runsDir, options.resume);
    runId = basename(runDir);
    try {
      saved = JSON.parse(await Deno.readTextFile(join(runDir, "spec.json")));
    } catch (cause) {
      throw new BenchError("resume_invalid", "not a run folder (no readable spec.json)", {
        location: runDir,
        hint: "pass a run id under <results>/runs/ or the run folder",
        cause,
      });
    }
    if (specHash(saved.spec) !== saved.specHash) {
      throw new BenchError("resume_invalid", "spec.json does not match its hash", {
        location: runDir,
      });
    }
    try {
      const old = JSON.parse(await Deno.readTextFile(join(runDir, RECORD_FILE)));
      previousStatus = old.status;
    } catch {
      previousStatus = null;
    }
    if (previousStatus === "complete") {
      throw new BenchError("resume_invalid", "this run is complete; nothing to resume", {
        location: runDir,
      });
    }
  } else {
    const overrides = [...(options.overrides ?? [])];
    if (options.seed !== undefined) {
      overrides.push(`pretrain.seed=${options.seed}`, `augment.seed=${options.seed}`);
    }
    const loaded = await loadSpec(options.target ?? "fmnist-tiny", {
      overrides,
      specsDir: options.specsDir,
    });
    saved = {
      spec: loaded.spec,
      specHash: loaded.hash,
      overrides,
      baselines: [...(options.baselines ?? [])],
      startedAt: new Date().toISOString(),
    };
    ({ runId, dir: runDir } = await createRunDir(
      runsDir,
      makeRunId(loaded.spec.id, loaded.hash, new Date()),
    ));
    await writeJsonAtomic(join(runDir, "spec.json"), saved, { noOverwrite: true });
  }
  const { spec } = saved;
  progress(`run ${runId} (${spec.id}, spec ${saved.specHash.slice(0, 12)}) -> ${runDir}`);

  // 2. Data, verified against the pins.
  const { train, test, hashes } = await openSpecData(spec, {
    dataDir: options.dataDir,
    log: progress,
  });
  const pool = options.workers ? new AugmentPool(options.workers) : undefined;
  const finishedRecord = async (record: RunRecord) => {
    if (previousStatus !== null) {
      let n = 1;
      while (true) {
        try {
          await Deno.stat(join(runDir, `record.attempt-${n}.json`));
          n++;
        } catch {
          break;
        }
      }
      await Deno.rename(join(runDir, RECORD_FILE), join(runDir, `record.attempt-${n}.json`));
    }
    const recordPath = await writeRecord(runDir, record);
    return { record, recordPath, runDir };
  };

  try {
    // 3. Pretraining.
    const pre = await pretrain({
      spec,
      specHash: saved.specHash,
      runId,
      runDir,
      train,
      resume: !!options.resume,
      stop: options.stop,
      progress,
      pool,
      faults: options.nanAtStep === undefined ? undefined : { nanAtStep: options.nanAtStep },
    });
    const base: RunRecord = {
      schemaVersion: 1,
      runId,
      status: pre.status,
      ...(pre.reason ? { reason: pre.reason } : {}),
      specId: spec.id,
      spec,
      specHash: saved.specHash,
      comparableHash: comparableHash(spec),
      overrides: saved.overrides,
      datasetHashes: hashes,
      code,
      environment: await captureEnvironment(options.backend),
      seeds: { pretrain: spec.pretrain.seed, augment: spec.augment.seed },
      phases: {
        pretrain: {
          wallSeconds: pre.wallSeconds,
          imagesPerSecond: pre.steps > pre.startStep ? pre.imagesPerSecond : null,
          steps: pre.steps,
          epochs: pre.steps / pre.stepsPerEpoch,
        },
        eval: { wallSeconds: 0 },
      },
      peakMemoryBytes: pre.peakRssBytes || null,
      metrics: {},
      reference: spec.reference === null ? null : referenceFor(spec, await readPublished()),
      startedAt: saved.startedAt,
      finishedAt: null,
    };
    if (pre.status !== "complete") {
      pre.encoder.dispose();
      pre.heads?.dispose();
      return await finishedRecord({ ...base, finishedAt: new Date().toISOString() });
    }

    // 4. Evaluation (and baselines).
    const t0 = performance.now();
    const modelKey = await sha256File(join(runDir, "checkpoints", FINAL_CHECKPOINT));
    const fx = await resolveFeatureExtractor(pre.encoder, {
      requested: options.featureExtractor ?? "tfjs",
      backend: options.backend.name,
      offline: spec.eval.some((e) => e.protocol === "amdim-offline"),
      log: progress,
    });
    progress(`feature extractor: ${fx.extractor.name} (${fx.reason})`);
    if (fx.details.featureExtractorOffline) {
      progress(
        `amdim-offline r1: ${fx.details.featureExtractorOffline} (${fx.details.featureExtractorOfflineReason})`,
      );
    }
    const ctx = {
      featureExtractor: fx.extractor,
      offlineFeatures: fx.offline,
      spec,
      encoder: pre.encoder,
      heads: pre.heads,
      train,
      test,
      cache: new FeatureCache(join(resultsDir, ".cache", "features")),
      modelKey,
      pool,
      log: progress,
    };
    const { results, seconds } = await runProtocols(ctx);
    const metrics: Record<string, MetricValue> = {};
    for (const r of results) Object.assign(metrics, r.metrics);
    const wanted = requestedBaselines(spec, saved.baselines);
    const baselines = wanted.length > 0 ? await runBaselines(ctx, saved.baselines) : undefined;
    await fx.release();
    base.environment.backend.details = { ...base.environment.backend.details, ...fx.details };
    pre.encoder.dispose();
    pre.heads?.dispose();
    const evalSeconds = (performance.now() - t0) / 1000;
    const log = await openEventLog(runDir);
    try {
      for (const r of results) {
        for (const [metric, m] of Object.entries(r.metrics)) {
          await log.append({
            event: EVENT.evalResult,
            protocol: r.protocol,
            metric,
            value: m.last,
            split: "test",
            ...(m.selected ? { setting: m.selected } : {}),
          });
        }
      }
      await log.append({ event: EVENT.runEnd, wallSeconds: pre.wallSeconds + evalSeconds });
    } finally {
      log.close();
    }
    return await finishedRecord({
      ...base,
      phases: { ...base.phases, eval: { wallSeconds: evalSeconds, byProtocol: seconds } },
      peakMemoryBytes: Math.max(pre.peakRssBytes, Deno.memoryUsage().rss),
      metrics,
      ...(baselines ? { baselines } : {}),
      finishedAt: new Date().toISOString(),
    });
  } finally {
    pool?.close();
    train.close();
    test.close();
  }
}

/**
 * Generated run folders for the verify and leaderboard tests: a resolved spec, `spec.json`,
 * `metrics.jsonl` with every event a real run logs, checkpoint files and a `record.json` written
 * by the real record writer. Nothing is committed; everything is made here from a few numbers.
 *
 * @module
 */
import { join } from "node:path";
import { comparableHash, specHash } from "../../src/spec/canonical.ts";
import { fillDefaults } from "../../src/spec/schema.ts";
import type { Spec } from "../../src/spec/types.ts";
import type { EvalResultEvent, LoggedEvent } from "../../src/report/events.ts";
import { EVENT } from "../../src/report/events.ts";
import { compareWithPublished, type Published } from "../../src/report/published.ts";
import { makeRunId, writeRecord } from "../../src/report/record.ts";
import type { RunRecord } from "../../src/report/record_types.ts";
import { openSynthetic } from "../../src/data/synthetic.ts";
import { sha256Hex } from "../../src/util/hash.ts";

/** Datasets the fixtures can claim. */
export type FixtureDataset = "synthetic" | "fashion-mnist" | "cifar10";

/** sha256 of Debian's dataset-fashion-mnist files (as pinned by benchmarks/fmnist-tiny.jsonc). */
export const FMNIST_PINS: Record<string, string> = {
  "train-images-idx3-ubyte.gz": "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7",
  "train-labels-idx1-ubyte.gz": "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056",
  "t10k-images-idx3-ubyte.gz": "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa",
  "t10k-labels-idx1-ubyte.gz": "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05",
};

const CIFAR_FILES = [
  "cifar-10-batches-bin/data_batch_1.bin",
  "cifar-10-batches-bin/data_batch_2.bin",
  "cifar-10-batches-bin/data_batch_3.bin",
  "cifar-10-batches-bin/data_batch_4.bin",
  "cifar-10-batches-bin/data_batch_5.bin",
  "cifar-10-batches-bin/test_batch.bin",
];

/** What a fixture run looks like. */
export interface RunFixtureOptions {
  /** Spec id (default: `lb-<dataset>`). */
  specId?: string;
  dataset?: FixtureDataset;
  /** pretrain.seed and augment.seed (default 1). */
  seed?: number;
  /** Pretraining updates (default 12). */
  steps?: number;
  batchSize?: number;
  /** Published reference id (default: `amdim-cifar10-linear` for cifar10, else none). */
  reference?: string | null;
  /** Top-1 of each protocol (top-5 is derived); default depends on the seed. */
  top1?: Partial<Record<"online.linear" | "online.mlp" | "linear-probe" | "knn", number>>;
  backend?: { name: string; device: string };
  imagesPerSecond?: number;
  wallSeconds?: number;
  /** Day the run started, `YYYY-MM-DD` (default 2025-03-0<seed>). */
  day?: string;
  commit?: string;
}

/** The spec of a fixture run (resolved, defaults filled). */
export function fixtureSpec(options: RunFixtureOptions = {}): Spec {
  const dataset = options.dataset ?? "synthetic";
  const seed = options.seed ?? 1;
  const reference = options.reference === undefined
    ? (dataset === "cifar10" ? "amdim-cifar10-linear" : null)
    : options.reference;
  const datasetValue = dataset === "synthetic"
    ? {
      id: "synthetic",
      pins: {},
      synthetic: { n: 64, testN: 32, height: 32, width: 32, channels: 3, numClasses: 4, seed: 3 },
    }
    : dataset === "fashion-mnist"
    ? { id: "fashion-mnist", pins: { ...FMNIST_PINS } }
    : { id: "cifar10", pins: { "cifar-10-binary.tar.gz": null } };
  const value = {
    id: options.specId ?? `lb-${dataset}`,
    description: `fixture run on ${dataset}`,
    dataset: datasetValue,
    encoder: { inputSize: 32, ndf: 16, nRkhs: 64, nDepth: 1, useBn: false },
    augment: { policy: dataset === "fashion-mnist" ? "fmnist" : "cifar", seed },
    pretrain: {
      seed,
      steps: options.steps ?? 12,
      batchSize: options.batchSize ?? 16,
      optimizer: { lr: 2e-4 },
      warmupSteps: 2,
      schedule: { milestones: [], unit: "step" },
      checkpointEvery: 4,
    },
    eval: [
      { protocol: "amdim-online" },
      { protocol: "linear-probe", epochs: 5, l2: [0, 1e-3] },
      { protocol: "knn", k: 5 },
    ],
    reference: reference === null ? null : { id: reference },
    gate: { metrics: { "linear-probe.top1": { absTolerance: 0.02 } }, alpha: 0.05 },
  };
  return fillDefaults(value) as Spec;
}

async function datasetHashes(spec: Spec): Promise<Record<string, string>> {
  const d = spec.dataset;
  if (d.id === "synthetic") {
    return {
      ...await openSynthetic(d.trainSplit, d.synthetic!).fingerprint!(),
      ...await openSynthetic(d.testSplit, d.synthetic!).fingerprint!(),
    };
  }
  if (d.id === "fashion-mnist") return { ...FMNIST_PINS };
  return Object.fromEntries(CIFAR_FILES.map((f) => [f, sha256Hex(`fixture ${f}`)]));
}

function round4(x: number): number {
  return Math.round(x * 1e4) / 1e4;
}

/** A written fixture run. */
export interface RunFixture {
  runDir: string;
  recordPath: string;
  record: RunRecord;
  spec: Spec;
}

/**
 * Writes a complete, valid run folder under `runsDir` and returns it.
 *
 * @example
 * ```ts
 * const run = await writeRunFixture(join(dir, "runs"), { seed: 2 }, published);
 * ```
 */
export async function writeRunFixture(
  runsDir: string,
  options: RunFixtureOptions = {},
  published?: Published,
): Promise<RunFixture> {
  const spec = fixtureSpec(options);
  const seed = spec.pretrain.seed;
  const hash = specHash(spec);
  const day = options.day ?? `2025-03-0${Math.min(9, Math.max(1, seed))}`;
  const started = new Date(`${day}T10:00:00.000Z`);
  const runId = makeRunId(spec.id, hash, started);
  const runDir = join(runsDir, runId);
  await Deno.mkdir(join(runDir, "checkpoints"), { recursive: true });

  const steps = spec.pretrain.steps!;
  const batch = spec.pretrain.batchSize;
  const stepsPerEpoch = 4;
  const wallSeconds = options.wallSeconds ?? 30 + 10 * seed;
  const imagesPerSecond = options.imagesPerSecond ?? round4((steps * batch) / wallSeconds);
  const at = (seconds: number) => new Date(started.getTime() + seconds * 1000).toISOString();
  const t = options.top1 ?? {};
  const top1 = {
    "amdim-online.linear": t["online.linear"] ?? round4(0.4 + 0.01 * seed),
    "amdim-online.mlp": t["online.mlp"] ?? round4(0.42 + 0.01 * seed),
    "linear-probe": t["linear-probe"] ?? round4(0.45 + 0.013 * seed),
    "knn": t["knn"] ?? round4(0.38 + 0.007 * seed),
  };
  const metrics: RunRecord["metrics"] = {};
  for (const [protocol, v] of Object.entries(top1)) {
    metrics[`${protocol}.top1`] = { last: v };
    metrics[`${protocol}.top5`] = { last: round4(Math.min(1, v + 0.3)) };
  }
  metrics["linear-probe.top1"].bestVal = round4(top1["linear-probe"] - 0.004);
  metrics["linear-probe.top1"].valTop1 = round4(top1["linear-probe"] + 0.01);
  metrics["linear-probe.top1"].selected = { l2: 0.001 };

  const events: LoggedEvent[] = [];
  const ev = (e: Record<string, unknown>, seconds: number) =>
    events.push({ ...e, time: at(seconds) } as unknown as LoggedEvent);
  ev(
    { event: EVENT.runStart, runId, specHash: hash, step: 0, totalSteps: steps, stepsPerEpoch },
    0,
  );
  for (let s = 0; s < steps; s++) {
    const x = s / steps;
    const wiggle = 0.05 * Math.sin(3 * s + seed);
    const losses = {
      loss_1t5: round4(5 - 2 * x + wiggle),
      loss_1t7: round4(5.2 - 2.1 * x + wiggle),
      loss_5t5: round4(4.8 - 1.8 * x - wiggle),
      lgt_reg: round4(0.3 - 0.1 * x),
      loss_cls_linear: round4(1.4 - 0.5 * x),
      loss_cls_mlp: round4(1.35 - 0.55 * x),
    };
    const total = round4(losses.loss_1t5 + losses.loss_1t7 + losses.loss_5t5 + losses.lgt_reg);
    const secs = ((s + 1) * wallSeconds) / steps;
    ev({
      event: EVENT.trainStep,
      step: s,
      epoch: Math.floor(s / stepsPerEpoch),
      lr: 2e-4 * Math.min(1, (s + 1) / 2),
      losses: { total, ...losses },
      imagesPerSecond,
    }, secs);
    if ((s + 1) % stepsPerEpoch === 0) {
      const epoch = Math.floor(s / stepsPerEpoch);
      const frac = (s + 1) / steps;
      ev({
        event: EVENT.epochEnd,
        step: s,
        epoch,
        wallSeconds: (stepsPerEpoch * wallSeconds) / steps,
        imagesPerSecond,
        metrics: {
          "amdim-online.linear.top1": round4(top1["amdim-online.linear"] * (0.6 + 0.4 * frac)),
          "amdim-online.mlp.top1": round4(top1["amdim-online.mlp"] * (0.6 + 0.4 * frac)),
        },
      }, secs);
      ev({
        event: EVENT.checkpoint,
        step: s + 1,
        epoch: epoch + 1,
        path: "checkpoints/last.safetensors",
      }, secs);
    }
  }
  ev({ event: EVENT.checkpoint, step: steps, path: "checkpoints/final.safetensors" }, wallSeconds);
  for (const [name, m] of Object.entries(metrics)) {
    const e: Omit<EvalResultEvent, "time"> = {
      event: EVENT.evalResult,
      protocol: name.split(".")[0],
      metric: name,
      value: m.last,
      split: "test",
    };
    ev(e, wallSeconds + 5);
  }
  ev({ event: EVENT.runEnd, wallSeconds: wallSeconds + 5 }, wallSeconds + 5);
  await Deno.writeTextFile(
    join(runDir, "metrics.jsonl"),
    events.map((e) => JSON.stringify(e)).join("\n") + "\n",
  );
  await Deno.writeTextFile(
    join(runDir, "spec.json"),
    JSON.stringify(
      { spec, specHash: hash, overrides: [], baselines: [], startedAt: started.toISOString() },
      null,
      2,
    ) + "\n",
  );
  for (const name of ["last.safetensors", "final.safetensors"]) {
    await Deno.writeTextFile(join(runDir, "checkpoints", name), `weights of ${runId}\n`);
  }

  const backend = options.backend ?? { name: "cpu", device: "Test CPU @ 2.0GHz" };
  const record: RunRecord = {
    schemaVersion: 1,
    runId,
    status: "complete",
    specId: spec.id,
    spec,
    specHash: hash,
    comparableHash: comparableHash(spec),
    overrides: [],
    datasetHashes: await datasetHashes(spec),
    code: {
      commit: options.commit ?? "0123456789abcdef0123",
      dirty: false,
      lockHash: sha256Hex("lock"),
    },
    environment: {
      deno: "2.9.6",
      v8: "14.0",
      typescript: "5.9.2",
      tfjs: "4.22.0",
      backend: {
        name: backend.name,
        requested: backend.name,
        tfjsVersion: "4.22.0",
        device: backend.device,
        threads: 2,
        details: {},
      },
      os: "linux x86_64",
      cpu: "Test CPU @ 2.0GHz",
      cpuCount: 2,
      memoryBytes: 8 * 1024 ** 3,
    },
    seeds: { pretrain: seed, augment: seed },
    phases: {
      pretrain: { wallSeconds, imagesPerSecond, steps, epochs: steps / stepsPerEpoch },
      eval: { wallSeconds: 5, byProtocol: { "amdim-online": 1, "linear-probe": 3, knn: 1 } },
    },
    peakMemoryBytes: 512 * 1024 ** 2,
    metrics,
    reference: spec.reference === null || !published?.entries[spec.reference.id]
      ? null
      : compareWithPublished(spec, spec.reference.id, published.entries[spec.reference.id]),
    startedAt: started.toISOString(),
    finishedAt: at(wallSeconds + 5),
  };
  const recordPath = await writeRecord(runDir, record);
  const written = JSON.parse(await Deno.readTextFile(recordPath)) as RunRecord;
  return { runDir, recordPath, record: written, spec };
}

/** Reads a record file, lets `edit` change it, writes it back (pretty JSON). */
export async function editRecord(path: string, edit: (r: RunRecord) => void): Promise<void> {
  const record = JSON.parse(await Deno.readTextFile(path)) as RunRecord;
  edit(record);
  await Deno.writeTextFile(path, JSON.stringify(record, null, 2) + "\n");
}

/** Copies a run folder (recursively) to `to`. */
export async function copyDir(from: string, to: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  for await (const entry of Deno.readDir(from)) {
    const a = join(from, entry.name);
    const b = join(to, entry.name);
    if (entry.isDirectory) await copyDir(a, b);
    else await Deno.copyFile(a, b);
  }
}

/** The runs of {@linkcode writeLeaderboardFixtures}. */
export interface LeaderboardFixtures {
  /** Results folder (with `runs/`). */
  resultsDir: string;
  /** Valid runs: synthetic seeds 1 and 2, fashion-mnist, cifar10 (protocol mismatch). */
  accepted: RunFixture[];
  /** A synthetic run (seed 3) whose linear-probe top-1 was edited to 0.99. */
  rejected: RunFixture;
}

/**
 * A results folder for the leaderboard tests: four valid runs on three datasets, one tampered
 * run and one unreadable record (`runs/broken-run/record.json`).
 *
 * @example
 * ```ts
 * const { resultsDir } = await writeLeaderboardFixtures();
 * ```
 */
export async function writeLeaderboardFixtures(): Promise<LeaderboardFixtures> {
  const { readPublished } = await import("../../src/report/published.ts");
  const published = await readPublished();
  const resultsDir = await Deno.makeTempDir({ prefix: "amdim-leaderboard-" });
  const runs = join(resultsDir, "runs");
  const accepted = [
    await writeRunFixture(runs, { seed: 1 }, published),
    await writeRunFixture(runs, { seed: 2 }, published),
    await writeRunFixture(runs, { dataset: "fashion-mnist", seed: 1, steps: 16 }, published),
    await writeRunFixture(
      runs,
      { dataset: "cifar10", seed: 1, backend: { name: "tensorflow-gpu", device: "NVIDIA H100" } },
      published,
    ),
  ];
  const rejected = await writeRunFixture(runs, { seed: 3 }, published);
  await editRecord(rejected.recordPath, (r) => (r.metrics["linear-probe.top1"].last = 0.99));
  await Deno.mkdir(join(runs, "broken-run"));
  await Deno.writeTextFile(join(runs, "broken-run", "record.json"), '{"schemaVersion": 1, "ru');
  return { resultsDir, accepted, rejected };
}

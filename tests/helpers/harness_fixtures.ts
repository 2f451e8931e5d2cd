/**
 * Fixtures for the spec, record, report and gate tests: a valid base spec, temporary spec folders
 * and generated run records.
 *
 * @module
 */
import { join } from "node:path";
import { comparableHash, specHash } from "../../src/spec/canonical.ts";
import { fillDefaults } from "../../src/spec/schema.ts";
import type { Spec } from "../../src/spec/types.ts";
import type { RunRecord } from "../../src/report/record_types.ts";

/** A small valid spec (synthetic data) as written in a file, before defaults. */
export function baseSpecValue(id = "base"): Record<string, unknown> {
  return {
    id,
    description: "test spec",
    dataset: {
      id: "synthetic",
      pins: {},
      synthetic: { n: 64, testN: 32, height: 32, width: 32, channels: 3, numClasses: 4, seed: 3 },
    },
    encoder: { inputSize: 32, ndf: 16, nRkhs: 64, nDepth: 1, useBn: false },
    augment: { policy: "cifar", seed: 1 },
    pretrain: {
      seed: 1,
      steps: 20,
      batchSize: 16,
      optimizer: { lr: 2e-4 },
      warmupSteps: 5,
      schedule: { milestones: [10, 15], unit: "step" },
    },
    eval: [
      { protocol: "amdim-online" },
      { protocol: "linear-probe", epochs: 5 },
      { protocol: "knn", k: 5 },
    ],
    reference: null,
    gate: { metrics: { "linear-probe.top1": { absTolerance: 0.02 } }, alpha: 0.05 },
  };
}

/** A temporary folder of spec files; `write` puts `<name>.jsonc` in it and returns its path. */
export async function specDir(): Promise<{
  dir: string;
  write: (name: string, content: string | Record<string, unknown>) => Promise<string>;
  cleanup: () => Promise<void>;
}> {
  const dir = await Deno.makeTempDir({ prefix: "amdim-spec-" });
  return {
    dir,
    write: async (name, content) => {
      const file = join(dir, name.includes(".") ? name : `${name}.jsonc`);
      await Deno.writeTextFile(
        file,
        typeof content === "string" ? content : JSON.stringify(content, null, 2),
      );
      return file;
    },
    cleanup: () => Deno.remove(dir, { recursive: true }),
  };
}

/** The resolved base spec (defaults filled). */
export function resolvedBaseSpec(id = "base"): Spec {
  const value = baseSpecValue(id);
  delete value.description;
  return fillDefaults({ ...value, description: "test spec" }) as Spec;
}

/** Options of {@linkcode makeRecord}. */
export interface RecordFixture {
  spec?: Spec;
  runId?: string;
  seed?: number;
  metrics?: Record<string, number>;
  status?: RunRecord["status"];
  finishedAt?: string;
  commit?: string;
}

/** A valid complete run record of `spec` with the given top-1 metrics. */
export function makeRecord(options: RecordFixture = {}): RunRecord {
  const seed = options.seed ?? 1;
  const spec = structuredClone(options.spec ?? resolvedBaseSpec());
  spec.pretrain.seed = seed;
  spec.augment.seed = seed;
  const finishedAt = options.finishedAt ?? `2025-01-0${Math.min(9, seed)}T10:00:00.000Z`;
  const hash = specHash(spec);
  const metrics: RunRecord["metrics"] = {};
  for (const [k, v] of Object.entries(options.metrics ?? { "linear-probe.top1": 0.5 })) {
    metrics[k] = { last: v };
  }
  const status = options.status ?? "complete";
  return {
    schemaVersion: 1,
    runId: options.runId ?? `${spec.id}-2025010${Math.min(9, seed)}T100000-${hash.slice(0, 6)}`,
    status,
    ...(status === "failed" || status === "interrupted" ? { reason: "test" } : {}),
    specId: spec.id,
    spec,
    specHash: hash,
    comparableHash: comparableHash(spec),
    datasetHashes: {},
    code: { commit: options.commit ?? "0123456789abcdef", dirty: false, lockHash: null },
    environment: {
      deno: "2.9.6",
      v8: "13",
      typescript: "5.9",
      tfjs: "4.22.0",
      backend: {
        name: "cpu",
        requested: "cpu",
        tfjsVersion: "4.22.0",
        device: "test cpu",
        threads: 1,
        details: {},
      },
      os: "linux",
      cpu: "test",
      cpuCount: 2,
      memoryBytes: 1024,
    },
    seeds: { pretrain: seed, augment: seed },
    phases: {
      pretrain: { wallSeconds: 10, imagesPerSecond: 123.456, steps: 20 },
      eval: { wallSeconds: 2 },
    },
    peakMemoryBytes: 2048,
    metrics,
    reference: null,
    startedAt: finishedAt.replace("10:00:00", "09:00:00"),
    finishedAt,
  };
}

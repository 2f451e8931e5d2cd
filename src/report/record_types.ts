/**
 * The run record (`results/runs/<runId>/record.json`), as TypeScript types. Mirrors
 * `results/record.schema.json`.
 *
 * @module
 */
import type { Spec } from "../spec/types.ts";

/** Run status. */
export type RunStatus = "complete" | "failed" | "interrupted" | "running";

/** The tfjs backend that ran (the backends module's `BackendInfo`). */
export interface BackendDescription {
  name: string;
  requested: string;
  tfjsVersion: string;
  device: string;
  threads: number | null;
  software?: boolean;
  details: Record<string, string>;
}

/** Where a run ran. */
export interface EnvironmentInfo {
  deno: string;
  v8: string;
  typescript: string;
  tfjs: string | null;
  backend: BackendDescription;
  os: string;
  cpu: string;
  cpuCount: number;
  memoryBytes: number | null;
}

/** Code version of a run. */
export interface CodeInfo {
  /** `git rev-parse HEAD`, null outside a git checkout. */
  commit: string | null;
  /** Tracked files changed since the commit; null when unknown. */
  dirty: boolean | null;
  /** sha256 of deno.lock; null when absent. */
  lockHash: string | null;
}

/** One metric: fractions in [0, 1]. */
export interface MetricValue {
  /** On the test split after the last epoch. */
  last: number;
  /** On the test split for the setting chosen on the held-out validation split. */
  bestVal?: number;
  /** The validation accuracy that chose `bestVal`. */
  valTop1?: number;
  /** What `bestVal` selected, e.g. `{ l2: 1e-4, epoch: 87 }`. */
  selected?: Record<string, unknown>;
}

/** The published reference a run is compared with. */
export interface ReferenceComparison {
  id: string;
  value: number;
  bound: "exact" | "lower";
  /** Our metric it is compared with, e.g. `amdim-online.linear.top1`. */
  metric: string;
  protocol: string;
  status: "verified" | "third-party";
  /** True only when the published protocol is stated by the source and nothing differs. */
  protocolMatch: boolean;
  /** What differs, e.g. `encoder.ndf 128 != 256`. */
  mismatches: string[];
  /** What the source does not state. */
  unknowns: string[];
}

/** An encoder evaluated from an ONNX file (`deno task bench --encoder`), not pretrained by the run. */
export interface OnnxEncoderSource {
  source: "onnx";
  /** Path as given. */
  path: string;
  /** sha256 of the model file. */
  sha256: string;
  inputName: string;
  outputName: string;
  layout: "nhwc" | "nchw";
  inputSize?: number;
  /** Features per image of the output read. */
  featureDim?: number;
  /** Normalisation applied to the pixels fed (the spec's augmentation policy). */
  normalization?: { mean: number[]; std: number[] };
  /** ONNX Runtime version. */
  runtime?: string;
  /** The model's metadata_props. */
  metadata?: Record<string, string>;
  /** Protocols of the spec not run, with the reason. */
  skipped?: { protocol: string; reason: string }[];
}

/** A run record. */
export interface RunRecord {
  schemaVersion: 1;
  runId: string;
  status: RunStatus;
  reason?: string;
  specId: string;
  spec: Spec;
  specHash: string;
  comparableHash: string;
  overrides?: string[];
  datasetHashes: Record<string, string>;
  code: CodeInfo;
  environment: EnvironmentInfo;
  seeds: { pretrain: number; augment: number };
  phases: {
    pretrain: {
      wallSeconds: number;
      imagesPerSecond: number | null;
      steps: number;
      epochs?: number;
    };
    eval: { wallSeconds: number; byProtocol?: Record<string, number> };
  };
  peakMemoryBytes: number | null;
  metrics: Record<string, MetricValue>;
  baselines?: Record<string, number>;
  reference: ReferenceComparison | null;
  /** Set when an ONNX encoder was evaluated instead of a pretrained one. */
  encoder?: OnnxEncoderSource;
  /**
   * sha256 of each checkpoint file, by path relative to the run folder (e.g.
   * `checkpoints/final.safetensors`); filled in by `writeRecord` from `<runDir>/checkpoints/`.
   */
  checkpoints?: Record<string, string>;
  startedAt: string;
  finishedAt: string | null;
}

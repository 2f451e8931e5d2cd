/**
 * The resolved benchmark spec: every knob that changes a number, with defaults filled in. Mirrors
 * `benchmarks/schema.json` (a test checks that the two agree on keys and defaults).
 *
 * @module
 */

/** Dataset ids (keys of `datasets/manifest.json`). */
export const DATASET_IDS = [
  "synthetic",
  "fashion-mnist",
  "cifar10",
  "cifar100",
  "stl10",
  "imagenet",
] as const;
/** A dataset id. */
export type DatasetId = typeof DATASET_IDS[number];

/** Evaluation protocols. */
export const PROTOCOLS = ["amdim-online", "amdim-offline", "linear-probe", "knn"] as const;
/** An evaluation protocol id. */
export type ProtocolId = typeof PROTOCOLS[number];

/** Augmentation policies. */
export const POLICIES = ["cifar", "stl10", "imagenet", "fmnist", "none"] as const;
/** An augmentation policy. */
export type PolicyId = typeof POLICIES[number];

/** Parameters of the generated `synthetic` dataset. */
export interface SyntheticSpec {
  n: number;
  testN: number;
  height: number;
  width: number;
  channels: 1 | 3;
  numClasses: number;
  seed: number;
}

/** `dataset` section. */
export interface DatasetSpec {
  id: DatasetId;
  /** sha256 by source file name; null = not pinned in the spec. */
  pins: Record<string, string | null>;
  trainSplit: string;
  testSplit: string;
  limitTrain: number | null;
  synthetic: SyntheticSpec | null;
}

/** `encoder` section (same shape as the model's `EncoderConfig`). */
export interface EncoderSpec {
  inputSize: 32 | 64 | 128;
  ndf: number;
  nRkhs: number;
  nDepth: number;
  useBn: boolean;
}

/** `loss` section. */
export interface LossSpec {
  tclip: number;
  lgtRegWeight: number;
}

/** `augment` section. */
export interface AugmentSpec {
  policy: PolicyId;
  seed: number;
}

/** `pretrain.optimizer`. */
export interface OptimizerSpec {
  name: "adam";
  lr: number;
  betas: [number, number];
  eps: number;
  weightDecay: number;
}

/** `pretrain.schedule`. */
export interface ScheduleSpec {
  milestones: number[];
  gamma: number;
  unit: "epoch" | "step";
}

/** `pretrain` section. Exactly one of `epochs` and `steps` is set. */
export interface PretrainSpec {
  seed: number;
  epochs: number | null;
  steps: number | null;
  batchSize: number;
  optimizer: OptimizerSpec;
  warmupSteps: number;
  schedule: ScheduleSpec;
  checkpointEvery: number | null;
  onlineHeads: boolean;
}

/** `amdim-online`: the official heads trained alongside pretraining. */
export interface AmdimOnlineEval {
  protocol: "amdim-online";
  bnWarmup: boolean;
  dropLast: boolean;
}

/** `amdim-offline`: the official `--classifiers` re-training on a frozen encoder. */
export interface AmdimOfflineEval {
  protocol: "amdim-offline";
  epochs: number;
  milestones: number[];
  gamma: number;
  lr: number;
  batchSize: number;
}

/** `linear-probe`: logistic regression on cached frozen features. */
export interface LinearProbeEval {
  protocol: "linear-probe";
  valFraction: number;
  seed: number;
  l2: number[];
  epochs: number;
  batchSize: number;
  lr: number;
  /** Calibration baselines run with the same protocol. */
  baselines: BaselineName[];
}

/** `knn`: k-nearest-neighbour accuracy. */
export interface KnnEval {
  protocol: "knn";
  k: number;
  temperature: number;
  normalize: boolean;
  /** Calibration baselines run with the same protocol. */
  baselines: BaselineName[];
}

/** Calibration baselines of the feature protocols. */
export type BaselineName = "random-init" | "raw-pixels";

/** One evaluation protocol with its hyperparameters. */
export type EvalSpec = AmdimOnlineEval | AmdimOfflineEval | LinearProbeEval | KnnEval;

/** Tolerance of one gated metric. */
export interface MetricTolerance {
  /** Largest drop (as a fraction) that still passes. */
  absTolerance: number;
}

/** `gate` section. */
export interface GateSpec {
  /** By metric name, e.g. `linear-probe.top1`. */
  metrics: Record<string, MetricTolerance>;
  /** Significance level of the one-sided Welch t-test (several seeds on both sides). */
  alpha: number;
}

/** A fully resolved spec: `extends` applied, overrides applied, defaults filled in. */
export interface Spec {
  id: string;
  description: string;
  dataset: DatasetSpec;
  encoder: EncoderSpec;
  loss: LossSpec;
  augment: AugmentSpec;
  pretrain: PretrainSpec;
  eval: EvalSpec[];
  reference: { id: string } | null;
  gate: GateSpec;
}

/** What {@linkcode loadSpec} returns. */
export interface LoadedSpec {
  /** The resolved spec. */
  spec: Spec;
  /** sha256 of the canonical JSON of `spec`. */
  hash: string;
  /** sha256 of the canonical JSON of `spec` without id, description, reference, gate, the seeds
   * and `checkpointEvery`: runs with equal `comparableHash` measured the same thing. */
  comparableHash: string;
  /** Absolute path of the spec file. */
  file: string;
  /** Files read, the spec file first, then what it extends, in order. */
  chain: string[];
  /** The `--set` overrides applied, as given. */
  overrides: string[];
}

/** Metric names a spec can produce and gate: `<protocol>[.<head>].top1|top5`. */
export const METRIC_NAME_PATTERN =
  /^(amdim-online\.(linear|mlp)|amdim-offline\.(linear|mlp)|linear-probe|knn)\.top(1|5)$/;

/** The protocol a metric name belongs to, e.g. `amdim-online` for `amdim-online.mlp.top1`. */
export function metricProtocol(metric: string): ProtocolId | undefined {
  const head = metric.split(".")[0];
  return (PROTOCOLS as readonly string[]).includes(head) ? head as ProtocolId : undefined;
}

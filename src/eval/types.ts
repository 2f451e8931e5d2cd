/**
 * Shared shapes of the evaluation protocols: a set of frozen features with labels, a reported
 * metric (last epoch and best-on-validation kept apart) and the result of one protocol.
 *
 * @module
 */

/** Row-major features `[n, dim]` with one label per row (`-1` = unlabeled). */
export interface FeatureSet {
  /** Number of rows. */
  n: number;
  /** Feature dimension. */
  dim: number;
  /** `n * dim` float32 values, row-major. */
  features: Float32Array;
  /** `n` class labels in `[0, numClasses)`, or `-1` for unlabeled rows. */
  labels: Int32Array;
  /** Number of classes. */
  numClasses: number;
}

/**
 * One reported number. `last` is the model at the end of its fixed schedule; `bestVal` the model
 * at the point a validation split carved from the training set selected. Neither is ever selected
 * on the test split.
 */
export interface MetricValue {
  /** Test metric of the final model. */
  last: number;
  /** Test metric of the model chosen on the validation split, when the protocol has one. */
  bestVal?: number;
  /** The validation top-1 that chose `bestVal`. */
  valTop1?: number;
  /** What `bestVal` selected, e.g. `{ l2: 1e-4, epoch: 27 }`. */
  selected?: Record<string, unknown>;
}

/** Names of the evaluation protocols. */
export type ProtocolName = "linear-probe" | "knn" | "amdim-online" | "amdim-offline";

/** What one evaluation protocol reports. */
export interface EvalResult {
  /** Which protocol produced it. */
  protocol: ProtocolName;
  /** Metrics named `<protocol>.<head?>.top1|top5`, fractions in [0, 1]. */
  metrics: Record<string, MetricValue>;
  /** Protocol-specific facts worth recording (chosen hyperparameters, sizes, curves). */
  details: Record<string, unknown>;
}

/** A progress callback: protocols report what they are doing as short lines. */
export type EvalLog = (line: string) => void;

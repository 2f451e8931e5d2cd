/**
 * The shapes of a sweep: the manifest (what runs), each task's status file (how it went), the
 * submissions file (what was handed to Slurm or run locally) and the sweep record (the
 * aggregate). All live under `<results>/sweeps/<sweepId>/`.
 *
 * @module
 */
import type { GateReport } from "../report/gate.ts";

/** Schema version of every sweep file. */
export const SWEEP_SCHEMA_VERSION = 1;

/** Where the tasks of a sweep run. */
export type SweepMode = "slurm" | "local";

/** Slurm resources of every array task. */
export interface SlurmResources {
  /** `--partition`; null: the cluster's default partition. */
  partition: string | null;
  /** `--cpus-per-task` (default 1). */
  cpus: number;
  /** GPUs per task, requested as `--gres=gpu:N`; 0: none. */
  gpus: number;
  /** `--time` limit (Slurm syntax, e.g. `2:00:00`); null: the partition's default. */
  time: string | null;
}

/** One line item of a sweep: one `deno task bench` run. */
export interface SweepTask {
  /** Array index (0-based, `SLURM_ARRAY_TASK_ID`). */
  index: number;
  /** Spec id (or path) as passed to bench. */
  target: string;
  /** The resolved spec's id. */
  specId: string;
  /** The `--vary` values of this task, e.g. `{"encoder.ndf": "8"}` (empty without `--vary`). */
  variant: Record<string, string>;
  /** Every `--set` override of the run (shared ones, then the variant's). */
  overrides: string[];
  /** `--seed N`; null: the seeds written in the spec. */
  seed: number | null;
  /** What the task aggregates with: spec id plus variant, e.g. `smoke [encoder.ndf=8]`. */
  group: string;
  /** Hash of the resolved spec the run must record (`record.specHash`). */
  specHash: string;
  /** Its comparable hash (what the gate compares). */
  comparableHash: string;
  /** The task's own results folder (bench `--results`); its run lands in `<resultsDir>/runs/`. */
  resultsDir: string;
  /** The task's status file. */
  statusFile: string;
  /** The exact bench command, as argv (run in `manifest.repoRoot`). */
  command: string[];
  /** The same command, shell-quoted, to copy and run by hand. */
  commandLine: string;
}

/** `sweeps/<sweepId>/manifest.json`: written once when the sweep is created, never changed. */
export interface SweepManifest {
  schemaVersion: 1;
  sweepId: string;
  /** Spec id, spec path or suite as given. */
  target: string;
  /** The seeds asked for (null: the spec's own). */
  seeds: number[] | null;
  /** `--set` overrides shared by every task. */
  overrides: string[];
  /** `--vary` axes in the order given: key -> values. */
  vary: Array<{ key: string; values: string[] }>;
  /** bench `--backend`. */
  backend: string;
  /** bench `--data-dir`; null: bench's default (`AMDIM_DATA_DIR` or the user cache). */
  dataDir: string | null;
  /** Where it runs. */
  mode: SweepMode;
  /** Tasks running at once (the array's `%K`). */
  maxParallel: number;
  /** Slurm resources (null for local sweeps). */
  slurm: SlurmResources | null;
  /** Gate the aggregate against this baseline record file or folder when collecting. */
  gateBaseline: string | null;
  /** Repository the commands run in (must be on a filesystem every node shares). */
  repoRoot: string;
  /** The results folder. */
  resultsDir: string;
  /** The sweep's folder, `<resultsDir>/sweeps/<sweepId>`. */
  sweepDir: string;
  /** When the sweep was created (ISO). */
  createdAt: string;
  /** The line items. */
  tasks: SweepTask[];
}

/** State of one task. */
export type TaskState = "queued" | "running" | "done" | "failed";

/** `tasks/<index>/status.json`: written atomically by the submitter (queued) and the task. */
export interface TaskStatus {
  schemaVersion: 1;
  sweepId: string;
  index: number;
  state: TaskState;
  /** Why it failed (or what it is waiting for). */
  reason?: string;
  /** The bench command's exit code (done / failed). */
  exitCode?: number | null;
  /** Starts of the task so far (1 on the first run). */
  attempt: number;
  /** The run folder (once bench created it). */
  runDir?: string | null;
  /** True when this attempt resumed an earlier one from its checkpoint. */
  resumed?: boolean;
  /** Slurm job id of the array task (`<array>_<index>`), or null locally. */
  slurmJob?: string | null;
  /** Host and PID of the task process. */
  host?: string;
  pid?: number;
  /** The command this attempt ran. */
  command?: string[];
  /** When the state was written (ISO). */
  updatedAt: string;
}

/** One submission of (some of) a sweep's tasks: the first, or a `--retry-failed`. */
export interface Submission {
  /** 1, 2, ... */
  n: number;
  mode: SweepMode;
  /** Task indices submitted. */
  indices: number[];
  /** Slurm array job id (null locally). */
  arrayJobId: string | null;
  /** Slurm collector job id (null locally). */
  collectorJobId: string | null;
  /** The sbatch scripts submitted. */
  scripts: string[];
  submittedAt: string;
  /** Set by `sweep cancel`. */
  cancelledAt?: string;
  /** The process running a local submission's tasks. */
  runner?: { host: string; pid: number };
}

/** `submissions.json`: every submission, oldest first (written by the sweep command only). */
export interface SubmissionsFile {
  schemaVersion: 1;
  sweepId: string;
  submissions: Submission[];
}

/** Mean, std (sample, n-1; null for n = 1), min, median and max of one metric over seeds. */
export interface MetricSummary {
  n: number;
  mean: number;
  std: number | null;
  min: number;
  median: number;
  max: number;
  /** The values, in task order. */
  values: number[];
}

/** One run that went into an aggregate. */
export interface AggregatedRun {
  index: number;
  seed: number | null;
  runId: string;
  /** The record, relative to the sweep folder. */
  record: string;
}

/** The aggregate of one group (spec plus variant) over its seeds. */
export interface GroupAggregate {
  group: string;
  specId: string;
  variant: Record<string, string>;
  comparableHash: string;
  /** Tasks of the group. */
  tasks: number[];
  /** Complete, verified runs aggregated. */
  runs: AggregatedRun[];
  /** Per metric: `last` over seeds, and `bestVal` where every run has one. */
  metrics: Record<string, { last: MetricSummary; bestVal?: MetricSummary }>;
  /** Calibration baselines (where every run has them). */
  baselines?: Record<string, MetricSummary>;
}

/** A task that did not contribute to the aggregate. */
export interface TaskProblem {
  index: number;
  state: TaskState | "missing";
  reason: string;
}

/** `sweep.json`: the sweep record (written atomically by the collector; same inputs, same bytes). */
export interface SweepRecord {
  schemaVersion: 1;
  sweepId: string;
  target: string;
  /** sha256 of manifest.json. */
  manifestHash: string;
  /** `complete` when every task is done and verified, else `incomplete`. */
  status: "complete" | "incomplete";
  counts: { tasks: number; done: number; failed: number; pending: number };
  groups: GroupAggregate[];
  problems: TaskProblem[];
  /** The gate on the aggregate (when a baseline was given). */
  gate?: { baseline: string; verdict: "pass" | "regress" | "unusable"; reports: GateReport[] };
}

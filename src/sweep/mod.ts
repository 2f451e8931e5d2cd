/**
 * Benchmark sweeps (specs × `--vary` grid × seeds) as one Slurm job array plus a collector job,
 * or locally: manifest, task runner, progress, cancel and retry, verified aggregation.
 *
 * @module
 */
export * from "./types.ts";
export { parseSeeds, parseVary } from "./seeds.ts";
export {
  benchCommand,
  commandLine,
  createSweepManifest,
  groupName,
  makeSweepId,
  readManifest,
  resumeCommand,
  shellQuote,
  SWEEP_FILES,
  sweepDirOf,
  type SweepOptions,
  writeManifest,
} from "./manifest.ts";
export {
  latestSubmissionOf,
  readSubmissions,
  readTaskStatus,
  writeSubmissions,
  writeTaskStatus,
} from "./status_files.ts";
export {
  planTask,
  runSweepTask,
  type RunTaskOptions,
  SWEEP_FAULT_ENV,
  type TaskPlan,
  taskRunDirs,
} from "./run_task.ts";
export {
  arrayIndexSpec,
  arrayScript,
  collectorScript,
  type JobInfo,
  type QueueEntry,
  SlurmClient,
  type SlurmExec,
  sweepCli,
  sweepJobName,
} from "./slurm.ts";
export { renderProgress, sweepProgress, type TaskProgress } from "./progress.ts";
export { cancelSweep, failedTasks, runLocal, submitSlurm } from "./submit.ts";
export { aggregateGroups, renderAggregateMarkdown, summarize, type TaskRun } from "./aggregate.ts";
export { type CollectOptions, type CollectResult, collectSweep, gateGroups } from "./collect.ts";

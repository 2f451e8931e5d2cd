/**
 * The collector: verify every task's record (the submission checker of `src/verify`, plus the
 * manifest's own expectations: the spec hash and seed each task was to run), aggregate the
 * verified runs per group, write the sweep-level files atomically and, given a baseline, gate
 * the aggregate. It writes nothing but files of the sweep folder; the same inputs give the same
 * bytes.
 *
 * @module
 */
import { join, relative } from "node:path";
import { gate, gateExitCode, type GateReport, renderGateReport } from "../report/gate.ts";
import { readRecords } from "../report/record.ts";
import type { RunRecord } from "../report/record_types.ts";
import { renderCsv, renderMarkdown } from "../report/tables.ts";
import { writeFileAtomic, writeJsonAtomic } from "../util/atomic_write.ts";
import { sha256File } from "../util/hash.ts";
import { loadSubmission, loadVerifyContext, verifySubmissions } from "../verify/mod.ts";
import type { SubmissionFiles } from "../verify/load_submission.ts";
import { aggregateGroups, renderAggregateMarkdown, type TaskRun } from "./aggregate.ts";
import { readManifest, SWEEP_FILES } from "./manifest.ts";
import { taskRunDirs } from "./run_task.ts";
import { readTaskStatus } from "./status_files.ts";
import {
  SWEEP_SCHEMA_VERSION,
  type SweepManifest,
  type SweepRecord,
  type SweepTask,
  type TaskProblem,
} from "./types.ts";

/** Options of {@linkcode collectSweep}. */
export interface CollectOptions {
  /** Gate the aggregate against this baseline record file or folder (default: the manifest's). */
  gateBaseline?: string | null;
  /** Progress lines. */
  log?: (line: string) => void;
}

/** What {@linkcode collectSweep} returns. */
export interface CollectResult {
  record: SweepRecord;
  /** Files written. */
  files: string[];
  /** The gate's reports (when gated). */
  gateReports: GateReport[] | null;
  /** 0: complete (and the gate passed); 1: tasks missing or failed, or a regression; 2: the gate's
   * inputs are unusable. */
  exitCode: 0 | 1 | 2;
}

async function hasFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

/**
 * Verifies, aggregates and writes `sweep.json`, `SWEEP.md`, `RESULTS.md`, `results.csv` (and
 * `gate.json`) in the sweep folder.
 *
 * @example
 * ```ts
 * const { record } = await collectSweep("results/sweeps/smoke-20250102T030405-ab12cd");
 * record.groups[0].metrics["knn.top1"].last.mean;
 * ```
 */
export async function collectSweep(
  sweepDir: string,
  options: CollectOptions = {},
): Promise<CollectResult> {
  const log = options.log ?? (() => {});
  const manifest: SweepManifest = await readManifest(sweepDir);
  const problems: TaskProblem[] = [];
  const pending: SweepTask[] = [];
  const submitted: Array<{ task: SweepTask; files: SubmissionFiles }> = [];
  for (const task of manifest.tasks) {
    const withRecord: string[] = [];
    for (const d of await taskRunDirs(task)) {
      if (await hasFile(join(d, "record.json"))) withRecord.push(d);
    }
    if (withRecord.length > 1) {
      problems.push({
        index: task.index,
        state: "failed",
        reason: `several runs with a record under ${relative(manifest.sweepDir, task.resultsDir)}`,
      });
      continue;
    }
    if (withRecord.length === 0) {
      pending.push(task);
      continue;
    }
    submitted.push({ task, files: await loadSubmission(withRecord[0]) });
  }

  const runs: TaskRun[] = [];
  if (submitted.length) {
    const report = await verifySubmissions(
      submitted.map((s) => s.files),
      await loadVerifyContext(),
    );
    report.submissions.forEach((v, i) => {
      const { task } = submitted[i];
      const record = v.record;
      const errors = v.findings.filter((f) => f.severity === "error");
      const fail = (state: TaskProblem["state"], reason: string) =>
        problems.push({ index: task.index, state, reason });
      if (record && record.status !== "complete") {
        // Interrupted or failed: a resubmission resumes it.
        fail("failed", `run ${record.status}: ${record.reason ?? "no reason recorded"}`);
      } else if (v.verdict !== "accepted" || !record) {
        fail(
          "failed",
          `record ${v.verdict}: ${
            errors.map((f) => `${f.field ? `${f.field}: ` : ""}${f.message}`).join("; ") ||
            "unreadable"
          }`,
        );
      } else if (record.specHash !== task.specHash) {
        fail(
          "failed",
          `the run's spec hash ${record.specHash.slice(0, 12)} is not the manifest's ${
            task.specHash.slice(0, 12)
          }`,
        );
      } else if (
        task.seed !== null &&
        (record.seeds.pretrain !== task.seed || record.seeds.augment !== task.seed)
      ) {
        fail("failed", `the run's seeds ${JSON.stringify(record.seeds)} are not ${task.seed}`);
      } else {
        runs.push({
          task,
          record,
          recordPath: relative(manifest.sweepDir, v.recordPath),
        });
      }
    });
  }
  for (const task of pending) {
    const st = await readTaskStatus(task.statusFile);
    problems.push({
      index: task.index,
      state: st?.state ?? "missing",
      reason: st?.state === "failed"
        ? (st.reason ?? `exit code ${st.exitCode}`)
        : st
        ? `no record yet (task ${st.state})`
        : "no record and no status (never started)",
    });
  }
  problems.sort((a, b) => a.index - b.index);
  runs.sort((a, b) => a.task.index - b.task.index);

  const groups = aggregateGroups(manifest.tasks, runs);
  const failed = problems.filter((p) => p.state === "failed").length;
  const record: SweepRecord = {
    schemaVersion: SWEEP_SCHEMA_VERSION,
    sweepId: manifest.sweepId,
    target: manifest.target,
    manifestHash: await sha256File(join(manifest.sweepDir, SWEEP_FILES.manifest)),
    status: runs.length === manifest.tasks.length ? "complete" : "incomplete",
    counts: {
      tasks: manifest.tasks.length,
      done: runs.length,
      failed,
      pending: manifest.tasks.length - runs.length - failed,
    },
    groups,
    problems,
  };

  let gateReports: GateReport[] | null = null;
  const baseline = options.gateBaseline === undefined
    ? manifest.gateBaseline
    : options.gateBaseline;
  if (baseline) {
    const baselineRecords = await readRecords(baseline);
    gateReports = gateGroups(manifest, runs, baselineRecords);
    const code = gateExitCode(gateReports);
    record.gate = {
      baseline,
      verdict: code === 2 ? "unusable" : code === 1 ? "regress" : "pass",
      reports: gateReports,
    };
    log(renderGateReport(gateReports));
  }

  const dir = manifest.sweepDir;
  const records = runs.map((r) => r.record);
  const files = [
    join(dir, SWEEP_FILES.record),
    join(dir, SWEEP_FILES.table),
    join(dir, SWEEP_FILES.results),
    join(dir, SWEEP_FILES.csv),
  ];
  await writeJsonAtomic(files[0], record);
  await writeFileAtomic(
    files[1],
    renderAggregateMarkdown(`Sweep ${manifest.sweepId}`, groups, problems),
  );
  await writeFileAtomic(files[2], renderMarkdown(records));
  await writeFileAtomic(files[3], renderCsv(records));
  if (gateReports) {
    files.push(join(dir, SWEEP_FILES.gate));
    await writeJsonAtomic(files[4], gateReports);
  }
  let exitCode: 0 | 1 | 2 = record.status === "complete" ? 0 : 1;
  if (gateReports) {
    const g = gateExitCode(gateReports);
    exitCode = g === 2 ? 2 : (g === 1 || exitCode === 1) ? 1 : 0;
  }
  return { record, files, gateReports, exitCode };
}

/**
 * The gate per group: the group's verified runs against the baseline's complete runs of the same
 * spec, under the spec's gate settings and comparable hash.
 *
 * @example
 * ```ts
 * const reports = gateGroups(manifest, runs, await readRecords("results/baselines"));
 * ```
 */
export function gateGroups(
  manifest: SweepManifest,
  runs: readonly TaskRun[],
  baselineRecords: readonly RunRecord[],
): GateReport[] {
  const reports: GateReport[] = [];
  const seen = new Set<string>();
  for (const task of manifest.tasks) {
    if (seen.has(task.group)) continue;
    seen.add(task.group);
    const candidate = runs.filter((r) => r.task.group === task.group).map((r) => r.record);
    // Baseline runs of this spec; of this variant (comparable hash) where there are any, else all
    // of the spec's, so the gate can say what differs.
    const ofSpec = baselineRecords.filter((r) =>
      r.specId === task.specId && r.status === "complete"
    );
    const same = ofSpec.filter((r) => r.comparableHash === task.comparableHash);
    const baseline = same.length ? same : ofSpec;
    const gateSpec = candidate[0]?.spec.gate ?? baseline[0]?.spec.gate ??
      { metrics: {}, alpha: 0.05 };
    const report = gate({
      specId: task.specId,
      gate: gateSpec,
      comparableHash: task.comparableHash,
      baseline,
      candidate,
    });
    reports.push(task.group === task.specId ? report : { ...report, specId: task.group });
  }
  return reports;
}

/**
 * The submission checker over a set of runs: each run's own checks, then the checks across runs
 * (distinct run ids; distinct seeds among the runs that measured the same thing), a verdict per
 * run, the printed report and the exit code.
 *
 * @module
 */
import type { LoggedEvent } from "../report/events.ts";
import type { RunRecord } from "../report/record_types.ts";
import { checkSubmission } from "./checks.ts";
import { loadVerifyContext, type LoadVerifyContextOptions, type VerifyContext } from "./context.ts";
import { type Finding, formatFinding } from "./finding.ts";
import { loadSubmissions, type SubmissionFiles } from "./load_submission.ts";

/** What became of one submitted run. */
export type Verdict = "accepted" | "rejected" | "unreadable";

/** One run's verdict with everything the checks found and read. */
export interface SubmissionVerdict {
  /** `accepted`: no error; `rejected`: at least one error; `unreadable`: no usable record. */
  verdict: Verdict;
  /** The run folder. */
  runDir: string;
  /** The record file. */
  recordPath: string;
  /** Errors and warnings, in the order found. */
  findings: Finding[];
  /** The record, when it matched the record schema. */
  record: RunRecord | null;
  /** The events of metrics.jsonl, when readable. */
  events: LoggedEvent[] | null;
}

/** The verdicts of a set of runs. */
export interface VerifyReport {
  /** One per run, in the order given (sorted by path when loaded from a folder). */
  submissions: SubmissionVerdict[];
  /** Counts by verdict. */
  counts: Record<Verdict, number>;
}

function crossChecks(checked: SubmissionVerdict[]): void {
  const byRunId = new Map<string, SubmissionVerdict>();
  const byComparable = new Map<string, SubmissionVerdict[]>();
  for (const s of checked) {
    const r = s.record;
    if (!r) continue;
    const first = byRunId.get(r.runId);
    if (first) {
      s.findings.push({
        severity: "error",
        code: "duplicate_run",
        file: s.recordPath,
        field: "runId",
        message: `"${r.runId}" is also the run id of ${first.recordPath}`,
      });
    } else byRunId.set(r.runId, s);
    const group = byComparable.get(r.comparableHash) ?? [];
    group.push(s);
    byComparable.set(r.comparableHash, group);
  }
  for (const group of byComparable.values()) {
    if (group.length < 2) continue;
    for (const key of ["pretrain", "augment"] as const) {
      const seen = new Map<number, SubmissionVerdict>();
      for (const s of group) {
        const seed = s.record!.seeds[key];
        const first = seen.get(seed);
        if (first && first.record!.runId === s.record!.runId) continue; // duplicate_run
        if (first) {
          s.findings.push({
            severity: "error",
            code: "duplicate_seed",
            file: s.recordPath,
            field: `seeds.${key}`,
            message: `${seed} is also the ${key} seed of ${first.record!.runId}, a run of the ` +
              `same comparable spec (${s.record!.comparableHash.slice(0, 12)}...); ` +
              "the runs of a multi-seed submission need distinct seeds",
          });
        } else seen.set(seed, s);
      }
    }
  }
}

function verdictOf(findings: readonly Finding[], unreadable: boolean): Verdict {
  if (unreadable) return "unreadable";
  return findings.some((f) => f.severity === "error") ? "rejected" : "accepted";
}

/**
 * Checks a set of submitted runs (each on its own, then across them) and gives each a verdict.
 * Pure: reads only `submissions` and `ctx`.
 *
 * @example
 * ```ts
 * const report = await verifySubmissions(await loadSubmissions("results/runs"), await loadVerifyContext());
 * report.counts.rejected; // 0
 * ```
 */
export async function verifySubmissions(
  submissions: readonly SubmissionFiles[],
  ctx: VerifyContext,
): Promise<VerifyReport> {
  const checked: SubmissionVerdict[] = [];
  const unreadable: boolean[] = [];
  for (const files of submissions) {
    const c = await checkSubmission(files, ctx);
    unreadable.push(c.unreadable);
    checked.push({
      verdict: "accepted",
      runDir: files.runDir,
      recordPath: files.recordPath,
      findings: c.findings,
      record: c.record,
      events: c.events,
    });
  }
  crossChecks(checked);
  const counts: Record<Verdict, number> = { accepted: 0, rejected: 0, unreadable: 0 };
  checked.forEach((s, i) => {
    s.verdict = verdictOf(s.findings, unreadable[i]);
    counts[s.verdict]++;
  });
  return { submissions: checked, counts };
}

/**
 * Loads and checks everything under `path` (a record, a run folder or a folder of runs).
 *
 * @example
 * ```ts
 * const report = await verifyPath("results/runs");
 * console.log(renderVerifyReport(report));
 * ```
 */
export async function verifyPath(
  path: string,
  options: LoadVerifyContextOptions & { context?: VerifyContext } = {},
): Promise<VerifyReport> {
  const ctx = options.context ?? await loadVerifyContext(options);
  return await verifySubmissions(await loadSubmissions(path), ctx);
}

/**
 * Exit code of `deno task verify`: 2 when a record is unreadable, else 1 when a run is rejected,
 * else 0.
 *
 * @example
 * ```ts
 * verifyExitCode(report); // 0 accepted, 1 rejected, 2 unreadable input
 * ```
 */
export function verifyExitCode(report: VerifyReport): 0 | 1 | 2 {
  if (report.counts.unreadable > 0) return 2;
  return report.counts.rejected > 0 ? 1 : 0;
}

/**
 * The report as printed: per run its verdict and each finding as `file: field: message`, then a
 * summary line.
 *
 * @example
 * ```ts
 * console.log(renderVerifyReport(report));
 * ```
 */
export function renderVerifyReport(report: VerifyReport): string {
  const lines: string[] = [];
  for (const s of report.submissions) {
    const errors = s.findings.filter((f) => f.severity === "error").length;
    const warnings = s.findings.length - errors;
    const counts = [
      errors ? `${errors} error${errors === 1 ? "" : "s"}` : "",
      warnings ? `${warnings} warning${warnings === 1 ? "" : "s"}` : "",
    ].filter(Boolean).join(", ");
    lines.push(`${s.verdict.toUpperCase()} ${s.runDir}${counts ? ` (${counts})` : ""}`);
    for (const f of s.findings) lines.push(`  ${formatFinding(f)}`);
  }
  const c = report.counts;
  lines.push(
    `${report.submissions.length} run${report.submissions.length === 1 ? "" : "s"}: ` +
      `${c.accepted} accepted, ${c.rejected} rejected, ${c.unreadable} unreadable`,
  );
  return lines.join("\n");
}

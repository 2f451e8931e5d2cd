/**
 * Building the published leaderboard: verify every record under `<results>/runs`, rank the
 * accepted ones, list the rejected ones with their findings, render the page, the Markdown and the
 * plots, and copy each ranked run's record and resolved spec beside them. The same records always
 * give byte-identical files (no build time, stable order, renumbered SVG ids).
 *
 * @module
 */
import { isAbsolute, join, relative, resolve } from "node:path";
import { writeFileAtomic } from "../util/atomic_write.ts";
import { BenchError } from "../util/errors.ts";
import type { LoggedEvent } from "../report/events.ts";
import type { Published } from "../report/published.ts";
import type { RunRecord } from "../report/record_types.ts";
import { loadVerifyContext, type VerifyContext } from "../verify/context.ts";
import { formatFinding } from "../verify/finding.ts";
import { loadSubmissions, type SubmissionFiles } from "../verify/load_submission.ts";
import { verifySubmissions } from "../verify/verify.ts";
import {
  accuracyChartSpec,
  accuracyPoints,
  computeChartSpec,
  computePoints,
  lossChartSpec,
  lossPoints,
  type PublishedLine,
  renderChart,
} from "./charts.ts";
import { slug } from "./format.ts";
import {
  type DatasetSection,
  type LeaderboardModel,
  type RejectedEntry,
  renderHtml,
  type RunCurves,
} from "./html.ts";
import { plotFiles, renderLeaderboardMarkdown } from "./markdown.ts";
import { boardRows, datasetsOf, runFiles } from "./rows.ts";

/** Page file name. */
export const LEADERBOARD_HTML = "index.html";
/** Markdown file name. */
export const LEADERBOARD_MD = "LEADERBOARD.md";
/** Default title. */
export const LEADERBOARD_TITLE = "amdim-bench leaderboard";

/** A verified run: its record, its events and the record file's text (copied as is). */
export interface LeaderboardRun {
  record: RunRecord;
  events: readonly LoggedEvent[];
  recordText: string;
}

/** What the leaderboard is built from. */
export interface LeaderboardInput {
  /** Verified runs (ranked). */
  accepted: readonly LeaderboardRun[];
  /** Rejected or unreadable submissions (listed, not ranked). */
  rejected: readonly RejectedEntry[];
  published: Published;
  title?: string;
}

function byId(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Renders every file of the leaderboard, by path relative to its folder, in a stable order.
 * Pure apart from the (deterministic) chart rendering.
 *
 * @example
 * ```ts
 * const files = await buildLeaderboard({ accepted, rejected: [], published });
 * files.get("index.html");
 * ```
 */
export async function buildLeaderboard(input: LeaderboardInput): Promise<Map<string, string>> {
  const runs = [...input.accepted].sort((a, b) => byId(a.record.runId, b.record.runId));
  const records = runs.map((r) => r.record);
  const rows = boardRows(records, input.published);
  const files = new Map<string, string>();
  const sections: DatasetSection[] = [];
  for (const dataset of datasetsOf(rows)) {
    const dsRuns = runs.filter((r) => r.record.spec.dataset.id === dataset);
    let compute: DatasetSection["compute"] = null;
    if (dsRuns.length) {
      const points = computePoints(dsRuns.map((r) => r.record));
      const lines: PublishedLine[] = Object.entries(input.published.entries)
        .filter(([, e]) => e.dataset === dataset)
        .sort(([a], [b]) => byId(a, b))
        .map(([id, e]) => ({
          label: `${id} (${e.metric.replace(/\.top1$/, "")})`,
          value: e.value,
        }));
      const s = slug(dataset);
      compute = {
        imagesSeen: await renderChart(
          computeChartSpec(points, lines, "imagesSeen", `${dataset}: top-1 against images seen`),
          `${s}-images`,
        ),
        wallSeconds: await renderChart(
          computeChartSpec(points, lines, "wallSeconds", `${dataset}: top-1 against wall time`),
          `${s}-wall`,
        ),
      };
      const plots = plotFiles(dataset);
      files.set(plots.imagesSeen, compute.imagesSeen + "\n");
      files.set(plots.wallSeconds, compute.wallSeconds + "\n");
    }
    const curves: RunCurves[] = [];
    for (const run of dsRuns) {
      const id = run.record.runId;
      const losses = lossPoints(run.events);
      const accuracy = accuracyPoints(run.record, run.events);
      curves.push({
        runId: id,
        benchmark: run.record.specId,
        loss: losses.length
          ? await renderChart(lossChartSpec(losses, `${id}: loss terms`), `${slug(id)}-loss`)
          : null,
        accuracy: accuracy.length
          ? await renderChart(
            accuracyChartSpec(accuracy, `${id}: top-1 against steps`),
            `${slug(id)}-acc`,
          )
          : null,
      });
    }
    sections.push({ dataset, rows: rows.filter((r) => r.dataset === dataset), compute, curves });
  }
  const model: LeaderboardModel = {
    title: input.title ?? LEADERBOARD_TITLE,
    sections,
    rejected: [...input.rejected].sort((a, b) => byId(a.path, b.path)),
    protocols: [...new Set(rows.map((r) => r.protocol))].sort(),
    accepted: runs.length,
  };
  files.set(LEADERBOARD_HTML, renderHtml(model));
  files.set(LEADERBOARD_MD, renderLeaderboardMarkdown(model));
  for (const run of runs) {
    const copies = runFiles(run.record.runId);
    files.set(copies.record, run.recordText);
    files.set(copies.spec, JSON.stringify(run.record.spec, null, 2) + "\n");
  }
  return new Map([...files].sort(([a], [b]) => byId(a, b)));
}

/** Options of {@linkcode writeLeaderboard}. */
export interface WriteLeaderboardOptions {
  /** Output folder (default `<resultsDir>/leaderboard`). */
  outDir?: string;
  /** Registry and manifest (default: read from the repository). */
  context?: VerifyContext;
  title?: string;
}

/** What {@linkcode writeLeaderboard} wrote. */
export interface LeaderboardResult {
  outDir: string;
  /** Path of `index.html`. */
  html: string;
  /** Path of `LEADERBOARD.md`. */
  markdown: string;
  accepted: number;
  rejected: number;
  /** Every file written, by path relative to `outDir`. */
  files: string[];
}

function shownPath(resultsDir: string, path: string): string {
  const rel = relative(resultsDir, path);
  return rel && !rel.startsWith("..") && !isAbsolute(rel) ? rel : path;
}

async function submissionsUnder(runsDir: string): Promise<SubmissionFiles[]> {
  try {
    return await loadSubmissions(runsDir);
  } catch (error) {
    if (error instanceof BenchError && error.code === "record_missing") return [];
    throw error;
  }
}

/**
 * Verifies every record under `<resultsDir>/runs` and writes the leaderboard to `outDir`
 * (default `<resultsDir>/leaderboard`): `index.html`, `LEADERBOARD.md`, `plots/*.svg` and
 * `runs/<runId>.record.json` / `.spec.json`. Files of an earlier build that are no longer part of
 * it (`runs/`, `plots/`) are removed.
 *
 * @example
 * ```ts
 * const { html } = await writeLeaderboard("results");
 * ```
 */
export async function writeLeaderboard(
  resultsDir: string,
  options: WriteLeaderboardOptions = {},
): Promise<LeaderboardResult> {
  const root = resolve(resultsDir);
  const outDir = resolve(options.outDir ?? join(root, "leaderboard"));
  const ctx = options.context ?? await loadVerifyContext();
  const submissions = await submissionsUnder(join(root, "runs"));
  const report = await verifySubmissions(submissions, ctx);
  const accepted: LeaderboardRun[] = [];
  const rejected: RejectedEntry[] = [];
  report.submissions.forEach((s, i) => {
    const files = submissions[i];
    if (s.verdict === "accepted" && s.record && s.events && "text" in files.record) {
      accepted.push({ record: s.record, events: s.events, recordText: files.record.text });
    } else if (s.verdict !== "accepted") {
      rejected.push({
        path: shownPath(root, s.recordPath),
        verdict: s.verdict,
        findings: s.findings.filter((f) => f.severity === "error")
          .map((f) => formatFinding({ ...f, file: shownPath(root, f.file) })),
      });
    }
  });
  const files = await buildLeaderboard({
    accepted,
    rejected,
    published: ctx.published,
    title: options.title,
  });
  for (const owned of ["runs", "plots"]) {
    await Deno.remove(join(outDir, owned), { recursive: true }).catch((error) => {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    });
  }
  for (const [rel, text] of files) await writeFileAtomic(join(outDir, rel), text);
  return {
    outDir,
    html: join(outDir, LEADERBOARD_HTML),
    markdown: join(outDir, LEADERBOARD_MD),
    accepted: accepted.length,
    rejected: rejected.length,
    files: [...files.keys()],
  };
}

/**
 * Rebuilds `<resultsDir>/leaderboard` (for `deno task bench` after a run).
 *
 * @example
 * ```ts
 * const { html } = await refreshLeaderboard("results");
 * console.log(`leaderboard: ${html}`);
 * ```
 */
export function refreshLeaderboard(resultsDir: string): Promise<LeaderboardResult> {
  return writeLeaderboard(resultsDir);
}

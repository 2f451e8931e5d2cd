/**
 * The regression gate: compares each gated metric of candidate runs with baseline runs of the
 * same spec. Pure functions; reading records and running specs happen in `gate_inputs.ts` and the
 * command.
 *
 * Rule, per metric (values are `metrics[m].last`, fractions; drop = baseline mean - candidate
 * mean):
 * - one run on either side: `regress` when drop > absTolerance;
 * - two or more runs on both sides: `regress` when drop > absTolerance and a one-sided Welch
 *   t-test says the candidate mean is lower at level `alpha`; a drop beyond the tolerance that is
 *   not significant is `inconclusive` (reported, does not fail);
 * - `improved` when the candidate is better by more than the tolerance; else `pass`;
 * - `missing` (a regression) when a candidate run lacks the metric.
 *
 * @module
 */
import { comparableHash } from "../spec/canonical.ts";
import type { GateSpec } from "../spec/types.ts";
import type { RunRecord } from "./record_types.ts";
import { mean, sampleVariance, welchLess } from "./stats.ts";

/** Differences smaller than this are treated as equal (float noise in fractions). */
export const GATE_EPSILON = 1e-9;

/** A sample of one metric. */
export interface SampleSummary {
  n: number;
  mean: number;
  std: number;
  values: number[];
}

/** Verdict on one metric. */
export type MetricVerdict = "pass" | "improved" | "regress" | "inconclusive" | "missing";

/** One metric compared. */
export interface GateRow {
  metric: string;
  baseline: SampleSummary;
  candidate: SampleSummary | null;
  /** candidate mean - baseline mean. */
  delta: number | null;
  tolerance: number;
  test: "absolute" | "welch";
  pValue: number | null;
  df: number | null;
  verdict: MetricVerdict;
}

/** The gate's answer for one spec. */
export interface GateReport {
  specId: string;
  /** `unusable` when the inputs cannot be compared (see `problems`). */
  verdict: "pass" | "regress" | "unusable";
  rows: GateRow[];
  /** Why the inputs are unusable. */
  problems: string[];
  alpha: number;
  baselineRuns: string[];
  candidateRuns: string[];
}

/** Input of {@linkcode gate}. */
export interface GateInput {
  specId: string;
  gate: GateSpec;
  /** comparableHash of the spec as it is now; records must match it (omit to skip). */
  comparableHash?: string;
  baseline: readonly RunRecord[];
  candidate: readonly RunRecord[];
}

function summary(values: number[]): SampleSummary {
  return { n: values.length, mean: mean(values), std: Math.sqrt(sampleVariance(values)), values };
}

function checkSide(
  side: "baseline" | "candidate",
  records: readonly RunRecord[],
  input: GateInput,
  problems: string[],
): void {
  if (records.length === 0) {
    problems.push(`no ${side} record for spec "${input.specId}"`);
    return;
  }
  const seeds = new Map<string, string>();
  for (const r of records) {
    if (r.specId !== input.specId) {
      problems.push(`${side} ${r.runId} is a run of spec "${r.specId}", not "${input.specId}"`);
    }
    if (r.status !== "complete") problems.push(`${side} ${r.runId} is ${r.status}, not complete`);
    const hash = comparableHash(r.spec);
    if (input.comparableHash !== undefined && hash !== input.comparableHash) {
      problems.push(
        `${side} ${r.runId} ran a different version of spec "${input.specId}" (comparable hash ${
          hash.slice(0, 12)
        } != ${
          input.comparableHash.slice(0, 12)
        } of the spec now); rerun it or record a new baseline`,
      );
    }
    const seedKey = `${r.seeds.pretrain}/${r.seeds.augment}`;
    if (records.length > 1 && seeds.has(seedKey)) {
      problems.push(
        `${side} runs ${
          seeds.get(seedKey)
        } and ${r.runId} share seeds ${seedKey}; several runs on one side must differ in seed`,
      );
    }
    seeds.set(seedKey, r.runId);
  }
}

/**
 * Compares candidate runs with baseline runs under a spec's gate settings.
 *
 * @example
 * ```ts
 * const report = gate({ specId: "smoke", gate: spec.gate, baseline: [a], candidate: [b] });
 * report.verdict; // "pass" | "regress" | "unusable"
 * ```
 */
export function gate(input: GateInput): GateReport {
  const problems: string[] = [];
  checkSide("baseline", input.baseline, input, problems);
  checkSide("candidate", input.candidate, input, problems);
  if (input.baseline.length && input.candidate.length && input.comparableHash === undefined) {
    const hb = comparableHash(input.baseline[0].spec);
    for (const r of input.candidate) {
      if (comparableHash(r.spec) !== hb) {
        problems.push(
          `candidate ${r.runId} and baseline ${
            input.baseline[0].runId
          } ran different specs (comparable hashes differ)`,
        );
      }
    }
  }
  const metrics = Object.keys(input.gate.metrics).sort();
  if (metrics.length === 0) {
    problems.push(`spec "${input.specId}" gates no metric (gate.metrics is empty)`);
  }
  const rows: GateRow[] = [];
  if (problems.length === 0) {
    for (const metric of metrics) {
      const tolerance = input.gate.metrics[metric].absTolerance;
      const base = input.baseline.map((r) => r.metrics[metric]?.last);
      if (base.some((v) => v === undefined)) {
        const which = input.baseline.filter((r) => r.metrics[metric] === undefined)[0];
        problems.push(`baseline ${which.runId} has no metric ${metric}`);
        continue;
      }
      const b = summary(base as number[]);
      const cand = input.candidate.map((r) => r.metrics[metric]?.last);
      const useWelch = input.baseline.length >= 2 && input.candidate.length >= 2;
      if (cand.some((v) => v === undefined)) {
        rows.push({
          metric,
          baseline: b,
          candidate: null,
          delta: null,
          tolerance,
          test: useWelch ? "welch" : "absolute",
          pValue: null,
          df: null,
          verdict: "missing",
        });
        continue;
      }
      const c = summary(cand as number[]);
      const delta = c.mean - b.mean;
      let verdict: MetricVerdict = "pass";
      let pValue: number | null = null;
      let df: number | null = null;
      if (useWelch) {
        const w = welchLess(b.values, c.values);
        pValue = w.p;
        df = w.df;
      }
      if (-delta > tolerance + GATE_EPSILON) {
        verdict = pValue === null || pValue < input.gate.alpha ? "regress" : "inconclusive";
      } else if (delta > tolerance + GATE_EPSILON) {
        verdict = "improved";
      }
      rows.push({
        metric,
        baseline: b,
        candidate: c,
        delta,
        tolerance,
        test: useWelch ? "welch" : "absolute",
        pValue,
        df,
        verdict,
      });
    }
  }
  const regressed = rows.some((r) => r.verdict === "regress" || r.verdict === "missing");
  return {
    specId: input.specId,
    verdict: problems.length ? "unusable" : regressed ? "regress" : "pass",
    rows: problems.length ? [] : rows,
    problems,
    alpha: input.gate.alpha,
    baselineRuns: input.baseline.map((r) => r.runId),
    candidateRuns: input.candidate.map((r) => r.runId),
  };
}

/**
 * Exit code of a gate over several specs: 2 if any input is unusable, else 1 if any metric
 * regressed, else 0.
 *
 * @example
 * ```ts
 * Deno.exit(gateExitCode(reports));
 * ```
 */
export function gateExitCode(reports: readonly GateReport[]): 0 | 1 | 2 {
  if (reports.some((r) => r.verdict === "unusable")) return 2;
  if (reports.some((r) => r.verdict === "regress")) return 1;
  return 0;
}

const pct = (v: number) => (v * 100).toFixed(2);
const showSample = (s: SampleSummary | null) =>
  s === null ? "—" : s.n === 1 ? pct(s.mean) : `${pct(s.mean)} ± ${pct(s.std)} (n=${s.n})`;

/**
 * The table the command prints: metric, baseline, candidate, Δ, tolerance, test, verdict (in
 * percentage points).
 *
 * @example
 * ```ts
 * console.log(renderGateReport(reports));
 * ```
 */
export function renderGateReport(reports: readonly GateReport[]): string {
  const lines: string[] = [];
  for (const report of reports) {
    lines.push(`${report.specId}: ${report.verdict.toUpperCase()}`);
    for (const p of report.problems) lines.push(`  unusable: ${p}`);
    if (report.rows.length) {
      const header = ["metric", "baseline", "candidate", "Δ", "tolerance", "test", "verdict"];
      const body = report.rows.map((r) => [
        r.metric,
        showSample(r.baseline),
        showSample(r.candidate),
        r.delta === null ? "—" : `${r.delta >= 0 ? "+" : "−"}${pct(Math.abs(r.delta))}`,
        `±${pct(r.tolerance)}`,
        r.test === "welch"
          ? `welch p=${r.pValue === null ? "—" : r.pValue.toPrecision(3)} α=${report.alpha}`
          : "absolute",
        r.verdict,
      ]);
      const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i].length)));
      const fmt = (row: string[]) =>
        "  " + row.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd();
      lines.push(fmt(header), fmt(widths.map((w) => "-".repeat(w))), ...body.map(fmt));
    }
  }
  return lines.join("\n");
}

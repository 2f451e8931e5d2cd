/**
 * Aggregating a sweep's runs per group (spec plus `--vary` values) over seeds: mean, sample
 * standard deviation, min, median and max of every metric. Pure functions.
 *
 * @module
 */
import type { RunRecord } from "../report/record_types.ts";
import { mean, sampleVariance } from "../report/stats.ts";
import type { AggregatedRun, GroupAggregate, MetricSummary, SweepTask } from "./types.ts";

/**
 * Summary of a non-empty sample; `std` is the sample standard deviation (n - 1), null for n = 1.
 *
 * @example
 * ```ts
 * summarize([0.5, 0.7, 0.6]); // { n: 3, mean: 0.6, std: 0.1, min: 0.5, median: 0.6, max: 0.7, ... }
 * ```
 */
export function summarize(values: readonly number[]): MetricSummary {
  const sorted = [...values].sort((a, b) => a - b);
  const n = sorted.length;
  const median = n % 2 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  return {
    n,
    mean: mean(values),
    std: n >= 2 ? Math.sqrt(sampleVariance(values)) : null,
    min: sorted[0],
    median,
    max: sorted[n - 1],
    values: [...values],
  };
}

/** A verified run of one task. */
export interface TaskRun {
  task: SweepTask;
  record: RunRecord;
  /** The record's path relative to the sweep folder. */
  recordPath: string;
}

/**
 * One aggregate per group, in the order of the groups' first tasks. `runs` must hold only
 * complete, verified records; groups with none still appear (empty `metrics`).
 *
 * @example
 * ```ts
 * const groups = aggregateGroups(manifest.tasks, runs);
 * groups[0].metrics["knn.top1"].last.mean;
 * ```
 */
export function aggregateGroups(
  tasks: readonly SweepTask[],
  runs: readonly TaskRun[],
): GroupAggregate[] {
  const groups = new Map<string, GroupAggregate>();
  for (const t of tasks) {
    if (!groups.has(t.group)) {
      groups.set(t.group, {
        group: t.group,
        specId: t.specId,
        variant: t.variant,
        comparableHash: t.comparableHash,
        tasks: [],
        runs: [],
        metrics: {},
      });
    }
    groups.get(t.group)!.tasks.push(t.index);
  }
  const byGroup = new Map<string, TaskRun[]>();
  for (const r of [...runs].sort((a, b) => a.task.index - b.task.index)) {
    const list = byGroup.get(r.task.group) ?? [];
    list.push(r);
    byGroup.set(r.task.group, list);
  }
  for (const [name, list] of byGroup) {
    const g = groups.get(name)!;
    g.runs = list.map((r): AggregatedRun => ({
      index: r.task.index,
      seed: r.task.seed,
      runId: r.record.runId,
      record: r.recordPath,
    }));
    const names = [...new Set(list.flatMap((r) => Object.keys(r.record.metrics)))].sort();
    for (const m of names) {
      const have = list.filter((r) => r.record.metrics[m] !== undefined);
      const entry: GroupAggregate["metrics"][string] = {
        last: summarize(have.map((r) => r.record.metrics[m].last)),
      };
      if (have.every((r) => typeof r.record.metrics[m].bestVal === "number")) {
        entry.bestVal = summarize(have.map((r) => r.record.metrics[m].bestVal!));
      }
      g.metrics[m] = entry;
    }
    const baselineNames = [...new Set(list.flatMap((r) => Object.keys(r.record.baselines ?? {})))]
      .sort();
    if (baselineNames.length) {
      g.baselines = {};
      for (const b of baselineNames) {
        const vals = list.map((r) => r.record.baselines?.[b]).filter((v) => typeof v === "number");
        g.baselines[b] = summarize(vals as number[]);
      }
    }
  }
  return [...groups.values()];
}

const pct = (v: number | null) => v === null ? "—" : (v * 100).toFixed(2);

/**
 * The aggregate as Markdown: one table per group, metric by metric (percent).
 *
 * @example
 * ```ts
 * await Deno.writeTextFile("SWEEP.md", renderSweepMarkdown(record));
 * ```
 */
export function renderAggregateMarkdown(
  title: string,
  groups: readonly GroupAggregate[],
  problems: ReadonlyArray<{ index: number; state: string; reason: string }>,
): string {
  const lines = [`# ${title}`, ""];
  for (const g of groups) {
    lines.push(`## ${g.group}`, "");
    lines.push(
      `${g.runs.length} of ${g.tasks.length} runs aggregated; seeds ${
        g.runs.map((r) => r.seed ?? "spec").join(", ") || "—"
      }; comparable hash ${g.comparableHash.slice(0, 12)}`,
      "",
    );
    const names = Object.keys(g.metrics);
    if (!names.length) continue;
    lines.push(
      "| metric | n | mean % | std | min | median | max |",
      "|---|---:|---:|---:|---:|---:|---:|",
    );
    for (const m of names) {
      const s = g.metrics[m].last;
      lines.push(
        `| ${m} | ${s.n} | ${pct(s.mean)} | ${pct(s.std)} | ${pct(s.min)} | ${pct(s.median)} | ${
          pct(s.max)
        } |`,
      );
    }
    lines.push("");
  }
  if (problems.length) {
    lines.push("## Tasks not aggregated", "");
    for (const p of problems) lines.push(`- task ${p.index} (${p.state}): ${p.reason}`);
    lines.push("");
  }
  return lines.join("\n");
}

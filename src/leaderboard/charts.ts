/**
 * The leaderboard's plots: Vega-Lite specs built from records and their events, rendered to
 * static SVG by Vega's headless `View.toSVG()` (no browser, no DOM, no network). The only
 * process-dependent part of Vega's SVG, its global clip-path counter, is renumbered per chart so
 * the same data always gives the same bytes.
 *
 * @module
 */
import { compile, type TopLevelSpec } from "vega-lite";
import { parse, View } from "vega";
import { EVENT, type LoggedEvent } from "../report/events.ts";
import type { RunRecord } from "../report/record_types.ts";

/** Plot size in pixels (the plotting area; axes and legend add to it). */
export const CHART_SIZE = { width: 520, height: 240 } as const;

/** At most this many points per line; longer series are averaged in consecutive buckets. */
export const MAX_POINTS_PER_SERIES = 300;

const CONFIG = {
  background: "white",
  font: "sans-serif",
  view: { stroke: "#ddd" },
  axis: { labelFontSize: 11, titleFontSize: 12, gridColor: "#eee" },
  legend: { labelFontSize: 11, titleFontSize: 12, labelLimit: 260 },
  title: { fontSize: 13, anchor: "start" },
} as const;

/** One point of a loss curve. */
export interface LossPoint {
  step: number;
  term: string;
  value: number;
}

/** One point of an accuracy-against-steps curve (fractions). */
export interface AccuracyPoint {
  step: number;
  metric: string;
  value: number;
}

/** One run's top-1 against its cost. */
export interface ComputePoint {
  run: string;
  benchmark: string;
  protocol: string;
  top1: number;
  imagesSeen: number;
  wallSeconds: number;
}

/** A published number drawn as a reference line. */
export interface PublishedLine {
  label: string;
  value: number;
}

function downsample<T extends { step: number; value: number }>(points: T[]): T[] {
  if (points.length <= MAX_POINTS_PER_SERIES) return points;
  const size = Math.ceil(points.length / MAX_POINTS_PER_SERIES);
  const out: T[] = [];
  for (let i = 0; i < points.length; i += size) {
    const bucket = points.slice(i, i + size);
    const mean = (f: (p: T) => number) => bucket.reduce((s, p) => s + f(p), 0) / bucket.length;
    out.push({ ...bucket[0], step: mean((p) => p.step), value: mean((p) => p.value) });
  }
  return out;
}

const NOT_LOSSES = new Set(["event", "time", "step", "epoch", "lr", "imagesPerSecond"]);

/**
 * Every loss term of the `train_step` events (the numbers under `losses`, or the event's own
 * numeric fields when it has no `losses`), downsampled to {@linkcode MAX_POINTS_PER_SERIES} a term.
 *
 * @example
 * ```ts
 * lossPoints(events).filter((p) => p.term === "total");
 * ```
 */
export function lossPoints(events: readonly LoggedEvent[]): LossPoint[] {
  const series = new Map<string, { step: number; value: number; term: string }[]>();
  for (const e of events) {
    if (e.event !== EVENT.trainStep) continue;
    const losses = (e as { losses?: unknown }).losses;
    const fields: [string, unknown][] = losses && typeof losses === "object"
      ? Object.entries(losses as Record<string, unknown>)
      : Object.entries(e).filter(([k]) => !NOT_LOSSES.has(k));
    for (const [term, value] of fields) {
      if (typeof value !== "number" || !Number.isFinite(value)) continue;
      const list = series.get(term) ?? [];
      list.push({ step: e.step, value, term });
      series.set(term, list);
    }
  }
  const out: LossPoint[] = [];
  for (const term of [...series.keys()].sort()) out.push(...downsample(series.get(term)!));
  return out;
}

/**
 * Top-1 metrics against steps: those measured at epoch ends (`epoch_end.metrics`) and the final
 * `eval_result`s (test split), placed at the last step.
 *
 * @example
 * ```ts
 * accuracyPoints(record, events);
 * ```
 */
export function accuracyPoints(
  record: RunRecord,
  events: readonly LoggedEvent[],
): AccuracyPoint[] {
  const out: AccuracyPoint[] = [];
  for (const e of events) {
    if (e.event !== EVENT.epochEnd || !e.metrics) continue;
    for (const [metric, value] of Object.entries(e.metrics)) {
      if (metric.endsWith(".top1") && Number.isFinite(value)) {
        out.push({ step: e.step + 1, metric, value });
      }
    }
  }
  const final = new Map<string, number>();
  for (const e of events) {
    if (e.event === EVENT.evalResult && e.split === "test" && e.metric.endsWith(".top1")) {
      final.set(e.metric, e.value);
    }
  }
  for (const [metric, value] of [...final].sort(([a], [b]) => (a < b ? -1 : 1))) {
    out.push({ step: record.phases.pretrain.steps, metric, value });
  }
  return out;
}

/**
 * Top-1 of each protocol of each record against images seen and wall time.
 *
 * @example
 * ```ts
 * computePoints(records).map((p) => [p.imagesSeen, p.top1]);
 * ```
 */
export function computePoints(records: readonly RunRecord[]): ComputePoint[] {
  const out: ComputePoint[] = [];
  for (const r of records) {
    for (const [name, m] of Object.entries(r.metrics).sort(([a], [b]) => (a < b ? -1 : 1))) {
      if (!name.endsWith(".top1")) continue;
      out.push({
        run: r.runId,
        benchmark: r.specId,
        protocol: name.slice(0, -".top1".length),
        top1: m.last,
        imagesSeen: r.phases.pretrain.steps * r.spec.pretrain.batchSize,
        wallSeconds: r.phases.pretrain.wallSeconds + r.phases.eval.wallSeconds,
      });
    }
  }
  return out;
}

const pct = (v: number) => Math.round(v * 1e6) / 1e4;

/**
 * Vega-Lite spec: every loss term against steps.
 *
 * @example
 * ```ts
 * await renderChart(lossChartSpec(lossPoints(events), "losses"), "loss");
 * ```
 */
export function lossChartSpec(points: readonly LossPoint[], title: string): TopLevelSpec {
  return {
    ...CHART_SIZE,
    config: CONFIG,
    title,
    data: { values: points.map((p) => ({ ...p })) },
    mark: { type: "line", strokeWidth: 1.5 },
    encoding: {
      x: { field: "step", type: "quantitative", title: "step", axis: { format: "~s" } },
      y: { field: "value", type: "quantitative", title: "loss", scale: { zero: false } },
      color: { field: "term", type: "nominal", title: "term", scale: { scheme: "tableau20" } },
    },
  };
}

/**
 * Vega-Lite spec: top-1 metrics (in %) against steps.
 *
 * @example
 * ```ts
 * await renderChart(accuracyChartSpec(accuracyPoints(record, events), "top-1"), "acc");
 * ```
 */
export function accuracyChartSpec(points: readonly AccuracyPoint[], title: string): TopLevelSpec {
  return {
    ...CHART_SIZE,
    config: CONFIG,
    title,
    data: { values: points.map((p) => ({ step: p.step, metric: p.metric, top1: pct(p.value) })) },
    mark: { type: "line", point: true, strokeWidth: 1.5 },
    encoding: {
      x: {
        field: "step",
        type: "quantitative",
        title: "step",
        scale: { zero: true },
        axis: { format: "~s" },
      },
      y: { field: "top1", type: "quantitative", title: "top-1 (%)", scale: { zero: false } },
      color: { field: "metric", type: "nominal", title: "metric" },
    },
  };
}

/**
 * Vega-Lite spec: top-1 (in %) of every run and protocol against a cost (images seen or wall
 * seconds, log scale when it spans more than a factor of 20), published numbers as dashed lines.
 *
 * @example
 * ```ts
 * computeChartSpec(computePoints(records), [], "imagesSeen", "cifar10");
 * ```
 */
export function computeChartSpec(
  points: readonly ComputePoint[],
  published: readonly PublishedLine[],
  axis: "imagesSeen" | "wallSeconds",
  title: string,
): TopLevelSpec {
  const xs = points.map((p) => p[axis]).filter((x) => x > 0);
  const log = xs.length > 0 && Math.max(...xs) / Math.min(...xs) > 20;
  const xTitle = axis === "imagesSeen"
    ? "images seen in pretraining (steps × batch)"
    : "wall time, pretraining + evaluation (s)";
  const values = points.map((p) => ({
    run: p.run,
    benchmark: p.benchmark,
    protocol: p.protocol,
    top1: pct(p.top1),
    x: p[axis],
  }));
  const layers: TopLevelSpec[] = [{
    data: { values },
    mark: { type: "point", filled: true, size: 60, opacity: 0.85 },
    encoding: {
      x: {
        field: "x",
        type: "quantitative",
        title: xTitle,
        scale: log ? { type: "log" } : { zero: true },
        axis: { format: "~s" },
      },
      y: { field: "top1", type: "quantitative", title: "top-1 (%)", scale: { zero: false } },
      color: { field: "protocol", type: "nominal", title: "protocol" },
      shape: { field: "benchmark", type: "nominal", title: "benchmark" },
    },
  } as TopLevelSpec];
  if (published.length) {
    const lines = published.map((l) => ({ label: l.label, top1: pct(l.value) }));
    layers.push({
      data: { values: lines },
      mark: { type: "rule", strokeDash: [4, 3], color: "#888" },
      encoding: { y: { field: "top1", type: "quantitative" } },
    } as TopLevelSpec);
    layers.push({
      data: { values: lines },
      mark: { type: "text", align: "left", dx: 4, dy: -6, x: 0, color: "#666", fontSize: 10 },
      encoding: { y: { field: "top1", type: "quantitative" }, text: { field: "label" } },
    } as TopLevelSpec);
  }
  return {
    ...CHART_SIZE,
    config: CONFIG,
    title,
    layer: layers,
  } as TopLevelSpec;
}

/**
 * Renumbers the ids of an SVG (and the `url(#...)` / `href="#..."` references to them) as
 * `<prefix>-1`, `<prefix>-2`, ... in order of appearance.
 *
 * @example
 * ```ts
 * renumberIds('<clipPath id="clip7"/><g clip-path="url(#clip7)"/>', "c");
 * // '<clipPath id="c-1"/><g clip-path="url(#c-1)"/>'
 * ```
 */
export function renumberIds(svg: string, prefix: string): string {
  const ids = new Map<string, string>();
  for (const m of svg.matchAll(/\sid="([^"]+)"/g)) {
    if (!ids.has(m[1])) ids.set(m[1], `${prefix}-${ids.size + 1}`);
  }
  if (ids.size === 0) return svg;
  const rename = (id: string) => ids.get(id) ?? id;
  return svg
    .replace(/(\sid=")([^"]+)(")/g, (_, a, id, b) => `${a}${rename(id)}${b}`)
    .replace(/url\(#([^)]+)\)/g, (_, id) => `url(#${rename(id)})`)
    .replace(/(href=")#([^"]+)(")/g, (_, a, id, b) => `${a}#${rename(id)}${b}`);
}

/**
 * Renders a Vega-Lite spec to a standalone SVG string, headless, with ids `<idPrefix>-<n>`.
 *
 * @example
 * ```ts
 * const svg = await renderChart(lossChartSpec(lossPoints(events), "losses"), "loss-run1");
 * ```
 */
export async function renderChart(spec: TopLevelSpec, idPrefix: string): Promise<string> {
  const vg = compile(spec).spec;
  const view = new View(parse(vg), { renderer: "none" });
  try {
    const svg = await view.toSVG();
    return renumberIds(svg, idPrefix);
  } finally {
    view.finalize();
  }
}

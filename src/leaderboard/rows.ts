/**
 * The rows of the leaderboard tables: one per top-1 metric of each verified run (from the report's
 * {@linkcode resultRows}), plus one per published number of the dataset, ranked within each
 * protocol.
 *
 * @module
 */
import type { Published, PublishedEntry } from "../report/published.ts";
import type { RunRecord } from "../report/record_types.ts";
import { type ResultRow, resultRows } from "../report/tables.ts";

/** One row of a dataset's table. */
export interface BoardRow {
  /** A verified run, or a published number. */
  kind: "run" | "published";
  /** Place by top-1 among the runs of the same dataset and protocol (1 = best); null for published. */
  rank: number | null;
  dataset: string;
  /** Spec id, or the published entry's id. */
  benchmark: string;
  runId: string | null;
  encoder: string;
  budget: string;
  /** Metric without `.top1`, e.g. `linear-probe`, `amdim-online.linear`. */
  protocol: string;
  top1: number;
  /** True when `top1` is a lower bound (published "≥"). */
  lowerBound: boolean;
  top5: number | null;
  /** Published value compared with (on the reference metric's row). */
  published: number | null;
  delta: number | null;
  protocolMatch: boolean | null;
  /** What differs from the published protocol, or what the source does not state. */
  mismatches: string;
  imagesPerSecond: number | null;
  backend: string;
  date: string;
  commit: string;
  /** Record and resolved spec copies, relative to the page; null for published rows. */
  recordHref: string | null;
  specHref: string | null;
  /** Where a published number comes from. */
  source: string | null;
  /** Published status: `verified` or `third-party`. */
  status: string | null;
}

/**
 * Where the copies of a run's record and resolved spec go, relative to the leaderboard folder.
 *
 * @example
 * ```ts
 * runFiles("smoke-20250102T030405-7258cd").record; // "runs/smoke-20250102T030405-7258cd.record.json"
 * ```
 */
export function runFiles(runId: string): { record: string; spec: string } {
  return { record: `runs/${runId}.record.json`, spec: `runs/${runId}.spec.json` };
}

function publishedEncoder(e: PublishedEntry): string {
  if (e.encoder === null) return `${e.inputSize}px, encoder not stated`;
  const x = e.encoder;
  const part = (key: string, label: string) =>
    (x as Record<string, unknown>)[key] === undefined
      ? ""
      : ` ${label}${(x as Record<string, unknown>)[key]}`;
  return `${x.inputSize ?? e.inputSize}px${part("ndf", "ndf")}${part("nRkhs", "rkhs")}${
    part("nDepth", "d")
  }${x.useBn ? " bn" : ""}`;
}

function fromResultRow(r: ResultRow): BoardRow {
  const files = runFiles(r.runId);
  return {
    kind: "run",
    rank: null,
    dataset: r.dataset,
    benchmark: r.benchmark,
    runId: r.runId,
    encoder: r.encoder,
    budget: r.budget,
    protocol: r.protocol,
    top1: r.top1,
    lowerBound: false,
    top5: r.top5,
    published: r.published,
    delta: r.delta,
    protocolMatch: r.protocolMatch,
    mismatches: r.mismatches,
    imagesPerSecond: r.imagesPerSecond,
    backend: r.backend,
    date: r.date,
    commit: r.commit,
    recordHref: files.record,
    specHref: files.spec,
    source: null,
    status: r.publishedStatus,
  };
}

function fromPublished(id: string, e: PublishedEntry): BoardRow {
  const notes = [
    e.protocolVerified ? "" : "protocol not stated by the source",
    e.encoder === null ? "encoder not stated" : "",
    e.pretrainEpochs === null ? "epochs not stated" : "",
  ].filter(Boolean);
  return {
    kind: "published",
    rank: null,
    dataset: e.dataset,
    benchmark: id,
    runId: null,
    encoder: publishedEncoder(e),
    budget: `${e.pretrainEpochs ?? "?"} ep × ${e.batchSize ?? "?"}`,
    protocol: e.metric.replace(/\.top1$/, ""),
    top1: e.value,
    lowerBound: e.bound === "lower",
    top5: null,
    published: null,
    delta: null,
    protocolMatch: null,
    mismatches: notes.join("; "),
    imagesPerSecond: null,
    backend: "",
    date: "",
    commit: "",
    recordHref: null,
    specHref: null,
    source: `${e.source}${e.protocolNote ? ` (protocol: ${e.protocolNote})` : ""}`,
    status: e.status,
  };
}

const cmp = (a: string | number, b: string | number) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * The rows of every dataset: verified runs ranked by top-1 within their protocol, then the
 * published numbers; sorted by dataset, protocol, kind, top-1 (descending) and id.
 *
 * @example
 * ```ts
 * boardRows(records, published).filter((r) => r.dataset === "cifar10");
 * ```
 */
export function boardRows(records: readonly RunRecord[], published: Published): BoardRow[] {
  const rows = resultRows(records).map(fromResultRow);
  for (const [id, entry] of Object.entries(published.entries)) rows.push(fromPublished(id, entry));
  rows.sort((a, b) =>
    cmp(a.dataset, b.dataset) || cmp(a.protocol, b.protocol) ||
    cmp(a.kind === "run" ? 0 : 1, b.kind === "run" ? 0 : 1) || cmp(b.top1, a.top1) ||
    cmp(a.runId ?? a.benchmark, b.runId ?? b.benchmark)
  );
  let group = "";
  let place = 0;
  for (const r of rows) {
    if (r.kind !== "run") continue;
    const key = `${r.dataset}\u0000${r.protocol}`;
    if (key !== group) {
      group = key;
      place = 0;
    }
    r.rank = ++place;
  }
  return rows;
}

/**
 * Datasets of the rows, in order.
 *
 * @example
 * ```ts
 * datasetsOf(boardRows(records, published)); // ["cifar10", "synthetic"]
 * ```
 */
export function datasetsOf(rows: readonly BoardRow[]): string[] {
  return [...new Set(rows.map((r) => r.dataset))].sort();
}

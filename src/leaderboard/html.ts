/**
 * The leaderboard page: one self-contained HTML file (inline CSS, inline SVG plots, a small
 * inline script for sorting and the protocol filter; no external resource of any kind), so it
 * opens from `file://` offline.
 *
 * @module
 */
import type { BoardRow } from "./rows.ts";
import {
  deltaText,
  escapeHtml as h,
  matchText,
  pct,
  publishedText,
  rateText,
  slug,
  top1Text,
} from "./format.ts";

/** Training curves of one run, as SVG. */
export interface RunCurves {
  runId: string;
  benchmark: string;
  loss: string | null;
  accuracy: string | null;
}

/** One dataset's part of the page. */
export interface DatasetSection {
  dataset: string;
  rows: BoardRow[];
  /** Top-1 against images seen and against wall time (SVG), null without runs. */
  compute: { imagesSeen: string; wallSeconds: string } | null;
  curves: RunCurves[];
}

/** A submission that was not admitted, with its findings as printed lines. */
export interface RejectedEntry {
  /** Record path, relative to the results folder. */
  path: string;
  verdict: "rejected" | "unreadable";
  findings: string[];
}

/** Everything the page shows. */
export interface LeaderboardModel {
  title: string;
  sections: DatasetSection[];
  rejected: RejectedEntry[];
  /** Protocols of every row, for the filter. */
  protocols: string[];
  accepted: number;
}

interface Column {
  label: string;
  /** `num` sorts by the cell's data-v, `text` by its text. */
  sort: "num" | "text";
  title?: string;
  cell: (r: BoardRow) => { text: string; html?: string; v?: number | null; title?: string };
}

const num = (v: number | null) => v;

const COLUMNS: Column[] = [
  {
    label: "#",
    sort: "num",
    title: "rank by top-1 within the protocol",
    cell: (r) => ({ text: r.rank === null ? "" : String(r.rank), v: r.rank }),
  },
  {
    label: "benchmark",
    sort: "text",
    cell: (r) => ({ text: r.benchmark, title: r.runId ?? r.source ?? undefined }),
  },
  { label: "encoder", sort: "text", cell: (r) => ({ text: r.encoder }) },
  { label: "budget", sort: "text", cell: (r) => ({ text: r.budget }) },
  { label: "protocol", sort: "text", cell: (r) => ({ text: r.protocol }) },
  { label: "top-1 %", sort: "num", cell: (r) => ({ text: top1Text(r), v: r.top1 }) },
  { label: "top-5 %", sort: "num", cell: (r) => ({ text: pct(r.top5), v: num(r.top5) }) },
  {
    label: "published %",
    sort: "num",
    title: "‡ third-party source",
    cell: (r) => ({ text: publishedText(r), v: num(r.published) }),
  },
  {
    label: "Δ pt",
    sort: "num",
    title: "top-1 minus published; † protocols differ",
    cell: (r) => ({
      text: deltaText(r),
      v: num(r.delta),
      title: r.protocolMatch === false ? `protocol mismatch: ${r.mismatches}` : undefined,
    }),
  },
  {
    label: "protocol match",
    sort: "text",
    cell: (r) => ({ text: matchText(r), title: r.mismatches || undefined }),
  },
  {
    label: "images/s",
    sort: "num",
    cell: (r) => ({ text: rateText(r.imagesPerSecond), v: num(r.imagesPerSecond) }),
  },
  { label: "device / backend", sort: "text", cell: (r) => ({ text: r.backend }) },
  { label: "date", sort: "text", cell: (r) => ({ text: r.date }) },
  {
    label: "commit",
    sort: "text",
    cell: (r) => ({ text: r.commit, html: r.commit ? `<code>${h(r.commit)}</code>` : "" }),
  },
  {
    label: "files",
    sort: "text",
    cell: (r) =>
      r.recordHref && r.specHref
        ? {
          text: "record spec",
          html: `<a href="${h(r.recordHref)}">record</a> · <a href="${h(r.specHref)}">spec</a>`,
        }
        : { text: r.source ? "source" : "", title: r.source ?? undefined },
  },
];

const CSS = `
:root { color-scheme: light; --fg: #1d2330; --muted: #5b6475; --line: #d9dee7; --bg-alt: #f6f8fb; --accent: #2456a6; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 1400px; padding: 24px; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 32px 0 8px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
p.lead, p.note { color: var(--muted); margin: 4px 0 12px; }
nav a { margin-right: 12px; }
a { color: var(--accent); }
.controls { margin: 12px 0; padding: 8px 12px; background: var(--bg-alt); border: 1px solid var(--line); border-radius: 6px; }
.scroll { overflow-x: auto; }
table.board { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
table.board th, table.board td { padding: 4px 8px; border-bottom: 1px solid var(--line); text-align: left; white-space: nowrap; }
table.board th { background: var(--bg-alt); position: sticky; top: 0; }
table.board th button { font: inherit; font-weight: 600; border: 0; background: none; padding: 0; cursor: pointer; color: inherit; }
table.board th[aria-sort="ascending"] button::after { content: " ▲"; }
table.board th[aria-sort="descending"] button::after { content: " ▼"; }
table.board td.num { text-align: right; }
table.board tr.published td { color: var(--muted); font-style: italic; }
table.board tr.mismatch td.match { color: #a35200; }
figure { margin: 12px 0; }
figure svg { max-width: 100%; height: auto; }
.plots { display: flex; flex-wrap: wrap; gap: 16px; }
details { margin: 8px 0; }
summary { cursor: pointer; font-weight: 600; }
ul.findings { margin: 4px 0 12px; color: #8a1c1c; font-family: ui-monospace, monospace; font-size: 12px; }
`;

const SCRIPT = `
(function () {
  "use strict";
  var filter = document.getElementById("protocol-filter");
  function applyFilter() {
    var want = filter.value;
    var rows = document.querySelectorAll("table.board tbody tr");
    for (var i = 0; i < rows.length; i++) {
      rows[i].hidden = want !== "" && rows[i].getAttribute("data-protocol") !== want;
    }
    var tables = document.querySelectorAll("table.board");
    for (var t = 0; t < tables.length; t++) {
      var shown = tables[t].querySelectorAll("tbody tr:not([hidden])").length;
      var out = document.getElementById(tables[t].id + "-shown");
      if (out) out.textContent = String(shown);
    }
  }
  filter.addEventListener("change", applyFilter);
  function sortBy(table, th, col) {
    var dir = th.getAttribute("aria-sort") === "ascending" ? "descending" : "ascending";
    var heads = table.querySelectorAll("thead th");
    for (var i = 0; i < heads.length; i++) heads[i].removeAttribute("aria-sort");
    th.setAttribute("aria-sort", dir);
    var numeric = th.getAttribute("data-sort") === "num";
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    function key(row) {
      var cell = row.cells[col];
      return numeric ? cell.getAttribute("data-v") || "" : cell.textContent.trim();
    }
    rows.sort(function (a, b) {
      var x = key(a), y = key(b);
      if (x === "" || y === "") {
        if (x === y) return Number(a.getAttribute("data-order")) - Number(b.getAttribute("data-order"));
        return x === "" ? 1 : -1;
      }
      var c = numeric ? Number(x) - Number(y) : (x < y ? -1 : x > y ? 1 : 0);
      if (dir === "descending") c = -c;
      return c || Number(a.getAttribute("data-order")) - Number(b.getAttribute("data-order"));
    });
    for (var r = 0; r < rows.length; r++) body.appendChild(rows[r]);
  }
  var tables = document.querySelectorAll("table.board");
  for (var t = 0; t < tables.length; t++) {
    (function (table) {
      var heads = table.querySelectorAll("thead th");
      for (var c = 0; c < heads.length; c++) {
        (function (th, col) {
          th.addEventListener("click", function () { sortBy(table, th, col); });
        })(heads[c], c);
      }
    })(tables[t]);
  }
  applyFilter();
})();
`;

function renderCell(column: Column, r: BoardRow): string {
  const c = column.cell(r);
  const attrs: string[] = [];
  const classes: string[] = [];
  if (column.sort === "num") {
    classes.push("num");
    attrs.push(`data-v="${c.v === null || c.v === undefined ? "" : String(c.v)}"`);
  }
  if (column.label === "protocol match") classes.push("match");
  if (classes.length) attrs.unshift(`class="${classes.join(" ")}"`);
  if (c.title) attrs.push(`title="${h(c.title)}"`);
  return `<td${attrs.length ? " " + attrs.join(" ") : ""}>${c.html ?? h(c.text)}</td>`;
}

function renderTable(section: DatasetSection): string {
  const id = `board-${slug(section.dataset)}`;
  const head = COLUMNS.map((c) =>
    `<th scope="col" data-sort="${c.sort}"${
      c.title ? ` title="${h(c.title)}"` : ""
    }><button type="button">${h(c.label)}</button></th>`
  ).join("");
  const body = section.rows.map((r, i) => {
    const classes = [r.kind, r.protocolMatch === false ? "mismatch" : ""].filter(Boolean).join(" ");
    return `<tr class="${classes}" data-protocol="${h(r.protocol)}" data-order="${i}">${
      COLUMNS.map((c) => renderCell(c, r)).join("")
    }</tr>`;
  }).join("\n");
  return `<div class="scroll"><table class="board" id="${id}" data-dataset="${h(section.dataset)}">
<thead><tr>${head}</tr></thead>
<tbody>
${body}
</tbody>
</table></div>
<p class="note"><span id="${id}-shown">${section.rows.length}</span> of ${section.rows.length} rows shown.</p>`;
}

function renderSection(section: DatasetSection): string {
  const runs = section.rows.filter((r) => r.kind === "run");
  const runIds = new Set(runs.map((r) => r.runId));
  const parts = [
    `<section class="dataset" id="dataset-${slug(section.dataset)}" data-dataset="${
      h(section.dataset)
    }">`,
    `<h2>${h(section.dataset)}</h2>`,
    `<p class="note">${runIds.size} verified run${runIds.size === 1 ? "" : "s"}, ${
      section.rows.length - runs.length
    } published number${section.rows.length - runs.length === 1 ? "" : "s"}.</p>`,
    renderTable(section),
  ];
  if (section.compute) {
    parts.push(
      `<div class="plots">`,
      `<figure class="plot compute" data-plot="images-seen">${section.compute.imagesSeen}</figure>`,
      `<figure class="plot compute" data-plot="wall-time">${section.compute.wallSeconds}</figure>`,
      `</div>`,
    );
  }
  if (section.curves.length) {
    parts.push(
      `<details class="curves"><summary>Training curves (${section.curves.length} run${
        section.curves.length === 1 ? "" : "s"
      })</summary>`,
    );
    for (const c of section.curves) {
      parts.push(`<h3>${h(c.runId)}</h3><div class="plots">`);
      if (c.loss) parts.push(`<figure class="plot loss">${c.loss}</figure>`);
      if (c.accuracy) parts.push(`<figure class="plot accuracy">${c.accuracy}</figure>`);
      if (!c.loss && !c.accuracy) parts.push(`<p class="note">No curves in metrics.jsonl.</p>`);
      parts.push(`</div>`);
    }
    parts.push(`</details>`);
  }
  parts.push(`</section>`);
  return parts.join("\n");
}

function renderRejected(rejected: readonly RejectedEntry[]): string {
  const parts = [
    `<section id="rejected">`,
    `<h2>Rejected submissions</h2>`,
  ];
  if (rejected.length === 0) {
    parts.push(
      `<p class="note">None: every record found passed <code>deno task verify</code>.</p>`,
    );
  } else {
    parts.push(
      `<p class="note">Not ranked: these records failed <code>deno task verify</code>.</p>`,
      `<ul class="rejected">`,
    );
    for (const r of rejected) {
      parts.push(
        `<li><strong>${h(r.path)}</strong> (${r.verdict})<ul class="findings">${
          r.findings.map((f) => `<li>${h(f)}</li>`).join("")
        }</ul></li>`,
      );
    }
    parts.push(`</ul>`);
  }
  parts.push(`</section>`);
  return parts.join("\n");
}

/**
 * The whole page (deterministic: the same model gives the same bytes).
 *
 * @example
 * ```ts
 * await Deno.writeTextFile("index.html", renderHtml(model));
 * ```
 */
export function renderHtml(model: LeaderboardModel): string {
  const options = [`<option value="">all protocols</option>`]
    .concat(model.protocols.map((p) => `<option value="${h(p)}">${h(p)}</option>`)).join("");
  const nav = model.sections.map((s) => `<a href="#dataset-${slug(s.dataset)}">${h(s.dataset)}</a>`)
    .concat(`<a href="#rejected">rejected (${model.rejected.length})</a>`).join("");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${h(model.title)}</title>
<style>${CSS}</style>
</head>
<body>
<header>
<h1>${h(model.title)}</h1>
<p class="lead">${model.accepted} verified run${
    model.accepted === 1 ? "" : "s"
  }, ${model.rejected.length} rejected. Top-1 and top-5 in %, on each dataset's test split after the last epoch. Published numbers come from <code>results/published.json</code> (‡ third-party source, ≥ lower bound). Δ is in percentage points against the published number on the row of the metric it reports; † marks a protocol mismatch: the comparison is shown but the protocols differ (hover for what differs). Click a column header to sort.</p>
<nav>${nav}</nav>
<div class="controls"><label for="protocol-filter">Protocol </label><select id="protocol-filter">${options}</select></div>
</header>
<main>
${model.sections.map(renderSection).join("\n")}
${renderRejected(model.rejected)}
</main>
<script>${SCRIPT}</script>
</body>
</html>
`;
}

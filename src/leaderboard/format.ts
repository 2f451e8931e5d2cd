/**
 * Cell texts shared by the HTML and Markdown leaderboards.
 *
 * @module
 */
import type { BoardRow } from "./rows.ts";

/**
 * A fraction as a percentage with two decimals, "" for null.
 *
 * @example
 * ```ts
 * pct(0.9123); // "91.23"
 * ```
 */
export function pct(v: number | null): string {
  return v === null ? "" : (v * 100).toFixed(2);
}

/**
 * A signed difference in percentage points, "" for null.
 *
 * @example
 * ```ts
 * signedPct(-0.0035); // "−0.35"
 * ```
 */
export function signedPct(v: number | null): string {
  return v === null ? "" : `${v >= 0 ? "+" : "−"}${Math.abs(v * 100).toFixed(2)}`;
}

/**
 * Top-1 of a row, "≥" for lower bounds.
 *
 * @example
 * ```ts
 * top1Text(row); // "≥68.10"
 * ```
 */
export function top1Text(r: BoardRow): string {
  return `${r.lowerBound ? "≥" : ""}${pct(r.top1)}`;
}

/**
 * Published value of a run row, "‡" for a third-party source.
 *
 * @example
 * ```ts
 * publishedText(row); // "91.20 ‡"
 * ```
 */
export function publishedText(r: BoardRow): string {
  if (r.published === null) return "";
  return `${pct(r.published)}${r.status === "third-party" ? " ‡" : ""}`;
}

/**
 * Δ to the published value; marked † when the protocols differ.
 *
 * @example
 * ```ts
 * deltaText(row); // "−50.20 †"
 * ```
 */
export function deltaText(r: BoardRow): string {
  if (r.delta === null) return "";
  return `${signedPct(r.delta)}${r.protocolMatch === false ? " †" : ""}`;
}

/**
 * Protocol match: "yes", "protocol mismatch", or "" when there is nothing to compare.
 *
 * @example
 * ```ts
 * matchText(row); // "protocol mismatch"
 * ```
 */
export function matchText(r: BoardRow): string {
  if (r.kind === "published") return r.status ?? "";
  return r.protocolMatch === null ? "" : r.protocolMatch ? "yes" : "protocol mismatch";
}

/**
 * Images per second with one decimal, "" when unknown.
 *
 * @example
 * ```ts
 * rateText(123.456); // "123.5"
 * ```
 */
export function rateText(v: number | null): string {
  return v === null ? "" : v.toFixed(1);
}

/**
 * HTML-escapes text (for element content and attribute values).
 *
 * @example
 * ```ts
 * escapeHtml('a<b "c"'); // "a&lt;b &quot;c&quot;"
 * ```
 */
export function escapeHtml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;").replace(/'/g, "&#39;");
}

/**
 * A string usable in an id or a file name: lower-case letters, digits and dashes.
 *
 * @example
 * ```ts
 * slug("Fashion MNIST"); // "fashion-mnist"
 * ```
 */
export function slug(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "") || "x";
}

/**
 * Findings of the submission checker: one problem (or note) about one field of one file.
 *
 * @module
 */

/** `error` rejects the submission; `warning` is listed with it but does not reject it. */
export type Severity = "error" | "warning";

/** One thing the checker found. */
export interface Finding {
  /** Whether it rejects the submission. */
  severity: Severity;
  /**
   * Stable machine-readable kind, e.g. `metric_mismatch`, `spec_hash`, `protocol_mismatch`,
   * `unreadable` (the input could not be read at all).
   */
  code: string;
  /** The file it is about, as the path was given (e.g. `results/runs/x/record.json`). */
  file: string;
  /** Key path inside the file (`metrics.linear-probe.top1.last`, `line 12`), or "" for the file. */
  field: string;
  /** What is wrong, with the values involved. */
  message: string;
}

/**
 * One line for a finding: `file: field: message`, warnings marked `warning:`.
 *
 * @example
 * ```ts
 * formatFinding({ severity: "error", code: "metric_mismatch", file: "r/record.json",
 *   field: "metrics.knn.top1.last", message: "0.91 does not match metrics.jsonl eval_result (0.87)" });
 * // "r/record.json: metrics.knn.top1.last: 0.91 does not match metrics.jsonl eval_result (0.87)"
 * ```
 */
export function formatFinding(finding: Finding): string {
  const field = finding.field ? `${finding.field}: ` : "";
  const mark = finding.severity === "warning" ? "warning: " : "";
  return `${finding.file}: ${field}${mark}${finding.message}`;
}

/**
 * A value as the checker prints it: as JSON writes it.
 *
 * @example
 * ```ts
 * showNumber(0.91); // "0.91"
 * ```
 */
export function showNumber(value: unknown): string {
  return typeof value === "number" ? JSON.stringify(value) : JSON.stringify(value) ?? "nothing";
}

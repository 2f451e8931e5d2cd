/**
 * Helpers around a run's `metrics.jsonl` (the event vocabulary and writer live in
 * `src/report/events.ts`): lenient reading, the resume truncation, and comparison without timing
 * fields. On resume, events at or after the checkpoint's step are dropped (they are recomputed,
 * bit for bit), so the log of a resumed run reads like that of an uninterrupted one.
 *
 * @module
 */
import { writeFileAtomic } from "../util/atomic_write.ts";

/** One event: `event` is a name from the fixed vocabulary; `time` is an ISO date. */
export interface MetricsEvent {
  /** Event name. */
  event: string;
  /** 0-based update index, where it applies. */
  step?: number;
  /** 0-based epoch, where it applies. */
  epoch?: number;
  /** Wall-clock time (ISO 8601). */
  time: string;
  /** Event-specific fields. */
  [field: string]: unknown;
}

/** Fields that depend on the clock or the machine, left out when runs are compared. */
export const TIMING_FIELDS = ["time", "imagesPerSecond", "wallSeconds"] as const;

/**
 * Prepares a run's event log for a resume from update `step`: training events at or after `step`
 * (they will be recomputed, bit for bit) and run-end events are removed; the file is rewritten
 * atomically. A torn last line from a killed process is dropped.
 *
 * @example
 * ```ts
 * await truncateEventsForResume("results/runs/x/metrics.jsonl", 400);
 * ```
 */
export async function truncateEventsForResume(path: string, step: number): Promise<void> {
  const events = await readEventLines(path);
  const keep = events.filter((e) =>
    !(typeof e.step === "number" && e.step >= step &&
      ["train_step", "epoch_end", "checkpoint"].includes(e.event)) &&
    !["run_end", "run_failed", "run_interrupted", "eval_result"].includes(e.event)
  );
  await writeFileAtomic(path, keep.map((e) => JSON.stringify(e) + "\n").join(""));
}

/**
 * Reads a metrics.jsonl file.
 *
 * @example
 * ```ts
 * const steps = (await readEventLines("metrics.jsonl")).filter((e) => e.event === "train_step");
 * ```
 */
export async function readEventLines(path: string): Promise<MetricsEvent[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
  const out: MetricsEvent[] = [];
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    try {
      out.push(JSON.parse(line));
    } catch {
      // a torn last line from a killed process
    }
  }
  return out;
}

/**
 * An event without its timing fields (for comparing runs).
 *
 * @example
 * ```ts
 * const curve = events.map(withoutTiming);
 * ```
 */
export function withoutTiming(event: MetricsEvent): Record<string, unknown> {
  const out: Record<string, unknown> = { ...event };
  for (const k of TIMING_FIELDS) delete out[k];
  return out;
}

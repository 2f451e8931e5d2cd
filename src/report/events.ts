/**
 * The event vocabulary of `metrics.jsonl` (one JSON object a line), defined once: tools read
 * events by name instead of scraping text. Every event has `event` and `time` (UTC ISO 8601);
 * the other fields depend on the event.
 *
 * @module
 */
import { join } from "node:path";
import { BenchError } from "../util/errors.ts";

/** File name of the event log inside a run folder. */
export const EVENTS_FILE = "metrics.jsonl";

/** Event names. */
export const EVENT = {
  /** A run (or a resumed run) starts. */
  runStart: "run_start",
  /** One optimiser step of pretraining. */
  trainStep: "train_step",
  /** An epoch of pretraining ended. */
  epochEnd: "epoch_end",
  /** A checkpoint was written. */
  checkpoint: "checkpoint",
  /** One metric of an evaluation protocol. */
  evalResult: "eval_result",
  /** The run completed. */
  runEnd: "run_end",
  /** The run failed. */
  runFailed: "run_failed",
  /** The run was interrupted (signal, time limit); it can be resumed. */
  runInterrupted: "run_interrupted",
} as const;

/** An event name. */
export type EventName = typeof EVENT[keyof typeof EVENT];

/** All event names. */
export const EVENT_NAMES: readonly EventName[] = Object.values(EVENT);

/** Fields an event may carry beyond the required ones (numbers, strings, objects). */
export interface ExtraFields {
  [field: string]: unknown;
}

/** `run_start`. */
export interface RunStartEvent extends ExtraFields {
  event: "run_start";
  runId: string;
  specHash: string;
  /** Step the run starts (or resumes) from. */
  step?: number;
  totalSteps?: number;
  stepsPerEpoch?: number;
  resumed?: boolean;
}

/** `train_step`: the learning rate, every loss term (one numeric field each) and throughput. */
export interface TrainStepEvent extends ExtraFields {
  event: "train_step";
  /** 0-based update index. */
  step: number;
  epoch: number;
  lr: number;
  imagesPerSecond?: number;
}

/** `epoch_end`. */
export interface EpochEndEvent extends ExtraFields {
  event: "epoch_end";
  step: number;
  epoch: number;
  wallSeconds?: number;
  imagesPerSecond?: number;
  /** Metrics measured at the end of the epoch (e.g. online heads on the test split). */
  metrics?: Record<string, number>;
}

/** `checkpoint`. */
export interface CheckpointEvent extends ExtraFields {
  event: "checkpoint";
  step: number;
  epoch?: number;
  /** Paths written, relative to the run folder. */
  paths?: string[];
}

/** `eval_result`: one metric of one protocol. */
export interface EvalResultEvent extends ExtraFields {
  event: "eval_result";
  protocol: string;
  /** Metric name, e.g. `linear-probe.top1`. */
  metric: string;
  value: number;
  split: "test" | "val";
  epoch?: number;
  /** Setting that produced it, e.g. `{ l2: 1e-4 }`. */
  setting?: Record<string, unknown>;
}

/** `run_end`. */
export interface RunEndEvent extends ExtraFields {
  event: "run_end";
  wallSeconds: number;
}

/** `run_failed`. */
export interface RunFailedEvent extends ExtraFields {
  event: "run_failed";
  reason: string;
  step?: number;
}

/** `run_interrupted`. */
export interface RunInterruptedEvent extends ExtraFields {
  event: "run_interrupted";
  reason: string;
  step?: number;
}

/** Any event, before `time` is added. */
export type BenchEvent =
  | RunStartEvent
  | TrainStepEvent
  | EpochEndEvent
  | CheckpointEvent
  | EvalResultEvent
  | RunEndEvent
  | RunFailedEvent
  | RunInterruptedEvent;

/** An event as stored: with its time. */
export type LoggedEvent = BenchEvent & { time: string };

const REQUIRED: Record<EventName, Record<string, "number" | "string" | "object">> = {
  run_start: { runId: "string", specHash: "string" },
  train_step: { step: "number", epoch: "number", lr: "number" },
  epoch_end: { step: "number", epoch: "number" },
  checkpoint: { step: "number" },
  eval_result: { protocol: "string", metric: "string", value: "number", split: "string" },
  run_end: { wallSeconds: "number" },
  run_failed: { reason: "string" },
  run_interrupted: { reason: "string" },
};

/**
 * Checks an event's name and required fields; returns it typed.
 *
 * @example
 * ```ts
 * checkEvent({ event: "run_end", wallSeconds: 3, time: "2025-01-01T00:00:00.000Z" });
 * ```
 */
export function checkEvent(value: unknown, where = "event"): LoggedEvent {
  const e = value as Record<string, unknown>;
  if (!e || typeof e !== "object" || Array.isArray(e)) {
    throw new BenchError("event_invalid", "expected an object", { location: where });
  }
  const name = e.event as EventName;
  const required = REQUIRED[name];
  if (!required) {
    throw new BenchError("event_invalid", `unknown event "${String(e.event)}"`, {
      location: where,
      hint: `events: ${EVENT_NAMES.join(", ")}`,
    });
  }
  if (typeof e.time !== "string") {
    throw new BenchError("event_invalid", `${name}: missing "time"`, { location: where });
  }
  for (const [key, type] of Object.entries(required)) {
    const v = e[key];
    const ok = type === "number"
      ? typeof v === "number" && Number.isFinite(v)
      : type === "object"
      ? v !== null && typeof v === "object"
      : typeof v === "string";
    if (!ok) {
      throw new BenchError("event_invalid", `${name}: "${key}" must be a finite ${type}`, {
        location: where,
      });
    }
  }
  return e as unknown as LoggedEvent;
}

/** Options of {@linkcode appendEvent} and {@linkcode openEventLog}. */
export interface EventLogOptions {
  /** Clock (default `() => new Date()`), injectable for tests. */
  now?: () => Date;
}

/** The metrics.jsonl path of a run folder (or the path itself when it ends in .jsonl). */
export function eventsPath(runDirOrFile: string): string {
  return runDirOrFile.endsWith(".jsonl") ? runDirOrFile : join(runDirOrFile, EVENTS_FILE);
}

/**
 * Appends one event (with `time` added) as one line, in a single append write.
 *
 * @example
 * ```ts
 * await appendEvent(runDir, { event: "train_step", step: 1, epoch: 0, lr: 4e-7, total: 5.2 });
 * ```
 */
export async function appendEvent(
  runDirOrFile: string,
  event: BenchEvent,
  options: EventLogOptions = {},
): Promise<LoggedEvent> {
  const log = await openEventLog(runDirOrFile, options);
  try {
    return await log.append(event);
  } finally {
    log.close();
  }
}

/** An open event log. */
export interface EventLog {
  /** Appends an event as one line. */
  append(event: BenchEvent): Promise<LoggedEvent>;
  /** Closes the file. */
  close(): void;
}

/**
 * Opens a run's metrics.jsonl for appending (created if missing), for many events in a row.
 *
 * @example
 * ```ts
 * const log = await openEventLog(runDir);
 * await log.append({ event: "run_end", wallSeconds: 12.5 });
 * log.close();
 * ```
 */
export async function openEventLog(
  runDirOrFile: string,
  options: EventLogOptions = {},
): Promise<EventLog> {
  const path = eventsPath(runDirOrFile);
  const now = options.now ?? (() => new Date());
  const file = await Deno.open(path, { append: true, create: true });
  const encoder = new TextEncoder();
  return {
    async append(event: BenchEvent): Promise<LoggedEvent> {
      const logged = { ...event, time: now().toISOString() } as LoggedEvent;
      checkEvent(logged, path);
      const bytes = encoder.encode(JSON.stringify(logged) + "\n");
      let written = 0;
      while (written < bytes.length) written += await file.write(bytes.subarray(written));
      return logged;
    },
    close() {
      file.close();
    },
  };
}

/**
 * Reads and checks a metrics.jsonl. A last line cut short by a crash is ignored; any other bad
 * line is an `event_invalid` error naming the line.
 *
 * @example
 * ```ts
 * const steps = (await readEvents(runDir)).filter((e) => e.event === EVENT.trainStep);
 * ```
 */
export async function readEvents(runDirOrFile: string): Promise<LoggedEvent[]> {
  const path = eventsPath(runDirOrFile);
  const text = await Deno.readTextFile(path);
  const lines = text.split("\n");
  const complete = text.endsWith("\n");
  const out: LoggedEvent[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line === "") continue;
    const isLast = i === lines.length - 1;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      if (isLast && !complete) break;
      throw new BenchError("event_invalid", "not valid JSON", { location: `${path}:${i + 1}` });
    }
    out.push(checkEvent(value, `${path}:${i + 1}`));
  }
  return out;
}

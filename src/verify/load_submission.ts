/**
 * Reading a submission from disk: the record, its event log, the saved spec and the sha256 of the
 * checkpoint files that are present. Everything the checks look at is loaded here, so the checks
 * themselves are a pure function of what this returns.
 *
 * @module
 */
import { dirname, isAbsolute, join, normalize } from "node:path";
import { BenchError } from "../util/errors.ts";
import { sha256File } from "../util/hash.ts";
import { findRecordFiles, RECORD_FILE } from "../report/record.ts";
import { EVENTS_FILE } from "../report/events.ts";

/** File name of the resolved spec a run saves first (`runBenchmark`). */
export const SAVED_SPEC_FILE = "spec.json";

/** A text file that may be missing or unreadable. */
export type LoadedText = { text: string } | { error: string };

/** One submitted run, as read from disk. */
export interface SubmissionFiles {
  /** The run folder. */
  runDir: string;
  /** `<runDir>/record.json`. */
  recordPath: string;
  /** Its text, or why it could not be read. */
  record: LoadedText;
  /** `<runDir>/metrics.jsonl`. */
  eventsPath: string;
  /** Its text, or why it could not be read. */
  events: LoadedText;
  /** `<runDir>/spec.json`. */
  savedSpecPath: string;
  /** Its text, or null when the run folder has none. */
  savedSpec: LoadedText | null;
  /**
   * sha256 of the checkpoint files present, by path relative to the run folder: every file in
   * `checkpoints/` and every file the record lists under `checkpoints`.
   */
  checkpointHashes: Record<string, string>;
}

async function readText(path: string): Promise<LoadedText> {
  try {
    return { text: await Deno.readTextFile(path) };
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return { error: "missing" };
    return { error: `cannot read: ${(error as Error).message}` };
  }
}

/**
 * True when `rel` is a relative path that stays inside its folder.
 *
 * @example
 * ```ts
 * isInsideRelative("checkpoints/final.safetensors"); // true
 * isInsideRelative("../x"); // false
 * ```
 */
export function isInsideRelative(rel: string): boolean {
  if (rel === "" || isAbsolute(rel)) return false;
  const n = normalize(rel);
  return n !== ".." && !n.startsWith("../") && n !== ".";
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

/**
 * Reads one run folder (or the folder of a `record.json`).
 *
 * @example
 * ```ts
 * const files = await loadSubmission("results/runs/smoke-20250102T030405-7258cd");
 * ```
 */
export async function loadSubmission(runDirOrRecord: string): Promise<SubmissionFiles> {
  const runDir = runDirOrRecord.endsWith(".json") ? dirname(runDirOrRecord) : runDirOrRecord;
  const recordPath = runDirOrRecord.endsWith(".json") ? runDirOrRecord : join(runDir, RECORD_FILE);
  const record = await readText(recordPath);
  const eventsPath = join(runDir, EVENTS_FILE);
  const savedSpecPath = join(runDir, SAVED_SPEC_FILE);
  const savedSpecText = await readText(savedSpecPath);
  const savedSpec = "error" in savedSpecText && savedSpecText.error === "missing"
    ? null
    : savedSpecText;

  const wanted = new Set<string>();
  try {
    for await (const entry of Deno.readDir(join(runDir, "checkpoints"))) {
      if (entry.isFile) wanted.add(`checkpoints/${entry.name}`);
    }
  } catch {
    // no checkpoints folder
  }
  if ("text" in record) {
    try {
      const listed = (JSON.parse(record.text) as { checkpoints?: unknown }).checkpoints;
      if (listed && typeof listed === "object") {
        for (const rel of Object.keys(listed)) if (isInsideRelative(rel)) wanted.add(rel);
      }
    } catch {
      // an unparsable record is reported by the checks
    }
  }
  const checkpointHashes: Record<string, string> = {};
  for (const rel of [...wanted].sort()) {
    const path = join(runDir, rel);
    if (await isFile(path)) checkpointHashes[rel] = await sha256File(path);
  }
  return {
    runDir,
    recordPath,
    record,
    eventsPath,
    events: await readText(eventsPath),
    savedSpecPath,
    savedSpec,
    checkpointHashes,
  };
}

/**
 * Reads every submission under `path`: a `record.json` (or any `.json` record file), a run folder,
 * or a folder of run folders (searched recursively). Sorted by path.
 *
 * Throws `record_missing` when `path` does not exist or holds no record.
 *
 * @example
 * ```ts
 * const submissions = await loadSubmissions("results/runs");
 * ```
 */
export async function loadSubmissions(path: string): Promise<SubmissionFiles[]> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (cause) {
    throw new BenchError("record_missing", "no such file or folder", { location: path, cause });
  }
  const recordFiles = info.isFile ? [path] : await findRecordFiles(path);
  if (recordFiles.length === 0) {
    throw new BenchError("record_missing", `no ${RECORD_FILE} under this folder`, {
      location: path,
      hint: "pass a record.json, a run folder (results/runs/<runId>) or a folder of run folders",
    });
  }
  const out: SubmissionFiles[] = [];
  for (const file of recordFiles) out.push(await loadSubmission(file));
  return out;
}

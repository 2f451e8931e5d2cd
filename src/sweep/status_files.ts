/**
 * The files a sweep keeps its progress in: each task's own `status.json` (written atomically by
 * the submitter before the task exists, then only by the task) and the sweep-level
 * `submissions.json` (written only by the sweep command).
 *
 * @module
 */
import { join } from "node:path";
import { writeJsonAtomic } from "../util/atomic_write.ts";
import { BenchError } from "../util/errors.ts";
import { SWEEP_FILES } from "./manifest.ts";
import {
  type Submission,
  type SubmissionsFile,
  SWEEP_SCHEMA_VERSION,
  type SweepManifest,
  type TaskStatus,
} from "./types.ts";

/**
 * Reads a task's status file; null when there is none yet.
 *
 * @example
 * ```ts
 * const status = await readTaskStatus(task.statusFile);
 * ```
 */
export async function readTaskStatus(path: string): Promise<TaskStatus | null> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
  try {
    return JSON.parse(text) as TaskStatus;
  } catch (cause) {
    throw new BenchError("sweep_invalid", "task status file is not valid JSON", {
      location: path,
      cause,
    });
  }
}

/**
 * Writes a task's status file atomically (a reader sees the old or the new state, never half).
 *
 * @example
 * ```ts
 * await writeTaskStatus(task.statusFile, { ...status, state: "running" });
 * ```
 */
export async function writeTaskStatus(
  path: string,
  status: Omit<TaskStatus, "schemaVersion" | "updatedAt">,
): Promise<TaskStatus> {
  const full: TaskStatus = {
    schemaVersion: SWEEP_SCHEMA_VERSION,
    ...status,
    updatedAt: new Date().toISOString(),
  };
  await writeJsonAtomic(path, full);
  return full;
}

/**
 * Reads `submissions.json` (an empty list before the first submission).
 *
 * @example
 * ```ts
 * const { submissions } = await readSubmissions(manifest);
 * ```
 */
export async function readSubmissions(manifest: SweepManifest): Promise<SubmissionsFile> {
  const path = join(manifest.sweepDir, SWEEP_FILES.submissions);
  try {
    return JSON.parse(await Deno.readTextFile(path)) as SubmissionsFile;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      return { schemaVersion: SWEEP_SCHEMA_VERSION, sweepId: manifest.sweepId, submissions: [] };
    }
    throw new BenchError("sweep_invalid", "submissions.json is unreadable", {
      location: path,
      cause: error,
    });
  }
}

/**
 * Writes `submissions.json` atomically.
 *
 * @example
 * ```ts
 * await writeSubmissions(manifest, file);
 * ```
 */
export async function writeSubmissions(
  manifest: SweepManifest,
  file: SubmissionsFile,
): Promise<void> {
  await writeJsonAtomic(join(manifest.sweepDir, SWEEP_FILES.submissions), file);
}

/**
 * The latest submission that includes a task, or null.
 *
 * @example
 * ```ts
 * latestSubmissionOf(file.submissions, 3)?.arrayJobId;
 * ```
 */
export function latestSubmissionOf(
  submissions: readonly Submission[],
  index: number,
): Submission | null {
  for (let i = submissions.length - 1; i >= 0; i--) {
    if (submissions[i].indices.includes(index)) return submissions[i];
  }
  return null;
}

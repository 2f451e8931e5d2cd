/**
 * A sweep's progress: each task's state from its own status file, checked against Slurm
 * (`squeue`, then `scontrol show job`) for tasks not yet finished, so a task that Slurm killed or
 * cancelled before it could report shows as failed, with Slurm's word for why.
 *
 * @module
 */
import type { SlurmClient } from "./slurm.ts";
import { latestSubmissionOf, readSubmissions, readTaskStatus } from "./status_files.ts";
import type { Submission, SweepManifest, TaskState, TaskStatus } from "./types.ts";

/** One task's progress. */
export interface TaskProgress {
  index: number;
  group: string;
  seed: number | null;
  state: TaskState;
  /** Why it failed, or what it waits for. */
  reason: string | null;
  exitCode: number | null;
  attempt: number;
  /** Slurm job of its latest submission (`<array>_<index>`), null locally. */
  slurmJob: string | null;
  runDir: string | null;
}

function alive(pid: number): boolean {
  try {
    Deno.kill(pid, "SIGCONT");
    return true;
  } catch {
    return false;
  }
}

const SLURM_RUNNING = new Set(["RUNNING", "COMPLETING", "CONFIGURING", "STAGE_OUT", "SIGNALING"]);

/**
 * Every task's progress. Without a Slurm client (local sweeps) only the status files count; a
 * local task marked running whose process is gone is failed (`lost`).
 *
 * @example
 * ```ts
 * const tasks = await sweepProgress(manifest, new SlurmClient());
 * ```
 */
export async function sweepProgress(
  manifest: SweepManifest,
  slurm: SlurmClient | null,
): Promise<TaskProgress[]> {
  const { submissions } = await readSubmissions(manifest);
  const usesSlurm = submissions.some((s) => s.arrayJobId !== null);
  // Slurm first, then the status files: a task that ends in between is seen as finished.
  const queue = slurm && usesSlurm ? await slurm.queue() : [];
  const out: TaskProgress[] = [];
  for (const task of manifest.tasks) {
    const sub = latestSubmissionOf(submissions, task.index);
    const slurmJob = sub?.arrayJobId ? `${sub.arrayJobId}_${task.index}` : null;
    const st: TaskStatus | null = await readTaskStatus(task.statusFile);
    const p: TaskProgress = {
      index: task.index,
      group: task.group,
      seed: task.seed,
      state: st?.state ?? "queued",
      reason: st?.reason ?? null,
      exitCode: st?.exitCode ?? null,
      attempt: st?.attempt ?? 0,
      slurmJob,
      runDir: st?.runDir ?? null,
    };
    out.push(p);
    if (!sub) {
      if (!st || st.state === "queued" || st.state === "running") {
        p.state = "failed";
        p.reason = "not submitted";
      }
      continue;
    }
    if (p.state === "done" || p.state === "failed") continue;
    await reconcile(p, sub, queue, slurm, st, task.statusFile);
  }
  return out;
}

async function reconcile(
  p: TaskProgress,
  sub: Submission,
  queue: Awaited<ReturnType<SlurmClient["queue"]>>,
  slurm: SlurmClient | null,
  st: TaskStatus | null,
  statusFile: string,
): Promise<void> {
  if (sub.mode === "local" || !sub.arrayJobId) {
    const here = Deno.hostname();
    if (p.state === "running" && st?.pid && st.host === here && !alive(st.pid)) {
      p.state = "failed";
      p.reason = `lost: task process ${st.pid} ended without reporting`;
    } else if (
      p.state === "queued" && sub.runner && sub.runner.host === here && !alive(sub.runner.pid)
    ) {
      p.state = "failed";
      p.reason = `not started: the local sweep (process ${sub.runner.pid}) ended first`;
    } else if (sub.cancelledAt) {
      p.state = "failed";
      p.reason = "cancelled";
    }
    return;
  }
  const entry = queue.find((e) => e.arrayJobId === sub.arrayJobId && e.arrayTaskId === p.index);
  if (entry) {
    if (SLURM_RUNNING.has(entry.state)) {
      p.state = "running";
      p.reason = null;
    } else {
      p.state = "queued";
      p.reason = `${entry.state.toLowerCase()} (${entry.reason})`;
    }
    return;
  }
  // Not in the queue: it ended. Its own report may have landed since we looked.
  const again = await readTaskStatus(statusFile);
  if (again && (again.state === "done" || again.state === "failed")) {
    Object.assign(p, {
      state: again.state,
      reason: again.reason ?? null,
      exitCode: again.exitCode ?? null,
      attempt: again.attempt,
      runDir: again.runDir ?? null,
    });
    return;
  }
  const info = slurm ? (await slurm.showJob(`${sub.arrayJobId}_${p.index}`))[0] : undefined;
  p.state = "failed";
  if (sub.cancelledAt) {
    p.reason = `cancelled${info ? ` (Slurm: ${info.JobState})` : ""}`;
  } else if (info) {
    p.reason = `ended without reporting (Slurm: ${info.JobState}, exit ${info.ExitCode}${
      info.Reason && info.Reason !== "None" ? `, ${info.Reason}` : ""
    })`;
  } else {
    p.reason = `lost: Slurm no longer knows job ${sub.arrayJobId}_${p.index} and it did not report`;
  }
}

/**
 * A table of the progress, one task a line, and a count per state.
 *
 * @example
 * ```ts
 * console.log(renderProgress(manifest, await sweepProgress(manifest, slurm)));
 * ```
 */
export function renderProgress(manifest: SweepManifest, tasks: readonly TaskProgress[]): string {
  const counts: Record<TaskState, number> = { queued: 0, running: 0, done: 0, failed: 0 };
  for (const t of tasks) counts[t.state]++;
  const rows = [["task", "group", "seed", "state", "attempt", "job", "reason"]];
  for (const t of tasks) {
    rows.push([
      String(t.index),
      t.group,
      t.seed === null ? "spec" : String(t.seed),
      t.state,
      String(t.attempt),
      t.slurmJob ?? "local",
      t.reason ?? (t.exitCode !== null && t.state === "failed" ? `exit ${t.exitCode}` : ""),
    ]);
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  const lines = rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c])).join("  ").trimEnd());
  lines.splice(1, 0, widths.map((w) => "-".repeat(w)).join("  "));
  return [
    `sweep ${manifest.sweepId} (${manifest.mode}): ${tasks.length} tasks, ${counts.done} done, ` +
    `${counts.running} running, ${counts.queued} queued, ${counts.failed} failed`,
    ...lines,
  ].join("\n");
}

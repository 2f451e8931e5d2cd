/**
 * Running a sweep's tasks: as one Slurm job array plus a collector job that depends on it, or on
 * this machine K at a time; resubmitting only the failed tasks; cancelling.
 *
 * @module
 */
import { join } from "node:path";
import { BenchError } from "../util/errors.ts";
import { writeFileAtomic } from "../util/atomic_write.ts";
import { arrayScript, collectorScript, type SlurmClient, sweepCli } from "./slurm.ts";
import {
  readSubmissions,
  readTaskStatus,
  writeSubmissions,
  writeTaskStatus,
} from "./status_files.ts";
import { sweepProgress } from "./progress.ts";
import type { Submission, SweepManifest } from "./types.ts";

async function markQueued(manifest: SweepManifest, indices: readonly number[]): Promise<void> {
  for (const i of indices) {
    const task = manifest.tasks[i];
    const previous = await readTaskStatus(task.statusFile);
    await writeTaskStatus(task.statusFile, {
      sweepId: manifest.sweepId,
      index: i,
      state: "queued",
      attempt: previous?.attempt ?? 0,
      ...(previous?.runDir ? { runDir: previous.runDir } : {}),
    });
  }
}

/**
 * Submits tasks of a sweep as ONE job array (`--array=<indices>%K`) and a collector job
 * (`--dependency=afterany:<array>`); records the submission in `submissions.json`. The tasks'
 * status files say `queued` before sbatch runs.
 *
 * @example
 * ```ts
 * const sub = await submitSlurm(manifest, manifest.tasks.map((t) => t.index), new SlurmClient());
 * sub.arrayJobId; // "1234"
 * ```
 */
export async function submitSlurm(
  manifest: SweepManifest,
  indices: readonly number[],
  slurm: SlurmClient,
): Promise<Submission> {
  if (!indices.length) throw new BenchError("usage", "no task to submit");
  const file = await readSubmissions(manifest);
  const n = file.submissions.length + 1;
  const dir = join(manifest.sweepDir, "slurm");
  const arrayPath = join(dir, `array-${n}.sbatch`);
  await writeFileAtomic(arrayPath, arrayScript(manifest, indices), { noOverwrite: true });
  await markQueued(manifest, indices);
  const arrayJobId = await slurm.sbatch(arrayPath);
  const collectPath = join(dir, `collect-${n}.sbatch`);
  let collectorJobId: string;
  try {
    await writeFileAtomic(collectPath, collectorScript(manifest, arrayJobId), {
      noOverwrite: true,
    });
    collectorJobId = await slurm.sbatch(collectPath);
  } catch (error) {
    // Without its collector the array would finish unseen: take it back.
    await slurm.cancel([arrayJobId]).catch(() => {});
    throw error;
  }
  const sub: Submission = {
    n,
    mode: "slurm",
    indices: [...indices].sort((a, b) => a - b),
    arrayJobId,
    collectorJobId,
    scripts: [arrayPath, collectPath],
    submittedAt: new Date().toISOString(),
  };
  file.submissions.push(sub);
  await writeSubmissions(manifest, file);
  return sub;
}

/**
 * Runs tasks on this machine, at most `manifest.maxParallel` at once, each as the same
 * `sweep run-task` process a Slurm array task runs. Returns each task's exit code. On Ctrl-C
 * (SIGINT) no further task starts; the running ones checkpoint, report and end.
 *
 * @example
 * ```ts
 * const codes = await runLocal(manifest, [0, 1, 2]);
 * ```
 */
export async function runLocal(
  manifest: SweepManifest,
  indices: readonly number[],
  options: { maxParallel?: number; quiet?: boolean; log?: (line: string) => void } = {},
): Promise<Map<number, number>> {
  const log = options.log ?? (() => {});
  const file = await readSubmissions(manifest);
  const sub: Submission = {
    n: file.submissions.length + 1,
    mode: "local",
    indices: [...indices].sort((a, b) => a - b),
    arrayJobId: null,
    collectorJobId: null,
    scripts: [],
    submittedAt: new Date().toISOString(),
    runner: { host: Deno.hostname(), pid: Deno.pid },
  };
  file.submissions.push(sub);
  await writeSubmissions(manifest, file);
  await markQueued(manifest, indices);
  const k = Math.max(1, options.maxParallel ?? manifest.maxParallel);
  const queue = [...sub.indices];
  const codes = new Map<number, number>();
  // Ctrl-C reaches the running tasks too (they checkpoint and report): start no new one.
  const skipped: number[] = [];
  const onInterrupt = () => {
    if (queue.length) {
      log(`interrupt: not starting tasks ${queue.join(",")}; waiting for the running ones`);
    }
    skipped.push(...queue.splice(0));
  };
  Deno.addSignalListener("SIGINT", onInterrupt);
  const worker = async () => {
    while (queue.length) {
      const i = queue.shift()!;
      log(`task ${i}: ${manifest.tasks[i].commandLine}`);
      const logPath = join(manifest.sweepDir, "logs", `task-${i}.local-${sub.n}.out`);
      const out = await Deno.open(logPath, { write: true, create: true, append: true });
      try {
        const cli = sweepCli(manifest);
        const child = new Deno.Command(cli[0], {
          args: [...cli.slice(1), "run-task", manifest.sweepDir, String(i)],
          cwd: manifest.repoRoot,
          stdin: "null",
          stdout: "piped",
          stderr: "piped",
        }).spawn();
        const pump = async (stream: ReadableStream<Uint8Array>, echo: boolean) => {
          for await (const chunk of stream) {
            await out.write(chunk);
            if (echo && !options.quiet) await Deno.stderr.write(chunk);
          }
        };
        await Promise.all([pump(child.stdout, false), pump(child.stderr, false)]);
        const status = await child.status;
        codes.set(i, status.code);
        log(`task ${i}: ${status.code === 0 ? "done" : `failed (exit ${status.code})`}`);
      } finally {
        out.close();
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(k, queue.length) }, worker));
  } finally {
    Deno.removeSignalListener("SIGINT", onInterrupt);
  }
  for (const i of skipped) {
    const previous = await readTaskStatus(manifest.tasks[i].statusFile);
    await writeTaskStatus(manifest.tasks[i].statusFile, {
      sweepId: manifest.sweepId,
      index: i,
      state: "failed",
      reason: "not started: the local sweep was interrupted",
      exitCode: null,
      attempt: previous?.attempt ?? 0,
    });
  }
  return codes;
}

/**
 * The tasks to resubmit: failed (or cancelled, or lost) ones. Finished tasks are never redone;
 * queued or running ones are left alone.
 *
 * @example
 * ```ts
 * const indices = await failedTasks(manifest, slurm);
 * ```
 */
export async function failedTasks(
  manifest: SweepManifest,
  slurm: SlurmClient | null,
): Promise<number[]> {
  return (await sweepProgress(manifest, slurm)).filter((t) => t.state === "failed")
    .map((t) => t.index);
}

/**
 * Cancels every job of the sweep (collectors first, then the arrays) and waits until Slurm lists
 * none of them. Returns the job ids cancelled.
 *
 * @example
 * ```ts
 * await cancelSweep(manifest, new SlurmClient());
 * ```
 */
export async function cancelSweep(
  manifest: SweepManifest,
  slurm: SlurmClient,
  options: { timeoutMs?: number; pollMs?: number } = {},
): Promise<string[]> {
  const file = await readSubmissions(manifest);
  const ids: string[] = [];
  for (const s of file.submissions) if (s.collectorJobId) ids.push(s.collectorJobId);
  for (const s of file.submissions) if (s.arrayJobId) ids.push(s.arrayJobId);
  if (!ids.length) return [];
  const live = (q: Awaited<ReturnType<SlurmClient["queue"]>>) =>
    q.filter((e) => ids.includes(e.arrayJobId) || ids.includes(e.jobId));
  const before = live(await slurm.queue());
  const toCancel = ids.filter((id) => before.some((e) => e.arrayJobId === id || e.jobId === id));
  if (toCancel.length) await slurm.cancel(toCancel);
  const now = new Date().toISOString();
  for (const s of file.submissions) {
    if (s.mode === "slurm" && !s.cancelledAt && toCancel.some((id) => id === s.arrayJobId)) {
      s.cancelledAt = now;
    }
  }
  await writeSubmissions(manifest, file);
  const end = Date.now() + (options.timeoutMs ?? 120_000);
  while (true) {
    const left = live(await slurm.queue());
    if (!left.length) break;
    if (Date.now() > end) {
      throw new BenchError(
        "slurm_failed",
        `jobs still listed after scancel: ${left.map((e) => `${e.jobId} ${e.state}`).join(", ")}`,
        { hint: "check squeue; a node may be unresponsive" },
      );
    }
    await new Promise((r) => setTimeout(r, options.pollMs ?? 500));
  }
  return toCancel;
}

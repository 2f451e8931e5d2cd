/**
 * One task of a sweep, as Slurm (or the local runner) starts it: decide between a fresh run, a
 * resume of the task's interrupted or failed run (from its checkpoint) and nothing (already
 * complete); run the bench command; write the task's status file at each step. The task's bench
 * command is the manifest's, a user could paste it into a shell.
 *
 * @module
 */
import { join } from "node:path";
import { BenchError } from "../util/errors.ts";
import { readManifest, resumeCommand } from "./manifest.ts";
import { readTaskStatus, writeTaskStatus } from "./status_files.ts";
import type { SweepManifest, SweepTask, TaskStatus } from "./types.ts";

/**
 * Test hook: `AMDIM_SWEEP_FAULT_TASKS=<index>:<step>[,...]` makes those tasks' bench runs feed
 * NaN at that update (bench's `--debug-inject-nan-at-step`), so they fail for real with bench's
 * own reason. Only read by the task process; a resubmission without it runs the plain command.
 */
export const SWEEP_FAULT_ENV = "AMDIM_SWEEP_FAULT_TASKS";

/** bench's guard for its fault-injection flag (set for the child only when the hook is used). */
const BENCH_FAULT_ENV = "AMDIM_BENCH_ALLOW_FAULT_INJECTION";

/** What a task finds in its results folder. */
export type TaskPlan =
  | { kind: "fresh"; abandoned: string[] }
  | { kind: "resume"; runDir: string }
  | { kind: "complete"; runDir: string };

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

async function recordStatus(runDir: string): Promise<{ status: string; reason?: string } | null> {
  try {
    return JSON.parse(await Deno.readTextFile(join(runDir, "record.json")));
  } catch {
    return null;
  }
}

/** The run folders under a task's `runs/`, sorted. */
export async function taskRunDirs(task: SweepTask): Promise<string[]> {
  const dirs: string[] = [];
  try {
    for await (const e of Deno.readDir(join(task.resultsDir, "runs"))) {
      if (e.isDirectory) dirs.push(join(task.resultsDir, "runs", e.name));
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return dirs.sort();
}

/**
 * What a task does next: `complete` if its run has a complete record, `resume` if the run has a
 * checkpoint to continue from, else `fresh` (a run folder without a checkpoint is set aside).
 *
 * @example
 * ```ts
 * const plan = await planTask(task); // { kind: "fresh", abandoned: [] }
 * ```
 */
export async function planTask(task: SweepTask): Promise<TaskPlan> {
  const dirs = await taskRunDirs(task);
  const complete = [];
  for (const d of dirs) if ((await recordStatus(d))?.status === "complete") complete.push(d);
  if (complete.length) return { kind: "complete", runDir: complete[complete.length - 1] };
  const resumable = [];
  for (const d of dirs) {
    if (
      await exists(join(d, "spec.json")) &&
      await exists(join(d, "checkpoints", "last.safetensors"))
    ) {
      resumable.push(d);
    }
  }
  if (resumable.length > 1) {
    throw new BenchError("sweep_task", "the task has several resumable runs", {
      location: join(task.resultsDir, "runs"),
      hint: "keep one run folder (move the others out) and resubmit",
    });
  }
  if (resumable.length === 1) return { kind: "resume", runDir: resumable[0] };
  return { kind: "fresh", abandoned: dirs };
}

function faultStep(index: number): number | null {
  const text = Deno.env.get(SWEEP_FAULT_ENV);
  if (!text) return null;
  for (const item of text.split(",")) {
    const m = /^\s*(\d+):(\d+)\s*$/.exec(item);
    if (!m) {
      throw new BenchError("usage", `${SWEEP_FAULT_ENV} expects <index>:<step>,...`, {
        location: SWEEP_FAULT_ENV,
      });
    }
    if (Number(m[1]) === index) return Number(m[2]);
  }
  return null;
}

function lastErrorLine(text: string): string | null {
  // deno-lint-ignore no-control-regex
  const ansi = /\x1b\[[0-9;]*[A-Za-z]/g;
  const lines = text.split("\n").map((l) => l.replace(ansi, "").trim())
    .filter(Boolean);
  for (let i = lines.length - 1; i >= 0; i--) if (/^error/i.test(lines[i])) return lines[i];
  return lines.length ? lines[lines.length - 1].slice(0, 300) : null;
}

/** Options of {@linkcode runSweepTask}. */
export interface RunTaskOptions {
  /** Where bench's stdout/stderr go (default: this process's). */
  quiet?: boolean;
}

/**
 * Runs task `index` of the sweep in `sweepDir` and returns its exit code (0 done, else bench's
 * code, 1 when bench did not start, 143 when stopped by SIGTERM). The status file says
 * `running` while it runs, then `done` or `failed` with the reason and exit code.
 *
 * @example
 * ```ts
 * const code = await runSweepTask("results/sweeps/smoke-20250102T030405-ab12cd", 0);
 * ```
 */
export async function runSweepTask(
  sweepDir: string,
  index: number,
  options: RunTaskOptions = {},
): Promise<number> {
  const manifest: SweepManifest = await readManifest(sweepDir);
  const task = manifest.tasks[index];
  if (!Number.isInteger(index) || !task) {
    throw new BenchError(
      "usage",
      `no task ${index} in this sweep (0..${manifest.tasks.length - 1})`,
      {
        location: sweepDir,
      },
    );
  }
  const previous = await readTaskStatus(task.statusFile);
  const arrayJob = Deno.env.get("SLURM_ARRAY_JOB_ID");
  const slurmJob = arrayJob ? `${arrayJob}_${Deno.env.get("SLURM_ARRAY_TASK_ID") ?? index}` : null;
  const base: Omit<TaskStatus, "schemaVersion" | "updatedAt" | "state"> = {
    sweepId: manifest.sweepId,
    index,
    attempt: (previous?.attempt ?? 0) + 1,
    slurmJob,
    host: Deno.hostname(),
    pid: Deno.pid,
  };

  let plan: TaskPlan;
  try {
    plan = await planTask(task);
  } catch (error) {
    await writeTaskStatus(task.statusFile, {
      ...base,
      state: "failed",
      reason: error instanceof Error ? error.message : String(error),
      exitCode: null,
    });
    return 1;
  }
  if (plan.kind === "complete") {
    await writeTaskStatus(task.statusFile, {
      ...base,
      attempt: previous?.attempt ?? 1,
      state: "done",
      exitCode: 0,
      runDir: plan.runDir,
      reason: "already complete",
    });
    return 0;
  }
  if (plan.kind === "fresh") {
    // A run killed before its first checkpoint cannot be resumed: set it aside, start over.
    for (const dir of plan.abandoned) {
      await Deno.mkdir(join(task.resultsDir, "abandoned"), { recursive: true });
      await Deno.rename(dir, join(task.resultsDir, "abandoned", dir.split("/").pop()!));
    }
  }
  const command = plan.kind === "resume"
    ? resumeCommand(manifest, task, plan.runDir)
    : [...task.command];
  const env: Record<string, string> = {};
  const nanAt = faultStep(index);
  if (nanAt !== null) {
    command.push("--debug-inject-nan-at-step", String(nanAt));
    env[BENCH_FAULT_ENV] = "1";
  }
  await writeTaskStatus(task.statusFile, {
    ...base,
    state: "running",
    command,
    runDir: plan.kind === "resume" ? plan.runDir : null,
    resumed: plan.kind === "resume",
  });

  let stopSignal: Deno.Signal | null = null;
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(command[0], {
      args: command.slice(1),
      cwd: manifest.repoRoot,
      env,
      stdin: "null",
      stdout: options.quiet ? "null" : "inherit",
      stderr: "piped",
    }).spawn();
  } catch (error) {
    await writeTaskStatus(task.statusFile, {
      ...base,
      state: "failed",
      command,
      reason: `cannot start ${command[0]}: ${error instanceof Error ? error.message : error}`,
      exitCode: null,
    });
    return 1;
  }
  const forward = (signal: Deno.Signal) => () => {
    stopSignal ??= signal;
    try {
      // bench checkpoints and writes an `interrupted` record on SIGINT.
      child.kill("SIGINT");
    } catch { /* already gone */ }
  };
  const handlers: Array<[Deno.Signal, () => void]> = [
    ["SIGTERM", forward("SIGTERM")],
    ["SIGINT", forward("SIGINT")],
  ];
  for (const [s, h] of handlers) Deno.addSignalListener(s, h);
  let tail = "";
  const decoder = new TextDecoder();
  try {
    for await (const chunk of child.stderr) {
      if (!options.quiet) await Deno.stderr.write(chunk);
      tail = (tail + decoder.decode(chunk, { stream: true })).slice(-8000);
    }
  } catch { /* stream closed */ }
  const status = await child.status;
  for (const [s, h] of handlers) Deno.removeSignalListener(s, h);

  const runDirs = await taskRunDirs(task);
  const runDir = plan.kind === "resume" ? plan.runDir : runDirs[runDirs.length - 1] ?? null;
  const record = runDir ? await recordStatus(runDir) : null;
  const exitCode = status.signal ? 128 + signalNumber(status.signal) : status.code;
  if (status.success && record?.status === "complete") {
    await writeTaskStatus(task.statusFile, {
      ...base,
      state: "done",
      command,
      runDir,
      resumed: plan.kind === "resume",
      exitCode: 0,
    });
    return 0;
  }
  const errorLine = lastErrorLine(tail);
  let reason: string;
  if (stopSignal) {
    reason = `cancelled (${stopSignal})${record?.reason ? `: ${record.reason}` : ""}`;
  } else {
    reason = record?.reason ?? (record ? `record status ${record.status}` : null) ??
      (errorLine && /^error/i.test(errorLine)
        ? errorLine
        : `bench exited with code ${exitCode}${errorLine ? `; last output: ${errorLine}` : ""}`);
  }
  await writeTaskStatus(task.statusFile, {
    ...base,
    state: "failed",
    command,
    runDir,
    resumed: plan.kind === "resume",
    exitCode,
    reason,
  });
  return stopSignal === "SIGTERM" ? 143 : exitCode === 0 ? 1 : exitCode;
}

function signalNumber(signal: Deno.Signal): number {
  const table: Partial<Record<Deno.Signal, number>> = {
    SIGHUP: 1,
    SIGINT: 2,
    SIGQUIT: 3,
    SIGKILL: 9,
    SIGSEGV: 11,
    SIGTERM: 15,
  };
  return table[signal] ?? 0;
}

/**
 * Slurm, through its own commands: the job-array and collector batch scripts, and a small client
 * over `sbatch`, `squeue`, `scontrol` and `scancel` (no accounting database needed). The client
 * finds the cluster the way every Slurm command does (`SLURM_CONF`, or the system's config).
 *
 * @module
 */
import { join } from "node:path";
import { BenchError } from "../util/errors.ts";
import { commandLine, shellQuote } from "./manifest.ts";
import type { SweepManifest } from "./types.ts";

/**
 * Slurm's compact index list: `[0,1,2,5,7,8]` -> `0-2,5,7-8`.
 *
 * @example
 * ```ts
 * arrayIndexSpec([0, 1, 2, 5]); // "0-2,5"
 * ```
 */
export function arrayIndexSpec(indices: readonly number[]): string {
  const sorted = [...new Set(indices)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length;) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) j++;
    parts.push(i === j ? `${sorted[i]}` : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(",");
}

/** The sweep command every batch script runs (this checkout's `src/cli/sweep.ts`). */
export function sweepCli(manifest: SweepManifest): string[] {
  return ["deno", "run", "-A", join(manifest.repoRoot, "src", "cli", "sweep.ts")];
}

/** Job name of a sweep's jobs. */
export function sweepJobName(manifest: SweepManifest, what: "tasks" | "collect"): string {
  return `amdim-${manifest.sweepId}-${what}`;
}

/**
 * The job-array batch script for some tasks of a sweep (all of them on the first submission).
 * Each array task runs `sweep run-task <sweepDir> $SLURM_ARRAY_TASK_ID` in one `srun` step,
 * which runs the task's bench command from the manifest.
 *
 * @example
 * ```ts
 * const script = arrayScript(manifest, [0, 1, 2, 3, 4, 5]); // "#SBATCH --array=0-5%2" ...
 * ```
 */
export function arrayScript(manifest: SweepManifest, indices: readonly number[]): string {
  const slurm = manifest.slurm ?? { partition: null, cpus: 1, gpus: 0, time: null };
  const k = Math.min(manifest.maxParallel, indices.length);
  const lines = [
    "#!/bin/bash",
    `#SBATCH --job-name=${sweepJobName(manifest, "tasks")}`,
    `#SBATCH --array=${arrayIndexSpec(indices)}%${k}`,
    "#SBATCH --ntasks=1",
    `#SBATCH --cpus-per-task=${slurm.cpus}`,
    ...(slurm.partition ? [`#SBATCH --partition=${slurm.partition}`] : []),
    ...(slurm.gpus > 0 ? [`#SBATCH --gres=gpu:${slurm.gpus}`] : []),
    ...(slurm.time ? [`#SBATCH --time=${slurm.time}`] : []),
    `#SBATCH --chdir=${manifest.repoRoot}`,
    `#SBATCH --output=${join(manifest.sweepDir, "logs", "task-%a.%A.out")}`,
    "#SBATCH --open-mode=append",
    `# Sweep ${manifest.sweepId}: ${manifest.tasks.length} tasks; task i runs the bench command`,
    `# tasks[i].command of ${join(manifest.sweepDir, "manifest.json")}, e.g. task ${indices[0]}:`,
    `#   ${manifest.tasks[indices[0]]?.commandLine ?? ""}`,
    "# (run-task resumes the task's own run from its checkpoint when it was interrupted, and",
    "# writes tasks/<i>/status.json: queued, running, done or failed with the reason).",
    "set -eu",
    `exec srun --ntasks=1 --cpus-per-task=${slurm.cpus} ${
      commandLine([...sweepCli(manifest), "run-task", manifest.sweepDir])
    } "$SLURM_ARRAY_TASK_ID"`,
    "",
  ];
  return lines.join("\n");
}

/**
 * The collector's batch script: after every array task ended (`afterany`), verify the records,
 * aggregate, write the sweep files and (with a baseline) gate the aggregate.
 *
 * @example
 * ```ts
 * const script = collectorScript(manifest, "1234");
 * ```
 */
export function collectorScript(manifest: SweepManifest, arrayJobId: string): string {
  const slurm = manifest.slurm ?? { partition: null, cpus: 1, gpus: 0, time: null };
  const collect = [...sweepCli(manifest), "collect", manifest.sweepDir];
  return [
    "#!/bin/bash",
    `#SBATCH --job-name=${sweepJobName(manifest, "collect")}`,
    `#SBATCH --dependency=afterany:${arrayJobId}`,
    "#SBATCH --ntasks=1",
    "#SBATCH --cpus-per-task=1",
    ...(slurm.partition ? [`#SBATCH --partition=${slurm.partition}`] : []),
    ...(slurm.time ? [`#SBATCH --time=${slurm.time}`] : []),
    `#SBATCH --chdir=${manifest.repoRoot}`,
    `#SBATCH --output=${join(manifest.sweepDir, "logs", "collect.%j.out")}`,
    `# Sweep ${manifest.sweepId}: runs when every task of array job ${arrayJobId} has ended.`,
    "set -eu",
    `exec ${commandLine(collect)}`,
    "",
  ].join("\n");
}

/** One line of `squeue`. */
export interface QueueEntry {
  /** `%i`: `1234_5` for an array task. */
  jobId: string;
  /** `%F`: the array's job id (the job id for a plain job). */
  arrayJobId: string;
  /** `%K`: the array index, null for a plain job. */
  arrayTaskId: number | null;
  /** `%T`: PENDING, RUNNING, COMPLETING, ... */
  state: string;
  /** `%r`: why it waits. */
  reason: string;
}

/** A job as `scontrol -o show job` describes it (key -> value). */
export type JobInfo = Record<string, string>;

/** Runs a Slurm command: argv in, stdout out. Replaceable for tests of callers. */
export type SlurmExec = (
  cmd: string,
  args: string[],
) => Promise<{ code: number; stdout: string; stderr: string }>;

/**
 * A client over Slurm's commands.
 *
 * @example
 * ```ts
 * const slurm = new SlurmClient();
 * const id = await slurm.sbatch("array.sbatch");
 * ```
 */
export class SlurmClient {
  readonly #exec: SlurmExec;

  /**
   * `env`: extra environment for every command (e.g. `SLURM_CONF`); `timeoutMs`: how long one
   * command may take (default 120 s); `exec`: replaces running the commands (tests).
   */
  constructor(
    options: { env?: Record<string, string>; exec?: SlurmExec; timeoutMs?: number } = {},
  ) {
    this.#exec = options.exec ?? (async (cmd, args) => {
      let out: Deno.CommandOutput;
      const signal = AbortSignal.timeout(options.timeoutMs ?? 120_000);
      try {
        out = await new Deno.Command(cmd, {
          args,
          env: options.env,
          stdin: "null",
          stdout: "piped",
          stderr: "piped",
          signal,
        }).output();
      } catch (cause) {
        if (signal.aborted) {
          throw new BenchError("slurm_failed", `${cmd} did not answer`, {
            location: `${cmd} ${args.map(shellQuote).join(" ")}`,
            hint: "the Slurm controller may be down or overloaded (check sinfo / scontrol ping)",
            cause,
          });
        }
        throw new BenchError("slurm_unavailable", `cannot run ${cmd}`, {
          location: cmd,
          hint:
            "run on a Slurm login node (sbatch, squeue, scontrol, scancel on PATH), or use --local",
          cause,
        });
      }
      if (signal.aborted) {
        throw new BenchError("slurm_failed", `${cmd} did not answer`, {
          location: `${cmd} ${args.map(shellQuote).join(" ")}`,
          hint: "the Slurm controller may be down or overloaded (check sinfo / scontrol ping)",
        });
      }
      const d = new TextDecoder();
      return { code: out.code, stdout: d.decode(out.stdout), stderr: d.decode(out.stderr) };
    });
  }

  async #run(cmd: string, args: string[]): Promise<string> {
    const out = await this.#exec(cmd, args);
    if (out.code !== 0) {
      throw new BenchError(
        "slurm_failed",
        `${cmd} failed: ${out.stderr.trim() || out.stdout.trim()}`,
        {
          location: `${cmd} ${args.map(shellQuote).join(" ")}`,
        },
      );
    }
    return out.stdout;
  }

  /**
   * Submits a batch script; returns the job id.
   *
   * @example
   * ```ts
   * await client.sbatch("/r/sweeps/s/slurm/array-1.sbatch"); // "1234"
   * ```
   */
  async sbatch(script: string, extraArgs: string[] = []): Promise<string> {
    const out = await this.#run("sbatch", ["--parsable", ...extraArgs, script]);
    const id = out.trim().split(";")[0];
    if (!/^\d+$/.test(id)) {
      throw new BenchError("slurm_failed", `sbatch printed no job id: ${out.trim()}`, {
        location: script,
      });
    }
    return id;
  }

  /**
   * Every job in the queue, array tasks one per line.
   *
   * @example
   * ```ts
   * (await client.queue()).filter((e) => e.arrayJobId === "1234");
   * ```
   */
  async queue(): Promise<QueueEntry[]> {
    const out = await this.#run("squeue", ["-h", "-r", "-o", "%i|%F|%K|%T|%r"]);
    const entries: QueueEntry[] = [];
    for (const line of out.split("\n")) {
      if (!line.trim()) continue;
      const [jobId, arrayJobId, task, state, reason] = line.trim().split("|");
      entries.push({
        jobId,
        arrayJobId,
        arrayTaskId: /^\d+$/.test(task) ? Number(task) : null,
        state,
        reason: reason ?? "",
      });
    }
    return entries;
  }

  /**
   * What `scontrol -o show job` knows about a job (all tasks of an array); empty once Slurm has
   * forgotten it (`MinJobAge`).
   *
   * @example
   * ```ts
   * (await client.showJob("1234_3"))[0]?.JobState; // "COMPLETED"
   * ```
   */
  async showJob(jobId: string): Promise<JobInfo[]> {
    const out = await this.#exec("scontrol", ["-o", "show", "job", jobId]);
    if (out.code !== 0) return [];
    const jobs: JobInfo[] = [];
    for (const line of out.stdout.split("\n")) {
      if (!line.trim()) continue;
      const info: JobInfo = {};
      for (const m of line.matchAll(/(\S+?)=(\S*)/g)) info[m[1]] ??= m[2];
      jobs.push(info);
    }
    return jobs;
  }

  /**
   * Cancels jobs (whole arrays by their array job id).
   *
   * @example
   * ```ts
   * await client.cancel(["1234", "1235"]);
   * ```
   */
  async cancel(jobIds: readonly string[]): Promise<void> {
    if (jobIds.length) await this.#run("scancel", [...jobIds]);
  }
}

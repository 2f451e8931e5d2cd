/**
 * `deno task sweep`: benchmark sweeps (spec × `--vary` grid × seeds) as one Slurm job array and a
 * collector job, or on this machine with `--local`.
 *
 * ```
 * deno task sweep <spec|suite> [--seeds 1..N | --seeds 1,2,5] [--set k=v]... [--vary k=v1,v2]...
 *     (--slurm [--partition P] [--cpus C] [--gpus G] [--time T] | --local) [--max-parallel K]
 *     [--backend NAME] [--data-dir DIR] [--results DIR] [--dry-run] [--gate --baseline B]
 * deno task sweep status <sweep-id> [--retry-failed]
 * deno task sweep cancel <sweep-id>
 * deno task sweep collect <sweep-id> [--gate --baseline B]
 * deno task sweep run-task <sweep-dir> <index>      (what each array task runs)
 * ```
 *
 * Exit codes: 0 ok; 1 a task failed, the sweep is incomplete or the gate found a regression;
 * 2 unusable input (malformed sweep, unknown spec or sweep, bad flags).
 *
 * @module
 */
import { type ParsedFlags, parseFlags } from "./args.ts";
import { runMain } from "./main.ts";
import { BenchError } from "../util/errors.ts";
import { parseSeeds, parseVary } from "../sweep/seeds.ts";
import { createSweepManifest, readManifest, sweepDirOf, writeManifest } from "../sweep/manifest.ts";
import { arrayScript, collectorScript, SlurmClient } from "../sweep/slurm.ts";
import { cancelSweep, failedTasks, runLocal, submitSlurm } from "../sweep/submit.ts";
import { renderProgress, sweepProgress } from "../sweep/progress.ts";
import { collectSweep } from "../sweep/collect.ts";
import { runSweepTask } from "../sweep/run_task.ts";
import type { SweepManifest } from "../sweep/types.ts";
import { renderGateReport } from "../report/gate.ts";

const USAGE = `usage:
  deno task sweep <spec|suite> [--seeds 1..N | --seeds 1,2,5] [--set k=v]... [--vary k=v1,v2]...
      (--slurm [--partition P] [--cpus C] [--gpus G] [--time T] | --local) [--max-parallel K]
      [--backend NAME] [--data-dir DIR] [--results DIR] [--dry-run] [--gate --baseline B]
  deno task sweep status <sweep-id> [--results DIR] [--retry-failed]
  deno task sweep cancel <sweep-id> [--results DIR]
  deno task sweep collect <sweep-id> [--results DIR] [--gate --baseline B]
  deno task sweep run-task <sweep-dir> <index>

  --seeds S         seeds: a range 1..N or a list 1,2,5 (default: the spec's own seeds)
  --set key=value   override for every task (repeatable)
  --vary key=v1,v2  one task per value; several --vary make a grid
  --slurm           submit ONE job array (+ a collector job after it) with sbatch
  --local           run the tasks here, K at a time, then collect
  --partition P     Slurm partition          --cpus C   CPUs per task (default 1)
  --gpus G          GPUs per task (--gres=gpu:G)   --time T   Slurm time limit per task
  --max-parallel K  tasks at once (the array's %K; default: all)
  --backend NAME    bench --backend (default auto)   --data-dir DIR   bench --data-dir
  --results DIR     results folder (default results); the sweep goes to <DIR>/sweeps/<id>/
  --dry-run         print the manifest and the sbatch scripts; submit nothing
  --gate --baseline B   gate each group's aggregate against baseline records B
  --retry-failed    (status) resubmit only the failed or cancelled tasks`;

const SUBCOMMANDS = new Set(["status", "cancel", "collect", "run-task"]);

function intFlag(flags: ParsedFlags, name: string, min: number): number | undefined {
  const v = flags[name];
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!/^\d+$/.test(String(v)) || !Number.isSafeInteger(n) || n < min) {
    throw new BenchError("usage", `--${name} expects an integer >= ${min}, got ${v}`, {
      location: `--${name}`,
    });
  }
  return n;
}

function only(flags: ParsedFlags, allowed: string[], command: string): void {
  for (const [k, v] of Object.entries(flags)) {
    if (k === "_" || v === undefined || v === false) continue;
    if (Array.isArray(v) && v.length === 0) continue;
    if (!allowed.includes(k)) {
      throw new BenchError("usage", `--${k} does not apply to "sweep ${command}"`, {
        location: `--${k}`,
        hint: USAGE.split("\n").find((l) => l.includes(`sweep ${command}`))?.trim(),
      });
    }
  }
}

function printTasksDone(manifest: SweepManifest, exitCode: number, files: string[]): void {
  console.log(`sweep ${manifest.sweepId}: ${exitCode === 0 ? "complete" : "incomplete"}`);
  for (const f of files) console.log(`  ${f}`);
}

async function collectAndPrint(
  sweepDir: string,
  gateBaseline: string | null | undefined,
): Promise<number> {
  const result = await collectSweep(sweepDir, { gateBaseline });
  console.log(await Deno.readTextFile(result.files[1]));
  if (result.gateReports) console.log(renderGateReport(result.gateReports));
  const manifest = await readManifest(sweepDir);
  printTasksDone(manifest, result.record.status === "complete" ? 0 : 1, result.files);
  return result.exitCode;
}

/** The command body; returns the exit code. */
export async function sweepCommand(argv: string[]): Promise<number> {
  const flags = parseFlags(argv, {
    string: [
      "seeds",
      "partition",
      "cpus",
      "gpus",
      "time",
      "max-parallel",
      "results",
      "baseline",
      "backend",
      "data-dir",
    ],
    boolean: ["slurm", "local", "dry-run", "gate", "retry-failed", "help"],
    collect: ["set", "vary"],
    alias: { h: "help" },
  });
  if (flags.help) {
    console.log(USAGE);
    return 0;
  }
  const results = String(flags.results ?? "results");
  const sub = flags._[0];
  if (sub === "run-task") {
    only(flags, [], "run-task");
    if (flags._.length !== 3 || !/^\d+$/.test(flags._[2])) {
      throw new BenchError("usage", "run-task takes the sweep folder and a task index", {
        hint: "deno task sweep run-task <sweep-dir> <index>",
      });
    }
    return await runSweepTask(flags._[1], Number(flags._[2]));
  }
  if (SUBCOMMANDS.has(sub)) {
    if (flags._.length !== 2) {
      throw new BenchError("usage", `sweep ${sub} takes one sweep id`, { hint: USAGE });
    }
    const sweepDir = sweepDirOf(flags._[1], results);
    const manifest = await readManifest(sweepDir);
    if (sub === "collect") {
      only(flags, ["results", "gate", "baseline"], "collect");
      if (!!flags.gate !== !!flags.baseline) {
        throw new BenchError("usage", "--gate and --baseline go together", {
          location: flags.gate ? "--gate" : "--baseline",
        });
      }
      return await collectAndPrint(sweepDir, flags.baseline as string | undefined);
    }
    const slurm = manifest.mode === "slurm" ? new SlurmClient() : null;
    if (sub === "cancel") {
      only(flags, ["results"], "cancel");
      if (!slurm) {
        throw new BenchError(
          "usage",
          "a --local sweep runs in the foreground; stop it with Ctrl-C",
          {
            location: sweepDir,
          },
        );
      }
      const ids = await cancelSweep(manifest, slurm);
      console.log(
        ids.length
          ? `cancelled jobs ${ids.join(", ")}; no task of ${manifest.sweepId} is queued or running`
          : `nothing of ${manifest.sweepId} was queued or running`,
      );
      console.log(renderProgress(manifest, await sweepProgress(manifest, slurm)));
      return 0;
    }
    // status
    only(flags, ["results", "retry-failed"], "status");
    const progress = await sweepProgress(manifest, slurm);
    console.log(renderProgress(manifest, progress));
    const failed = progress.filter((t) => t.state === "failed").map((t) => t.index);
    if (!flags["retry-failed"]) return failed.length ? 1 : 0;
    if (!failed.length) {
      console.log("no failed task to resubmit");
      return 0;
    }
    if (slurm) {
      const s = await submitSlurm(manifest, await failedTasks(manifest, slurm), slurm);
      console.log(
        `resubmitted tasks ${s.indices.join(",")} as array job ${s.arrayJobId}, ` +
          `collector job ${s.collectorJobId}`,
      );
      return 0;
    }
    await runLocal(manifest, failed, { log: (l) => console.error(l) });
    return await collectAndPrint(sweepDir, undefined);
  }

  // A new sweep.
  if (flags._.length !== 1) {
    throw new BenchError("usage", "expected one spec or suite (or a subcommand)", { hint: USAGE });
  }
  if (!!flags.slurm === !!flags.local) {
    throw new BenchError("usage", "choose where the sweep runs: --slurm or --local", {
      hint: USAGE,
    });
  }
  if (flags.local) {
    for (const f of ["partition", "cpus", "gpus", "time"]) {
      if (flags[f] !== undefined) {
        throw new BenchError("usage", `--${f} is a Slurm resource; it needs --slurm`, {
          location: `--${f}`,
        });
      }
    }
  }
  if (!!flags.gate !== !!flags.baseline) {
    throw new BenchError("usage", "--gate and --baseline go together", {
      location: flags.gate ? "--gate" : "--baseline",
    });
  }
  if (flags["retry-failed"]) {
    throw new BenchError("usage", "--retry-failed goes with `sweep status <sweep-id>`", {
      location: "--retry-failed",
    });
  }
  const manifest = await createSweepManifest({
    target: flags._[0],
    seeds: flags.seeds === undefined ? undefined : parseSeeds(String(flags.seeds)),
    overrides: (flags.set as string[] | undefined) ?? [],
    vary: ((flags.vary as string[] | undefined) ?? []).map(parseVary),
    backend: flags.backend as string | undefined,
    dataDir: flags["data-dir"] as string | undefined,
    resultsDir: results,
    mode: flags.slurm ? "slurm" : "local",
    maxParallel: intFlag(flags, "max-parallel", 1),
    slurm: {
      partition: flags.partition as string | undefined,
      cpus: intFlag(flags, "cpus", 1),
      gpus: intFlag(flags, "gpus", 0),
      time: flags.time as string | undefined,
    },
    gateBaseline: flags.baseline as string | undefined,
  });
  const all = manifest.tasks.map((t) => t.index);
  if (flags["dry-run"]) {
    console.log(`# manifest (would be written to ${manifest.sweepDir}/manifest.json)`);
    console.log(JSON.stringify(manifest, null, 2));
    if (manifest.mode === "slurm") {
      console.log(`\n# ${manifest.sweepDir}/slurm/array-1.sbatch  (sbatch --parsable <it>)`);
      console.log(arrayScript(manifest, all));
      console.log(`# ${manifest.sweepDir}/slurm/collect-1.sbatch  (sbatch --parsable <it>)`);
      console.log(collectorScript(manifest, "<array job id>"));
    } else {
      console.log(`\n# ${manifest.tasks.length} tasks, ${manifest.maxParallel} at a time:`);
      for (const t of manifest.tasks) console.log(t.commandLine);
    }
    return 0;
  }
  const written = await writeManifest(manifest);
  console.log(`sweep ${written.sweepId}: ${written.tasks.length} tasks -> ${written.sweepDir}`);
  if (written.mode === "slurm") {
    const s = await submitSlurm(written, all, new SlurmClient());
    console.log(
      `submitted array job ${s.arrayJobId} (${written.tasks.length} tasks, ` +
        `${Math.min(written.maxParallel, written.tasks.length)} at a time) and collector job ` +
        `${s.collectorJobId}`,
    );
    console.log(`progress: deno task sweep status ${written.sweepId} --results ${results}`);
    return 0;
  }
  await runLocal(written, all, { log: (l) => console.error(l) });
  return await collectAndPrint(written.sweepDir, undefined);
}

if (import.meta.main) runMain(sweepCommand);

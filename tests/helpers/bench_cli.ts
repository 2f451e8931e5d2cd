/**
 * Runs `src/cli/bench.ts` as a subprocess on the `smoke` spec shrunk with `--set` overrides to a
 * few seconds of CPU work, and reads what a run leaves behind.
 *
 * @module
 */
import { join } from "node:path";
import { readEventLines, withoutTiming } from "../../src/train/metrics_log.ts";

/** Overrides that make the smoke spec tiny: 6 updates of 8 images, checkpoints every 2. */
export const TINY = [
  "encoder.ndf=8",
  "encoder.nRkhs=32",
  "pretrain.steps=6",
  "pretrain.batchSize=8",
  "pretrain.checkpointEvery=2",
  "pretrain.warmupSteps=2",
  "dataset.synthetic.n=64",
  "dataset.synthetic.testN=32",
  "eval.linear-probe.epochs=3",
];

const BENCH = new URL("../../src/cli/bench.ts", import.meta.url).pathname;

/** Arguments of a tiny smoke run on the cpu backend into `results`. */
export function tinyArgs(results: string, extra: string[] = []): string[] {
  return [
    "smoke",
    "--backend",
    "cpu",
    "--results",
    results,
    ...TINY.flatMap((s) => ["--set", s]),
    ...extra,
  ];
}

/** Starts the bench CLI; stdout and stderr are collected. */
export function spawnBench(args: string[], env: Record<string, string> = {}): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", BENCH, ...args],
    stdout: "piped",
    stderr: "piped",
    env,
  }).spawn();
}

/** Runs the bench CLI to the end. */
export async function runBench(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await spawnBench(args, env).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** The only run folder under `<results>/runs`. */
export async function onlyRun(results: string): Promise<string> {
  const dirs: string[] = [];
  for await (const e of Deno.readDir(join(results, "runs"))) if (e.isDirectory) dirs.push(e.name);
  if (dirs.length !== 1) throw new Error(`expected one run in ${results}, found ${dirs}`);
  return join(results, "runs", dirs[0]);
}

/** Polls until `pred` holds for the run's events (or throws after `ms`). */
export async function waitForEvents(
  runsDir: string,
  pred: (events: Awaited<ReturnType<typeof readEventLines>>) => boolean,
  ms = 120_000,
): Promise<string> {
  const t0 = Date.now();
  while (Date.now() - t0 < ms) {
    try {
      for await (const e of Deno.readDir(runsDir)) {
        const dir = join(runsDir, e.name);
        if (pred(await readEventLines(join(dir, "metrics.jsonl")))) return dir;
      }
    } catch {
      // not created yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error("timed out waiting for events");
}

/** The loss curve and eval results of a run, without timing fields and run identity. */
export async function comparableEvents(runDir: string): Promise<unknown[]> {
  return (await readEventLines(join(runDir, "metrics.jsonl")))
    .filter((e) => e.event === "train_step" || e.event === "eval_result")
    .map(withoutTiming);
}

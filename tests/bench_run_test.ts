import { join } from "node:path";
import { assert, assertEquals, assertStringIncludes } from "../src/testing/asserts.ts";
import { readCheckpoint } from "../src/train/checkpoint.ts";
import {
  comparableEvents,
  onlyRun,
  runBench,
  spawnBench,
  tinyArgs,
  waitForEvents,
} from "./helpers/bench_cli.ts";

// One uninterrupted reference run, shared by the tests below.
const root = await Deno.makeTempDir({ prefix: "bench-run-test-" });
let reference: { dir: string; record: Record<string, unknown>; stdout: string } | undefined;

async function referenceRun() {
  if (reference) return reference;
  const results = join(root, "ref");
  const r = await runBench(tinyArgs(results));
  assertEquals(r.code, 0, r.stderr);
  const dir = await onlyRun(results);
  reference = {
    dir,
    record: JSON.parse(await Deno.readTextFile(join(dir, "record.json"))),
    stdout: r.stdout,
  };
  return reference;
}

const bytes = (path: string) => Deno.readFile(path);

Deno.test("bench: smoke end to end writes a complete record, metrics, tables and leaderboard", async () => {
  const { dir, record, stdout } = await referenceRun();
  assertEquals(record.status, "complete");
  const metrics = record.metrics as Record<string, { last: number; bestVal?: number }>;
  for (
    const m of [
      "linear-probe.top1",
      "linear-probe.top5",
      "knn.top1",
      "amdim-online.linear.top1",
      "amdim-online.mlp.top1",
    ]
  ) {
    assert(metrics[m] && metrics[m].last >= 0 && metrics[m].last <= 1, m);
  }
  assert(metrics["linear-probe.top1"].bestVal !== undefined);
  const results = join(root, "ref");
  assertStringIncludes(
    await Deno.readTextFile(join(results, "RESULTS.md")),
    record.runId as string,
  );
  const board = join(results, "leaderboard", "index.html");
  assertStringIncludes(stdout, `leaderboard: ${board}`);
  assertStringIncludes(await Deno.readTextFile(board), record.runId as string);
  const last = await readCheckpoint(join(dir, "checkpoints", "last.safetensors"));
  assertEquals([last.meta.step, last.meta.status], [6, "final"]);
  assertEquals(
    await bytes(join(dir, "checkpoints", "final.safetensors")),
    await bytes(join(dir, "checkpoints", "last.safetensors")),
  );
});

Deno.test("bench: same spec and seed twice gives identical metrics, losses and weights", async () => {
  const ref = await referenceRun();
  const results = join(root, "again");
  const r = await runBench(tinyArgs(results));
  assertEquals(r.code, 0, r.stderr);
  const dir = await onlyRun(results);
  const record = JSON.parse(await Deno.readTextFile(join(dir, "record.json")));
  assertEquals(record.metrics, ref.record.metrics);
  assertEquals(await comparableEvents(dir), await comparableEvents(ref.dir));
  // Same tensors (weights, BN state, optimiser state); only the run id in the metadata differs.
  const a = await readCheckpoint(join(dir, "checkpoints", "final.safetensors"));
  const b = await readCheckpoint(join(ref.dir, "checkpoints", "final.safetensors"));
  assertEquals(a.tensors, b.tensors);
  assertEquals({ ...a.meta, runId: "" }, { ...b.meta, runId: "" });
});

async function resumeMatchesReference(results: string, dir: string) {
  const ref = await referenceRun();
  const r = await runBench(["--resume", dir, "--backend", "cpu", "--results", results]);
  assertEquals(r.code, 0, r.stderr);
  const record = JSON.parse(await Deno.readTextFile(join(dir, "record.json")));
  assertEquals(record.status, "complete");
  assertEquals(record.metrics, ref.record.metrics);
  assertEquals(await comparableEvents(dir), await comparableEvents(ref.dir));
  const a = await readCheckpoint(join(dir, "checkpoints", "final.safetensors"));
  const b = await readCheckpoint(join(ref.dir, "checkpoints", "final.safetensors"));
  assertEquals(a.tensors, b.tensors, "weights, BN state and optimiser state bit-identical");
}

Deno.test("bench: SIGINT checkpoints, records 'interrupted'; resume equals the uninterrupted run", async () => {
  const results = join(root, "sigint");
  const child = spawnBench(tinyArgs(results));
  const dir = await waitForEvents(
    join(results, "runs"),
    (ev) => ev.some((e) => e.event === "checkpoint"),
  );
  child.kill("SIGINT");
  const out = await child.output();
  assertEquals(out.code, 1, new TextDecoder().decode(out.stderr));
  const record = JSON.parse(await Deno.readTextFile(join(dir, "record.json")));
  assertEquals(record.status, "interrupted");
  const ckpt = await readCheckpoint(join(dir, "checkpoints", "last.safetensors"));
  assert(ckpt.meta.step >= 2 && ckpt.meta.step < 6, `checkpoint at ${ckpt.meta.step}`);
  await resumeMatchesReference(results, dir);
  assert((await Deno.stat(join(dir, "record.attempt-1.json"))).isFile);
});

Deno.test("bench: SIGKILL between checkpoints; resume from the last one equals the uninterrupted run", async () => {
  const results = join(root, "sigkill");
  const child = spawnBench(tinyArgs(results));
  const dir = await waitForEvents(
    join(results, "runs"),
    (ev) => ev.some((e) => e.event === "train_step" && e.step === 2),
  );
  child.kill("SIGKILL");
  await child.output();
  const ckpt = await readCheckpoint(join(dir, "checkpoints", "last.safetensors"));
  assertEquals(ckpt.meta.step, 2, "killed after update 3, before the checkpoint at 4");
  await resumeMatchesReference(results, dir);
});

Deno.test("bench: a NaN loss fails the run with the reason and keeps the last good checkpoint", async () => {
  const results = join(root, "nan");
  const refused = await runBench(tinyArgs(results, ["--debug-inject-nan-at-step", "3"]));
  assertEquals(refused.code, 2, "fault injection needs the environment flag");
  const r = await runBench(
    tinyArgs(results, ["--debug-inject-nan-at-step", "3"]),
    { AMDIM_BENCH_ALLOW_FAULT_INJECTION: "1" },
  );
  assertEquals(r.code, 1, r.stderr);
  const dir = await onlyRun(results);
  const record = JSON.parse(await Deno.readTextFile(join(dir, "record.json")));
  assertEquals(record.status, "failed");
  assertStringIncludes(record.reason, "non-finite loss at step 3");
  const ckpt = await readCheckpoint(join(dir, "checkpoints", "last.safetensors"));
  assertEquals(ckpt.meta.step, 2);
  for (const t of ckpt.tensors.values()) {
    assert(Array.from(t.data as Float32Array).every(Number.isFinite), "checkpoint is clean");
  }
});

Deno.test({
  name: "bench: cleanup",
  fn: () => Deno.remove(root, { recursive: true }),
});

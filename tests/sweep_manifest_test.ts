/** Sweeps without a cluster: seed lists, grids, manifests, rejection, scripts, statistics. */
import {
  assert,
  assertAlmostEquals,
  assertEquals,
  assertMatch,
  assertRejects,
  assertStringIncludes,
  assertThrows,
} from "../src/testing/asserts.ts";
import { BenchError } from "../src/util/errors.ts";
import { isInputError } from "../src/cli/main.ts";
import { parseSeeds, parseVary } from "../src/sweep/seeds.ts";
import { createSweepManifest, shellQuote, writeManifest } from "../src/sweep/manifest.ts";
import { arrayIndexSpec, arrayScript, collectorScript, SlurmClient } from "../src/sweep/slurm.ts";
import { summarize } from "../src/sweep/aggregate.ts";
import { sweepCommand } from "../src/cli/sweep.ts";
import { REPO_ROOT } from "../src/spec/context.ts";

Deno.test("--seeds: ranges and lists; malformed ones are input errors", () => {
  assertEquals(parseSeeds("1..3"), [1, 2, 3]);
  assertEquals(parseSeeds("1,2,5"), [1, 2, 5]);
  assertEquals(parseSeeds("0..1, 7"), [0, 1, 7]);
  assertEquals(parseSeeds("4..4"), [4]);
  for (const bad of ["3..1", "a..b", "1,1", "1..3,2", "", "1.5", "-1", "1..", ",2"]) {
    const e = assertThrows(() => parseSeeds(bad), BenchError);
    assertEquals(e.code, "sweep_invalid", bad);
    assert(isInputError(e.code));
    assertStringIncludes(e.location ?? "", "--seeds");
  }
});

Deno.test("--vary keeps commas inside brackets and rejects repeats", () => {
  assertEquals(parseVary("encoder.ndf=8,16"), { key: "encoder.ndf", values: ["8", "16"] });
  assertEquals(parseVary("eval.1.l2=[0,1e-3],[0]"), {
    key: "eval.1.l2",
    values: ["[0,1e-3]", "[0]"],
  });
  assertThrows(() => parseVary("encoder.ndf=8,8"), BenchError);
  assertThrows(() => parseVary("=8"), BenchError);
  assertThrows(() => parseVary("a=[1,2"), BenchError);
});

const TINY = ["pretrain.steps=2", "encoder.ndf=8"];

Deno.test("a sweep expands spec × grid × seeds into tasks with exact bench commands", async () => {
  const results = await Deno.makeTempDir({ prefix: "sweep-manifest-" });
  try {
    const m = await createSweepManifest({
      target: "smoke",
      seeds: [1, 2],
      overrides: TINY,
      vary: [{ key: "encoder.nRkhs", values: ["32", "40", "48"] }],
      backend: "cpu",
      resultsDir: results,
      mode: "slurm",
      maxParallel: 2,
      slurm: { partition: "gpu", gpus: 1, time: "10:00" },
      now: new Date("2025-01-02T03:04:05Z"),
    });
    assertEquals(m.tasks.length, 6);
    assertMatch(m.sweepId, /^smoke-20250102T030405-[0-9a-f]{6}$/);
    assertEquals(m.tasks.map((t) => [t.variant["encoder.nRkhs"], t.seed]), [
      ["32", 1],
      ["32", 2],
      ["40", 1],
      ["40", 2],
      ["48", 1],
      ["48", 2],
    ]);
    assertEquals(new Set(m.tasks.map((t) => t.group)).size, 3);
    assertEquals(new Set(m.tasks.map((t) => t.specHash)).size, 6);
    const t3 = m.tasks[3];
    assertEquals(t3.command, [
      "deno",
      "task",
      "bench",
      "smoke",
      "--backend",
      "cpu",
      "--set",
      "pretrain.steps=2",
      "--set",
      "encoder.ndf=8",
      "--set",
      "encoder.nRkhs=40",
      "--seed",
      "2",
      "--results",
      `${m.sweepDir}/tasks/3`,
    ]);
    assertEquals(t3.statusFile, `${m.sweepDir}/tasks/3/status.json`);
    // Same seeds twice in a group would measure nothing new.
    assertEquals(new Set(m.tasks.filter((t) => t.group === t3.group).map((t) => t.seed)).size, 2);

    const script = arrayScript(m, m.tasks.map((t) => t.index));
    assertStringIncludes(script, "#SBATCH --array=0-5%2");
    assertStringIncludes(script, "#SBATCH --partition=gpu");
    assertStringIncludes(script, "#SBATCH --gres=gpu:1");
    assertStringIncludes(script, "#SBATCH --time=10:00");
    assertStringIncludes(script, "run-task " + m.sweepDir + ' "$SLURM_ARRAY_TASK_ID"');
    assertStringIncludes(arrayScript(m, [1, 4]), "#SBATCH --array=1,4%2");
    const collector = collectorScript(m, "77");
    assertStringIncludes(collector, "#SBATCH --dependency=afterany:77");
    assertStringIncludes(collector, `collect ${m.sweepDir}`);
    assert(!collector.includes("--gres"), "the collector needs no GPU");

    // Nothing is written until writeManifest.
    assertEquals([...Deno.readDirSync(results)].length, 0);
    const written = await writeManifest(m);
    const again = await writeManifest(m);
    assertEquals(again.sweepId, `${written.sweepId}-2`);
    assertStringIncludes(again.tasks[0].resultsDir, `${written.sweepId}-2/tasks/0`);
  } finally {
    await Deno.remove(results, { recursive: true });
  }
});

Deno.test("malformed sweeps are rejected before anything is written", async () => {
  const results = await Deno.makeTempDir({ prefix: "sweep-bad-" });
  try {
    const cases: Array<[string[], RegExp]> = [
      [["no-such-spec", "--seeds", "1..2", "--local"], /no-such-spec/],
      [["smoke", "--seeds", "3..1", "--local"], /empty/],
      [["smoke", "--seeds", "a..b", "--slurm"], /not a range/],
      [["smoke", "--seeds", "1,2,2", "--slurm"], /twice/],
      [["smoke", "--vary", "encoder.ndf=8,8.0", "--slurm"], /same spec/],
      [["smoke", "--set", "pretrain.stepz=1", "--slurm"], /stepz/],
      [["smoke", "--seeds", "1..2"], /--slurm or --local/],
      [["smoke", "--local", "--gpus", "1"], /needs --slurm/],
    ];
    for (const [argv, message] of cases) {
      const e = await assertRejects(
        () => sweepCommand([...argv, "--results", results]),
        BenchError,
      );
      assert(isInputError(e.code), `${argv.join(" ")}: code ${e.code} is not an input error`);
      assertMatch(`${e.message} ${e.location ?? ""}`, message);
    }
    assertEquals([...Deno.readDirSync(results)].length, 0);
  } finally {
    await Deno.remove(results, { recursive: true });
  }
});

Deno.test("summary statistics and Slurm helpers", async () => {
  const s = summarize([0.5, 0.7, 0.6, 0.9]);
  assertEquals([s.n, s.min, s.max], [4, 0.5, 0.9]);
  assertAlmostEquals(s.mean, 0.675, 1e-12);
  assertAlmostEquals(s.median, 0.65, 1e-12);
  assertAlmostEquals(
    s.std!,
    Math.sqrt((0.175 ** 2 + 0.025 ** 2 + 0.075 ** 2 + 0.225 ** 2) / 3),
    1e-12,
  );
  assertEquals(summarize([0.3]).std, null);
  assertEquals(summarize([0.3]).median, 0.3);
  assertEquals(arrayIndexSpec([5, 0, 1, 2, 7, 8]), "0-2,5,7-8");
  assertEquals(shellQuote("a b'c"), `'a b'\\''c'`);
  const calls: string[][] = [];
  const client = new SlurmClient({
    exec: (cmd, args) => {
      calls.push([cmd, ...args]);
      const stdout = cmd === "squeue"
        ? "12_0|12|0|RUNNING|None\n12_[1-2]|12|N/A|PENDING|JobArrayTaskLimit\n13|13|N/A|PENDING|Dependency\n"
        : cmd === "sbatch"
        ? "14;cluster\n"
        : "";
      return Promise.resolve({ code: 0, stdout, stderr: "" });
    },
  });
  const q = await client.queue();
  assertEquals(q[0], {
    jobId: "12_0",
    arrayJobId: "12",
    arrayTaskId: 0,
    state: "RUNNING",
    reason: "None",
  });
  assertEquals(q[2].arrayTaskId, null);
  assertEquals(await client.sbatch("x.sbatch"), "14");
  assertEquals(calls[1], ["sbatch", "--parsable", "x.sbatch"]);
});

Deno.test("--dry-run prints the manifest and both sbatch scripts, and submits nothing", async () => {
  const results = await Deno.makeTempDir({ prefix: "sweep-dry-" });
  const sweep = async (args: string[]) => {
    const out = await new Deno.Command("deno", {
      args: ["run", "-A", "src/cli/sweep.ts", ...args, "--results", results],
      cwd: REPO_ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const d = new TextDecoder();
    return { code: out.code, stdout: d.decode(out.stdout), stderr: d.decode(out.stderr) };
  };
  try {
    const r = await sweep([
      "smoke",
      "--seeds",
      "1..2",
      "--vary",
      "encoder.nRkhs=64,80",
      "--slurm",
      "--partition",
      "gpu",
      "--gpus",
      "1",
      "--max-parallel",
      "2",
      "--dry-run",
    ]);
    assertEquals(r.code, 0, r.stderr);
    const json = r.stdout.slice(r.stdout.indexOf("{"), r.stdout.indexOf("\n}\n") + 2);
    const manifest = JSON.parse(json);
    assertEquals(manifest.tasks.length, 4);
    assertEquals(manifest.slurm, { partition: "gpu", cpus: 1, gpus: 1, time: null });
    assertStringIncludes(r.stdout, "#SBATCH --array=0-3%2");
    assertStringIncludes(r.stdout, "#SBATCH --gres=gpu:1");
    assertStringIncludes(r.stdout, "#SBATCH --dependency=afterany:<array job id>");
    assertStringIncludes(r.stdout, "deno task bench smoke --backend auto --set encoder.nRkhs=80");
    assertEquals([...Deno.readDirSync(results)].length, 0);
    const missing = await sweep(["status", "no-such-sweep"]);
    assertEquals(missing.code, 2);
    assertStringIncludes(missing.stderr, "sweep_not_found");
  } finally {
    await Deno.remove(results, { recursive: true });
  }
});

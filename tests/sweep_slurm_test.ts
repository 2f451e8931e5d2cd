/**
 * Sweeps on a real single-node Slurm cluster (tests/helpers/slurm_cluster.ts): a 3-variant ×
 * 2-seed sweep of a shrunken `smoke` through ONE job array and the collector, with one task
 * failing for real (NaN injected through the task hook) and retried alone, resuming from its
 * checkpoint; the same sweep with `--local` gives the same aggregate; re-collecting is
 * byte-identical; `cancel` leaves nothing running; a malformed sweep submits nothing.
 * Skipped, with the reason, where Slurm cannot run (binaries absent, not root).
 */
import { join } from "node:path";
import { assert, assertEquals, assertMatch, assertStringIncludes } from "../src/testing/asserts.ts";
import { REPO_ROOT } from "../src/spec/context.ts";
import { SlurmClient } from "../src/sweep/slurm.ts";
import type {
  SubmissionsFile,
  SweepManifest,
  SweepRecord,
  TaskStatus,
} from "../src/sweep/types.ts";
import { planTask, SWEEP_FAULT_ENV, taskRunDirs } from "../src/sweep/run_task.ts";
import { type SlurmCluster, slurmUnavailable, startSlurmCluster } from "./helpers/slurm_cluster.ts";

const why = await slurmUnavailable();
if (why) console.warn(`sweep_slurm_test skipped: ${why}`);

/** smoke, shrunk to a few seconds per run on one core (cpu backend: bit-deterministic). */
const TINY = [
  "pretrain.steps=2",
  "pretrain.checkpointEvery=1",
  "pretrain.warmupSteps=1",
  "pretrain.batchSize=4",
  "dataset.synthetic.n=32",
  "dataset.synthetic.testN=16",
  "eval.1.epochs=1",
  "encoder.ndf=8",
].flatMap((s) => ["--set", s]);
const SWEEP = ["smoke", "--seeds", "1..2", "--vary", "encoder.nRkhs=32,40,48", ...TINY];

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function cli(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const out = await new Deno.Command("deno", {
    args: ["run", "-A", join(REPO_ROOT, "src", "cli", "sweep.ts"), ...args],
    cwd: REPO_ROOT,
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const d = new TextDecoder();
  return { code: out.code, stdout: d.decode(out.stdout), stderr: d.decode(out.stderr) };
}

function sweepIdOf(run: Run): string {
  const m = /^sweep (\S+): \d+ tasks/m.exec(run.stdout);
  if (!m) throw new Error(`no sweep id in:\n${run.stdout}\n${run.stderr}`);
  return m[1];
}

const readJson = async <T>(path: string): Promise<T> => JSON.parse(await Deno.readTextFile(path));

/** Waits until Slurm lists no job of the sweep any more (tasks and collector). */
async function waitIdle(
  slurm: SlurmClient,
  sweepDir: string,
  cluster: SlurmCluster,
  timeoutMs = 240_000,
): Promise<void> {
  const subs = await readJson<SubmissionsFile>(join(sweepDir, "submissions.json"));
  const ids = subs.submissions.flatMap((s) => [s.arrayJobId, s.collectorJobId]);
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const q = await slurm.queue();
    if (!q.some((e) => ids.includes(e.arrayJobId) || ids.includes(e.jobId))) return;
    await new Promise((r) => setTimeout(r, 1000));
  }
  throw new Error(`sweep jobs still queued after ${timeoutMs} ms\n${await cluster.logs()}`);
}

/** Every aggregated metric value per group, for comparing two sweeps. */
function metricsOf(record: SweepRecord) {
  return record.groups.map((g) => ({
    group: g.group,
    seeds: g.runs.map((r) => r.seed),
    metrics: g.metrics,
  }));
}

Deno.test({
  name: "sweep on a real Slurm cluster: job array, collector, failure + retry, local twin, cancel",
  ignore: why !== null,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const t0 = performance.now();
    const results = await Deno.makeTempDir({ prefix: "sweep-slurm-results-" });
    const cluster = await startSlurmCluster();
    const env = cluster.env;
    const slurm = new SlurmClient({ env });
    const timings: string[] = [];
    const lap = (what: string, since: number) =>
      timings.push(`${what}: ${((performance.now() - since) / 1000).toFixed(1)} s`);
    try {
      lap("cluster start", t0);
      let slurmRecord: SweepRecord | null = null;
      let slurmDir = "";
      let localDir = "";

      await t.step("a malformed sweep is rejected before anything is submitted", async () => {
        for (
          const bad of [
            ["smoke", "--seeds", "3..1"],
            ["smoke", "--seeds", "a..b"],
            ["smoke", "--seeds", "1,2,1"],
            ["no-such-spec", "--seeds", "1..2"],
          ]
        ) {
          const r = await cli([...bad, "--slurm", "--results", results], env);
          assertEquals(r.code, 2, `${bad.join(" ")}: ${r.stderr}`);
          assertMatch(r.stderr, /error\[/);
        }
        assertEquals(await slurm.queue(), []);
        assertEquals([...Deno.readDirSync(results)].length, 0, "nothing written");
      });

      await t.step(
        "3 variants × 2 seeds run as ONE job array; a failing task is reported",
        async () => {
          const since = performance.now();
          const r = await cli(
            [
              ...SWEEP,
              "--slurm",
              "--cpus",
              "1",
              "--max-parallel",
              "2",
              "--backend",
              "cpu",
              "--results",
              results,
            ],
            { ...env, [SWEEP_FAULT_ENV]: "3:1" },
          );
          assertEquals(r.code, 0, r.stderr);
          const id = sweepIdOf(r);
          slurmDir = join(results, "sweeps", id);
          const subs = await readJson<SubmissionsFile>(join(slurmDir, "submissions.json"));
          assertEquals(subs.submissions.length, 1);
          const sub = subs.submissions[0];
          assertEquals(sub.indices, [0, 1, 2, 3, 4, 5]);
          const script = await Deno.readTextFile(sub.scripts[0]);
          assertStringIncludes(script, "#SBATCH --array=0-5%2");
          // The collector waits for the whole array (its dependency clears once satisfied).
          const collector = (await slurm.showJob(sub.collectorJobId!))[0];
          assertStringIncludes(collector.Dependency ?? "", `afterany:${sub.arrayJobId}`);
          // Progress while it runs (queued/running/done, from squeue and the status files).
          const mid = await cli(["status", id, "--results", results], env);
          assertMatch(mid.stdout, /sweep \S+ \(slurm\): 6 tasks/);

          await waitIdle(slurm, slurmDir, cluster);
          lap("slurm sweep (6 tasks, 2 at a time) + collector", since);
          const jobs = await slurm.showJob(sub.arrayJobId!);
          assertEquals(jobs.length, 6, "six array tasks in one array job");
          assert(jobs.every((j) => j.ArrayJobId === sub.arrayJobId));

          const status = await cli(["status", id, "--results", results], env);
          assertEquals(status.code, 1, "a failed task makes status exit 1");
          assertMatch(status.stdout, /6 tasks, 5 done, 0 running, 0 queued, 1 failed/);
          assertMatch(status.stdout, /\n3 .*failed .*non-finite loss at step 1/);
          const st3 = await readJson<TaskStatus>(join(slurmDir, "tasks", "3", "status.json"));
          assertEquals([st3.state, st3.exitCode, st3.slurmJob], [
            "failed",
            1,
            `${sub.arrayJobId}_3`,
          ]);
          const record = await readJson<SweepRecord>(join(slurmDir, "sweep.json"));
          assertEquals(record.status, "incomplete");
          assertEquals(record.counts, { tasks: 6, done: 5, failed: 1, pending: 0 });
          assertEquals(record.problems.map((p) => p.index), [3]);
          assertMatch(record.problems[0].reason, /non-finite loss/);
        },
      );

      await t.step(
        "--retry-failed resubmits only the failed task; it resumes its checkpoint",
        async () => {
          const since = performance.now();
          const before = await Promise.all(
            [0, 1, 2, 4, 5].map((i) =>
              Deno.readTextFile(join(slurmDir, "tasks", `${i}`, "status.json"))
            ),
          );
          const id = slurmDir.split("/").pop()!;
          const r = await cli(["status", id, "--retry-failed", "--results", results], env);
          assertMatch(r.stdout, /resubmitted tasks 3 as array job \d+, collector job \d+/);
          const subs = await readJson<SubmissionsFile>(join(slurmDir, "submissions.json"));
          assertEquals(subs.submissions.length, 2);
          assertEquals(subs.submissions[1].indices, [3]);
          assertStringIncludes(
            await Deno.readTextFile(subs.submissions[1].scripts[0]),
            "--array=3%1",
          );
          await waitIdle(slurm, slurmDir, cluster);
          lap("retry of 1 task + collector", since);
          const st3 = await readJson<TaskStatus>(join(slurmDir, "tasks", "3", "status.json"));
          assertEquals([st3.state, st3.attempt, st3.resumed], ["done", 2, true]);
          assertStringIncludes(st3.command!.join(" "), "--resume");
          const after = await Promise.all(
            [0, 1, 2, 4, 5].map((i) =>
              Deno.readTextFile(join(slurmDir, "tasks", `${i}`, "status.json"))
            ),
          );
          assertEquals(after, before, "finished tasks are never redone");
          const runDir = st3.runDir!;
          assert(
            (await Deno.stat(join(runDir, "record.attempt-1.json"))).isFile,
            "failed attempt kept",
          );
          slurmRecord = await readJson<SweepRecord>(join(slurmDir, "sweep.json"));
          assertEquals(slurmRecord.status, "complete");
          assertEquals(slurmRecord.groups.map((g) => g.runs.length), [2, 2, 2]);
          const knn = slurmRecord.groups[0].metrics["knn.top1"].last;
          assertEquals(knn.n, 2);
          assert(knn.min <= knn.median && knn.median <= knn.max && knn.std !== null);
        },
      );

      await t.step("collect is idempotent: same inputs, byte-identical sweep.json", async () => {
        const id = slurmDir.split("/").pop()!;
        const first = await Deno.readFile(join(slurmDir, "sweep.json"));
        const r = await cli(["collect", id, "--results", results], env);
        assertEquals(r.code, 0, r.stderr);
        assertEquals(await Deno.readFile(join(slurmDir, "sweep.json")), first);
        await cli(["collect", id, "--results", results], env);
        assertEquals(await Deno.readFile(join(slurmDir, "sweep.json")), first);
      });

      await t.step("the same sweep with --local gives the same aggregate", async () => {
        const since = performance.now();
        const r = await cli([
          ...SWEEP,
          "--local",
          "--max-parallel",
          "2",
          "--backend",
          "cpu",
          "--results",
          results,
        ]);
        assertEquals(r.code, 0, r.stderr + r.stdout);
        const local = await readJson<SweepRecord>(
          join(results, "sweeps", sweepIdOf(r), "sweep.json"),
        );
        lap("local sweep (6 tasks, 2 at a time) + collect", since);
        assertEquals(local.status, "complete");
        assertEquals(metricsOf(local), metricsOf(slurmRecord!));
        localDir = join(results, "sweeps", sweepIdOf(r));
      });

      await t.step("the collector gates each group's aggregate against a baseline", async () => {
        const id = slurmDir.split("/").pop()!;
        const r = await cli([
          "collect",
          id,
          "--gate",
          "--baseline",
          join(localDir, "tasks"),
          "--results",
          results,
        ], env);
        assertEquals(r.code, 0, r.stdout + r.stderr);
        const record = await readJson<SweepRecord>(join(slurmDir, "sweep.json"));
        assertEquals(record.gate?.verdict, "pass");
        assertEquals(record.gate!.reports.length, 3);
        for (const report of record.gate!.reports) {
          assertEquals(report.verdict, "pass");
          assertEquals(report.candidateRuns.length, 2);
          assertEquals(report.baselineRuns.length, 2);
        }
        assertStringIncludes(r.stdout, "smoke [encoder.nRkhs=40]: PASS");
        // A baseline of another variant is a different measurement: unusable (exit 2).
        const other = await cli([
          "collect",
          id,
          "--gate",
          "--baseline",
          join(localDir, "tasks", "0"),
          "--results",
          results,
        ], env);
        assertEquals(other.code, 2, other.stdout + other.stderr);
      });

      await t.step(
        "cancel stops the array and the collector; nothing is left running",
        async () => {
          const r = await cli([
            "smoke",
            "--seeds",
            "1..4",
            ...TINY,
            "--set",
            "pretrain.steps=400",
            "--slurm",
            "--max-parallel",
            "2",
            "--backend",
            "cpu",
            "--results",
            results,
          ], env);
          assertEquals(r.code, 0, r.stderr);
          const id = sweepIdOf(r);
          const dir = join(results, "sweeps", id);
          const subs = await readJson<SubmissionsFile>(join(dir, "submissions.json"));
          const manifest = await readJson<SweepManifest>(join(dir, "manifest.json"));
          const arrayId = subs.submissions[0].arrayJobId!;
          // Cancel once a task has checkpointed, so it is killed mid-run.
          const end = Date.now() + 90_000;
          let checkpointed = false;
          while (!checkpointed && Date.now() < end) {
            for (const task of manifest.tasks) {
              for (const run of await taskRunDirs(task)) {
                try {
                  await Deno.stat(join(run, "checkpoints", "last.safetensors"));
                  checkpointed = true;
                } catch { /* not yet */ }
              }
            }
            if (!checkpointed) await new Promise((res) => setTimeout(res, 300));
          }
          assert(checkpointed, "no task checkpointed within 90 s");
          const c = await cli(["cancel", id, "--results", results], env);
          assertEquals(c.code, 0, c.stderr);
          const q = await slurm.queue();
          assertEquals(
            q.filter((e) =>
              e.arrayJobId === arrayId || e.jobId === subs.submissions[0].collectorJobId
            ),
            [],
          );
          const s = await cli(["status", id, "--results", results], env);
          assertMatch(s.stdout, /4 tasks, 0 done, 0 running, 0 queued, 4 failed/);
          assertMatch(s.stdout, /cancelled/);
          // A task killed mid-run resumes from its checkpoint when resubmitted.
          const plans = await Promise.all(manifest.tasks.map((task) => planTask(task)));
          assert(plans.some((p) => p.kind === "resume"), JSON.stringify(plans));
          assert(plans.every((p) => p.kind !== "complete"));
          // No task process survives the cancel.
          const ps = new TextDecoder().decode(
            (await new Deno.Command("ps", { args: ["-eo", "args"], stdout: "piped" }).output())
              .stdout,
          );
          assert(!ps.includes(dir), "a task of the cancelled sweep is still running");
        },
      );
    } finally {
      await cluster.stop();
      await Deno.remove(results, { recursive: true }).catch(() => {});
      console.log(
        `timings: ${timings.join("; ")}; total ${((performance.now() - t0) / 1000).toFixed(1)} s`,
      );
    }
    // Daemons gone.
    for (const pid of Object.values(cluster.pids)) {
      let alive = true;
      try {
        Deno.kill(pid, "SIGCONT");
      } catch {
        alive = false;
      }
      assert(!alive, `daemon ${pid} still running`);
    }
  },
});

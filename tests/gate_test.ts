/** The gate: pure comparison, Welch path, unusable inputs, and the command's exit codes. */
import { assertAlmostEquals, assertEquals } from "../src/testing/asserts.ts";
import { gate, gateExitCode, renderGateReport } from "../src/report/gate.ts";
import { studentTCdf, welchLess } from "../src/report/stats.ts";
import { comparableHash } from "../src/spec/canonical.ts";
import { writeRecord } from "../src/report/record.ts";
import { gateCommand } from "../src/cli/gate.ts";
import type { GateSpec } from "../src/spec/types.ts";
import {
  baseSpecValue,
  makeRecord,
  resolvedBaseSpec,
  specDir,
} from "./helpers/harness_fixtures.ts";

const G: GateSpec = { metrics: { "linear-probe.top1": { absTolerance: 0.02 } }, alpha: 0.05 };
const rec = (seed: number, v: number) => makeRecord({ seed, metrics: { "linear-probe.top1": v } });

Deno.test("t distribution CDF matches known values", () => {
  // jstat's incomplete beta is accurate to about 1e-8: ample for a decision at alpha = 0.05.
  assertAlmostEquals(studentTCdf(0, 3), 0.5, 1e-7);
  assertAlmostEquals(studentTCdf(-2, 5), 0.0509697394, 1e-7);
  assertAlmostEquals(studentTCdf(-3.5, 1), 0.5 + Math.atan(-3.5) / Math.PI, 1e-7); // Cauchy
  assertAlmostEquals(studentTCdf(1.812461, 10), 0.95, 1e-6); // t_{0.95,10}
  const w = welchLess([0.8, 0.81, 0.79], [0.7, 0.71, 0.69]);
  assertAlmostEquals(w.t, -12.2474487, 1e-6);
  assertAlmostEquals(w.df, 4, 1e-9);
});

Deno.test("gate passes on equal records and fails on a degraded one", () => {
  const pass = gate({ specId: "base", gate: G, baseline: [rec(1, 0.6)], candidate: [rec(1, 0.6)] });
  assertEquals([pass.verdict, pass.rows[0].verdict, pass.rows[0].test], [
    "pass",
    "pass",
    "absolute",
  ]);
  const edge = gate({
    specId: "base",
    gate: G,
    baseline: [rec(1, 0.8)],
    candidate: [rec(1, 0.78)],
  });
  assertEquals(edge.verdict, "pass"); // a drop of exactly the tolerance passes
  const bad = gate({ specId: "base", gate: G, baseline: [rec(1, 0.6)], candidate: [rec(1, 0.55)] });
  assertEquals([bad.verdict, bad.rows[0].verdict], ["regress", "regress"]);
  assertAlmostEquals(bad.rows[0].delta!, -0.05, 1e-12);
  const better = gate({
    specId: "base",
    gate: G,
    baseline: [rec(1, 0.6)],
    candidate: [rec(1, 0.7)],
  });
  assertEquals([better.verdict, better.rows[0].verdict], ["pass", "improved"]);
  assertEquals(gateExitCode([pass, better]), 0);
  assertEquals(gateExitCode([pass, bad]), 1);
  const missing = gate({
    specId: "base",
    gate: G,
    baseline: [rec(1, 0.6)],
    candidate: [makeRecord({ metrics: { "knn.top1": 0.5 } })],
  });
  assertEquals([missing.verdict, missing.rows[0].verdict], ["regress", "missing"]);
});

Deno.test("gate with several seeds uses a one-sided Welch t-test", () => {
  const base = [rec(1, 0.80), rec(2, 0.81), rec(3, 0.79)];
  const worse = gate({
    specId: "base",
    gate: G,
    baseline: base,
    candidate: [rec(4, 0.70), rec(5, 0.71), rec(6, 0.69)],
  });
  assertEquals([worse.verdict, worse.rows[0].test, worse.rows[0].verdict], [
    "regress",
    "welch",
    "regress",
  ]);
  assertAlmostEquals(worse.rows[0].pValue!, 1.276e-4, 1e-6);
  const noisy = gate({
    specId: "base",
    gate: G,
    baseline: base,
    candidate: [rec(4, 0.60), rec(5, 0.95), rec(6, 0.75)],
  });
  assertEquals([noisy.verdict, noisy.rows[0].verdict], ["pass", "inconclusive"]); // drop 3.3 points, p > 0.05
  const same = gate({
    specId: "base",
    gate: G,
    baseline: base,
    candidate: [rec(4, 0.80), rec(5, 0.80), rec(6, 0.80)],
  });
  assertEquals(same.verdict, "pass");
  assertEquals(renderGateReport([worse]).split("\n")[0], "base: REGRESS");
});

Deno.test("gate reports unusable inputs", () => {
  const spec = resolvedBaseSpec();
  const other = structuredClone(spec);
  other.pretrain.steps = 30;
  const changed = makeRecord({ spec: other, metrics: { "linear-probe.top1": 0.6 } });
  const r1 = gate({ specId: "base", gate: G, baseline: [rec(1, 0.6)], candidate: [changed] });
  assertEquals(r1.verdict, "unusable");
  assertEquals(
    r1.problems[0].startsWith("candidate ") && r1.problems[0].includes("ran different specs"),
    true,
  );
  const r2 = gate({
    specId: "base",
    gate: G,
    comparableHash: comparableHash(other),
    baseline: [rec(1, 0.6)],
    candidate: [changed],
  });
  assertEquals(r2.problems.length, 1);
  assertEquals(r2.problems[0].includes('ran a different version of spec "base"'), true);
  const r3 = gate({ specId: "base", gate: G, baseline: [], candidate: [rec(1, 0.6)] });
  assertEquals(r3.problems, ['no baseline record for spec "base"']);
  const r4 = gate({
    specId: "base",
    gate: G,
    baseline: [rec(1, 0.6), rec(1, 0.6)],
    candidate: [rec(2, 0.6), rec(3, 0.6)],
  });
  assertEquals(r4.verdict, "unusable");
  const r5 = gate({
    specId: "base",
    gate: { metrics: {}, alpha: 0.05 },
    baseline: [rec(1, 0.6)],
    candidate: [rec(1, 0.6)],
  });
  assertEquals(r5.problems, ['spec "base" gates no metric (gate.metrics is empty)']);
  assertEquals(gateExitCode([r1, r3]), 2);
});

Deno.test("gate command: exit codes 0/1/2 and --run with an injected runner", async () => {
  const tmp = await specDir();
  const quiet = { log: console.log, error: console.error };
  console.log = () => {};
  console.error = () => {};
  try {
    const file = await tmp.write("base", baseSpecValue());
    // Records must carry the spec exactly as loadSpec resolves it.
    const { loadSpec } = await import("../src/spec/load.ts");
    const loaded = await loadSpec(file, { specsDir: tmp.dir });
    const mk = (seed: number, v: number) =>
      makeRecord({ spec: loaded.spec, seed, metrics: { "linear-probe.top1": v } });
    const write = async (sub: string, r: ReturnType<typeof mk>) => {
      const d = `${tmp.dir}/${sub}/${r.runId}`;
      await Deno.mkdir(d, { recursive: true });
      await writeRecord(d, r);
    };
    await write("baseline", mk(1, 0.6));
    await write("good", mk(1, 0.6));
    await write("bad", mk(1, 0.5));
    const args = (extra: string[]) => [file, "--baseline", `${tmp.dir}/baseline`, ...extra];
    // The command resolves spec ids in benchmarks/, so pass the spec by path.
    assertEquals(await gateCommand(args(["--candidate", `${tmp.dir}/good`])), 0);
    assertEquals(await gateCommand(args(["--candidate", `${tmp.dir}/bad`])), 1);
    assertEquals(await gateCommand(args(["--candidate", `${tmp.dir}/nowhere`])), 2);
    assertEquals(
      await gateCommand(args(["--candidate", `${tmp.dir}/good`, "--set", "pretrain.steps=19"])),
      2,
    );
    assertEquals(await gateCommand(args(["--results", `${tmp.dir}/empty`])), 2); // no candidates
    let calls = 0;
    const runSpec = (l: typeof loaded, o: { seedIndex: number }) => {
      calls++;
      return Promise.resolve(mk(l.spec.pretrain.seed, o.seedIndex === 0 ? 0.6 : 0.6));
    };
    assertEquals(await gateCommand(args(["--run"]), runSpec), 0);
    assertEquals(calls, 1);
    const degrade = (l: typeof loaded) => Promise.resolve(mk(l.spec.pretrain.seed, 0.4));
    assertEquals(await gateCommand(args(["--run", "--seeds", "2"]), degrade), 1);
  } finally {
    console.log = quiet.log;
    console.error = quiet.error;
    await tmp.cleanup();
  }
});

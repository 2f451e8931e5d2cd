import { assertEquals, assertMatch, assertStringIncludes } from "../src/testing/asserts.ts";
import { summaryTable } from "../src/cli/bench.ts";
import type { RunRecord } from "../src/report/record_types.ts";
import { runBench } from "./helpers/bench_cli.ts";

Deno.test("bench --list names the specs and suites", async () => {
  const r = await runBench(["--list"]);
  assertEquals(r.code, 0, r.stderr);
  assertStringIncludes(r.stdout, "fmnist-tiny");
  assertStringIncludes(r.stdout, "smoke");
  assertStringIncludes(r.stdout, "suites:");
});

Deno.test("bench --dry-run prints spec, hash, data status and cost without training", async () => {
  const results = await Deno.makeTempDir();
  try {
    const r = await runBench(["smoke", "--dry-run", "--results", results, "--seed", "5"]);
    assertEquals(r.code, 0, r.stderr);
    assertStringIncludes(r.stdout, "specHash: ");
    assertStringIncludes(r.stdout, '"seed": 5');
    assertStringIncludes(r.stdout, "M MACs / image");
    assertStringIncludes(r.stdout, "T MACs");
    assertEquals([...Deno.readDirSync(results)].length, 0, "nothing written");
  } finally {
    await Deno.remove(results, { recursive: true });
  }
});

Deno.test("bench: usage errors exit 2", async () => {
  assertEquals((await runBench(["--frobnicate"])).code, 2);
  assertEquals((await runBench(["smoke", "--seed", "x"])).code, 2);
  const r = await runBench(["smoke", "--dry-run", "--set", "pretrain.stepz=3"]);
  assertEquals(r.code, 2, r.stderr);
  assertStringIncludes(r.stderr, "stepz");
});

Deno.test("bench: summary table shows last, bestVal, published and delta", () => {
  const record = {
    metrics: {
      "linear-probe.top1": { last: 0.8, bestVal: 0.81 },
      "amdim-online.linear.top1": { last: 0.5 },
    },
    baselines: { "random-init/linear-probe.top1": 0.7 },
    reference: {
      id: "x",
      value: 0.9,
      bound: "exact",
      metric: "linear-probe.top1",
      protocol: "linear-probe",
      status: "verified",
      protocolMatch: false,
      mismatches: [],
      unknowns: [],
    },
  } as unknown as RunRecord;
  const t = summaryTable(record);
  assertMatch(
    t,
    /linear-probe\.top1 +80\.00% +81\.00% +90\.00% \(protocol differs\) +-10\.00 pt/,
  );
  assertStringIncludes(t, "baseline random-init/linear-probe.top1");
});

import {
  assertEquals,
  assertMatch,
  assertRejects,
  assertStringIncludes,
} from "../src/testing/asserts.ts";
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

Deno.test("bench data: a missing downloadable dataset is fetched once, then opened", async () => {
  const { openOrFetch } = await import("../src/train/run_benchmark.ts");
  const { BenchError } = await import("../src/util/errors.ts");
  let installed = false;
  let fetches = 0;
  const open = () =>
    installed
      ? Promise.resolve("opened")
      : Promise.reject(new BenchError("data_missing", "dataset is not installed"));
  const fetchData = () => {
    fetches++;
    installed = true;
    return Promise.resolve();
  };
  assertEquals(await openOrFetch("fashion-mnist", open, fetchData), "opened");
  assertEquals(fetches, 1);
  // Not downloadable (ImageNet): the missing-data error reaches the user, nothing is fetched.
  installed = false;
  await assertRejects(() => openOrFetch("imagenet", open, fetchData), BenchError, "not installed");
  assertEquals(fetches, 1);
  // Other errors are never answered with a download.
  const corrupt = () => Promise.reject(new BenchError("data_corrupt", "bad file"));
  await assertRejects(() => openOrFetch("cifar10", corrupt, fetchData), BenchError, "bad file");
  assertEquals(fetches, 1);
});

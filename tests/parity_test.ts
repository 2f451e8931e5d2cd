import * as tf from "@tensorflow/tfjs";
import {
  assert,
  assertEquals,
  assertStringIncludes,
  assertThrows,
} from "../src/testing/asserts.ts";
import { initBackend } from "../src/backend/mod.ts";
import { BenchError } from "../src/util/errors.ts";
import {
  compareProbes,
  DEFAULT_PARITY_TOLERANCES,
  type ParityProbe,
  probeBackend,
} from "../src/parity/mod.ts";
import type { ParityReport } from "../src/cli/parity.ts";
import { nativeAvailable } from "./helpers/native_compare.ts";
import { runCli } from "./helpers/run_cli.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const GOLDEN = new URL("../../shared/golden/amdim-loss-cases.json", import.meta.url).pathname;
const MICRO = { inputSize: 32 as const, ndf: 8, nRkhs: 32, nDepth: 1, useBn: false };
/** The CLI flags of a check of MICRO with batch 2 and one trainer step. */
const MICRO_FLAGS = [
  "--ndf",
  "8",
  "--n-rkhs",
  "32",
  "--n-depth",
  "1",
  "--batch",
  "2",
  "--steps",
  "1",
];

async function hasAdapter(): Promise<boolean> {
  const gpu = (navigator as { gpu?: GPU }).gpu;
  return gpu ? (await gpu.requestAdapter()) !== null : false;
}

const parityCli = (args: string[]) => runCli("parity", args);

/** A probe with known values: every tensor of every quantity, and two loss steps. */
function fakeProbe(): ParityProbe {
  const t = (n: number, scale: number) =>
    Float32Array.from({ length: n }, (_, i) => scale * Math.sin(i + 1));
  const losses = [0, 1].map((s) => ({ loss_total: 10 - s, loss_cls_linear: 2.3 }));
  return {
    features: { r1: t(64, 3), r5: t(100, 1) },
    grads: { a: t(50, 1), b: t(20, 0.01), c: t(8, 1e-7) },
    losses: losses as unknown as ParityProbe["losses"],
    deltas: { "encoder/a": t(50, 2e-4), "heads/w": t(30, 2e-4) },
    trained: { r1: t(64, 3) },
  };
}

function clone(p: ParityProbe): ParityProbe {
  const copy = (r: Record<string, Float32Array>) =>
    Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v.slice()]));
  return {
    features: copy(p.features),
    grads: copy(p.grads),
    losses: p.losses.map((l) => ({ ...l })),
    deltas: copy(p.deltas),
    trained: copy(p.trained),
  };
}

Deno.test("parity compare: identical probes deviate by 0 and pass", () => {
  const rows = compareProbes(fakeProbe(), fakeProbe());
  assertEquals(rows.map((r) => r.quantity), ["features", "grads", "losses", "deltas", "trained"]);
  for (const r of rows) {
    assertEquals(r.deviation, 0, r.quantity);
    assert(r.pass);
  }
});

Deno.test("parity compare: a deviation in any quantity fails that quantity and names it", () => {
  const ref = fakeProbe();
  const cases: [string, (p: ParityProbe) => void, string][] = [
    ["features", (p) => p.features.r5[7] += 1e-3, "r5"],
    // b's scale is 0.01: 1e-6 is 1e-4 of it, under the limit; 1e-4 is 1e-2 of it, over
    ["grads", (p) => p.grads.b[3] += 1e-4, "b"],
    [
      "losses",
      (p) => (p.losses[1] as Record<string, number>).loss_total += 0.01,
      "step 2 loss_total",
    ],
    ["deltas", (p) => p.deltas["heads/w"].fill(0), "heads/w"],
    ["trained", (p) => p.trained.r1[0] = NaN, "r1"],
    ["grads", (p) => p.grads.a[0] = NaN, "a"],
  ];
  for (const [quantity, perturb, worst] of cases) {
    const got = clone(ref);
    perturb(got);
    const rows = compareProbes(got, ref);
    const row = rows.find((r) => r.quantity === quantity)!;
    assert(!row.pass, `${quantity} must fail: ${JSON.stringify(row)}`);
    assertEquals(row.worst, worst);
    for (const other of rows.filter((r) => r.quantity !== quantity)) assert(other.pass, quantity);
  }
  const small = clone(ref);
  small.grads.b[3] += 1e-6;
  assert(
    compareProbes(small, ref).every((r) => r.pass),
    "1e-4 of the tensor's scale is within 1e-3",
  );
});

Deno.test("parity compare: a tensor that is zero up to rounding is measured on the quantity's scale", () => {
  const ref = fakeProbe();
  const got = clone(ref);
  // c is 1e-7 of a's scale (like the gradient of a bias in front of a BatchNorm): doubling it is
  // rounding noise on the scale of the quantity, not a 100% deviation
  for (let i = 0; i < got.grads.c.length; i++) got.grads.c[i] *= 2;
  const row = compareProbes(got, ref).find((r) => r.quantity === "grads")!;
  assert(row.pass && row.deviation < 1e-6, JSON.stringify(row));
  got.grads.c[0] = 0.01; // a real error in that tensor is still caught
  assert(!compareProbes(got, ref).find((r) => r.quantity === "grads")!.pass);
});

Deno.test("parity compare: probes of different shapes are an error naming the tensor", () => {
  const ref = fakeProbe();
  const missing = clone(ref);
  delete missing.grads.b;
  const e = assertThrows(() => compareProbes(missing, ref), BenchError);
  assertStringIncludes(e.message, "grads b: missing");
  const short = clone(ref);
  short.losses.pop();
  assertThrows(() => compareProbes(short, ref), BenchError, "1 trainer steps");
});

Deno.test(
  "parity probe: the same backend twice is bit-identical, and leaves no tensors",
  opts,
  async () => {
    await initBackend("cpu");
    const before = tf.memory().numTensors;
    const o = { batch: 2, steps: 2, seed: 3, classes: 4 };
    const a = await probeBackend(MICRO, o);
    const b = await probeBackend(MICRO, o);
    assertEquals(tf.memory().numTensors, before);
    for (const r of compareProbes(a, b)) assertEquals(r.deviation, 0, r.quantity);
    assertEquals(a.losses.length, 2);
    assert(
      Object.keys(a.grads).length > 10 && Object.keys(a.deltas).some((k) => k.startsWith("heads/")),
    );
    const other = await probeBackend(MICRO, { ...o, seed: 4 });
    assert(compareProbes(other, a).some((r) => !r.pass), "another seed must not pass as parity");
  },
);

Deno.test(
  "parity CLI: cpu against wasm, native and webgpu (those that start here) passes, with the golden cases",
  opts,
  async () => {
    const backends = [
      "cpu",
      "wasm",
      ...(await nativeAvailable()) ? ["native"] : [],
      ...(await hasAdapter()) ? ["webgpu"] : [],
    ];
    const out = await Deno.makeTempFile({ suffix: ".json" });
    try {
      const r = await parityCli([
        "--backends",
        backends.join(","),
        ...MICRO_FLAGS,
        "--golden",
        GOLDEN,
        "--out",
        out,
        "--json",
      ]);
      assertEquals(r.code, 0, r.stdout + r.stderr);
      const report = JSON.parse(r.stdout.trim().split("\n").at(-1)!) as ParityReport;
      assertEquals(JSON.parse(await Deno.readTextFile(out)), report);
      assertEquals(report.backends.map((b) => b.backend), backends);
      assert(report.pass);
      assertEquals(report.tolerances, { ...DEFAULT_PARITY_TOLERANCES });
      assertEquals(report.backends[0].rows, undefined);
      for (const b of report.backends.slice(1)) {
        assertEquals(b.rows!.length, 5);
        assert(
          b.rows!.every((row) => row.pass && row.deviation < row.limit / 2),
          JSON.stringify(b.rows),
        );
      }
      for (const b of report.backends) assertEquals([b.golden!.passed, b.golden!.cases], [4, 4]);
    } finally {
      await Deno.remove(out);
    }
  },
);

Deno.test(
  "parity CLI: a tolerance of 0 fails with exit 1; bad flags exit 2 naming the flag",
  opts,
  async () => {
    const strict = await parityCli(["--backends", "cpu,wasm", ...MICRO_FLAGS, "--tol", "grads=0"]);
    assertEquals(strict.code, 1, strict.stdout + strict.stderr);
    assertStringIncludes(strict.stdout, "FAIL");
    const one = await parityCli(["--backends", "cpu", ...MICRO_FLAGS]);
    assertEquals(one.code, 2);
    assertStringIncludes(one.stderr, "--backends");
    const badTol = await parityCli(["--backends", "cpu,wasm", "--tol", "speed=1"]);
    assertEquals(badTol.code, 2);
    assertStringIncludes(badTol.stderr, "--tol");
    const same = await parityCli(["--backends", "cpu,cpu", ...MICRO_FLAGS]);
    assertEquals(same.code, 2);
    assertStringIncludes(same.stderr, "already compared");
  },
);

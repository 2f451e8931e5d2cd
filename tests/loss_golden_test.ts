import * as tf from "@tensorflow/tfjs";
import { assert, assertEquals, assertStringIncludes } from "../src/testing/asserts.ts";
import {
  amdimNceLoss,
  checkLossCase,
  drawLoc5,
  evaluateLossCase,
  NCE_COMPONENTS,
  nceDirection,
  parseLossCases,
} from "../src/loss/mod.ts";
import { useBackend } from "../src/cli/use_backend.ts";
import { Rng } from "../src/util/rng.ts";
import { runCli } from "./helpers/run_cli.ts";

const GOLDEN = new URL("../../shared/golden/amdim-loss-cases.json", import.meta.url).pathname;
const goldenText = await Deno.readTextFile(GOLDEN);
const golden = parseLossCases(goldenText, GOLDEN);

for (const backend of ["cpu", "wasm"]) {
  Deno.test(`loss golden: every case, component and gradient on ${backend}`, async () => {
    await useBackend(backend);
    assertEquals(tf.getBackend(), backend);
    assertEquals(golden.cases.length, 4);
    const before = tf.memory().numTensors;
    let grads = 0;
    for (const c of golden.cases) {
      const r = await checkLossCase(c, golden.tol);
      assert(
        r.pass,
        `${backend} ${c.name}: ${r.failed} values outside; worst ${
          JSON.stringify(r.worstComponent)
        } ${JSON.stringify(r.worstGrad)}`,
      );
      if (c.gradTotal) grads++;
      // direct re-check of the rule, independent of the report bookkeeping
      const got = (await evaluateLossCase(c, false)).components;
      for (const k of NCE_COMPONENTS) {
        const e = c.expected[k];
        assert(Math.abs(got[k] - e) <= golden.tol * Math.max(1, Math.abs(e)), `${c.name} ${k}`);
      }
    }
    assertEquals(grads, 2);
    assertEquals(tf.memory().numTensors, before);
  });
}

Deno.test("loss golden: a wrong location or swapped view is detected", async () => {
  await useBackend("cpu");
  const c = golden.cases[0];
  const shifted = {
    ...c,
    inputs: { ...c.inputs, loc5_x1: c.inputs.loc5_x1.map((l) => (l + 1) % 25) },
  };
  const r = await checkLossCase(shifted, golden.tol);
  assert(!r.pass, "changing the 5x5 source locations must change loss_5t5_a");
  const swapped = {
    ...c,
    inputs: { ...c.inputs, loc5_x1: c.inputs.loc5_x2, loc5_x2: c.inputs.loc5_x1 },
  };
  assert(!(await checkLossCase(swapped, golden.tol)).pass);
});

Deno.test("loss: other locations of the same image are not negatives (B = 2 by hand)", async () => {
  await useBackend("cpu");
  // D = 1, L = 2, tclip huge (no clip), reg weight 0: every score is a product of scalars.
  const s = [0.3, -0.7]; // r1 of view 1
  const t = [[0.5, -1.2], [0.9, 0.4]]; // r7-like targets of view 2: image j, location l
  const tclip = 1e6;
  const nce = (i: number) => {
    const neg = t.flatMap((row, j) => j === i ? [] : row.map((v) => s[i] * v));
    let sum = 0;
    for (let l = 0; l < 2; l++) {
      const pos = s[i] * t[i][l];
      const den = Math.exp(pos) + neg.reduce((a, v) => a + Math.exp(v), 0);
      sum += -(pos - Math.log(den));
    }
    return sum / 2;
  };
  const expected = (nce(0) + nce(1)) / 2;
  const res = nceDirection(tf.tensor2d(s, [2, 1]), tf.tensor3d(t.flat(), [2, 2, 1]), tclip, 0);
  // raw is scaled by 1/sqrt(D) = 1 here
  const got = res.loss.dataSync()[0];
  assert(Math.abs(got - expected) < 1e-6, `${got} vs ${expected}`);
  tf.dispose([res.loss, res.reg]);
});

Deno.test("loss: drawLoc5 is keyed, in range and roughly uniform", () => {
  const a = drawLoc5(new Rng(1, "nce-loc", 3), 5000);
  assertEquals(a, drawLoc5(new Rng(1, "nce-loc", 3), 5000));
  const counts = new Array(25).fill(0);
  for (const l of a) counts[l]++;
  for (const c of counts) assert(Math.abs(c / 5000 - 0.04) < 0.015);
  assert(a.some((x, i) => x !== drawLoc5(new Rng(1, "nce-loc", 4), 5000)[i]));
});

Deno.test("loss: amdimNceLoss returns every component and rejects bad locations", async () => {
  await useBackend("cpu");
  const b = 3, d = 4;
  const rng = new Rng(5, "test");
  const rand = (shape: number[]) =>
    tf.tensor(rng.fillUniform(new Float32Array(shape.reduce((x, y) => x * y)), -1, 1), shape);
  const v1 = { r1: rand([b, d]), r5: rand([b, 5, 5, d]), r7: rand([b, 7, 7, d]) };
  const v2 = { r1: rand([b, d]), r5: rand([b, 5, 5, d]), r7: rand([b, 7, 7, d]) };
  const before = tf.memory().numTensors;
  const loc = drawLoc5(new Rng(1, "nce-loc", 0), b);
  // deno-lint-ignore no-explicit-any
  const parts = amdimNceLoss(v1 as any, v2 as any, { loc5V1: loc, loc5V2: loc });
  assertEquals(Object.keys(parts).sort(), [...NCE_COMPONENTS].sort());
  const n = Object.fromEntries(Object.entries(parts).map(([k, v]) => [k, v.dataSync()[0]]));
  assert(Math.abs(n.total - (n.loss_1t5 + n.loss_1t7 + n.loss_5t5 + n.lgt_reg)) < 1e-5);
  tf.dispose(parts);
  assertEquals(tf.memory().numTensors, before);
  let threw = "";
  try {
    // deno-lint-ignore no-explicit-any
    amdimNceLoss(v1 as any, v2 as any, { loc5V1: new Int32Array([0, 25, 1]), loc5V2: loc });
  } catch (e) {
    threw = String(e);
  }
  assertStringIncludes(threw, "outside [0, 25)");
  tf.dispose([v1, v2]);
});

async function runVerify(args: string[]): Promise<{ code: number; out: string }> {
  const r = await runCli("verify_loss", args);
  return { code: r.code, out: r.stdout + r.stderr };
}

Deno.test("verify-loss: exit 0 on the golden file, 1 on a mismatch, 2 on a malformed file", async () => {
  const ok = await runVerify([GOLDEN, "--backend", "cpu"]);
  assertEquals(ok.code, 0, ok.out);
  assertStringIncludes(ok.out, "b6_d32_extreme");
  assertStringIncludes(ok.out, "all 4 cases pass");

  const dir = await Deno.makeTempDir();
  try {
    const root = JSON.parse(goldenText);
    root.cases = [root.cases[1]];
    root.cases[0].grad_total.r5_x2.data[7] += 1e-3;
    await Deno.writeTextFile(`${dir}/bad_grad.json`, JSON.stringify(root));
    const bad = await runVerify([`${dir}/bad_grad.json`]);
    assertEquals(bad.code, 1, bad.out);
    assertStringIncludes(bad.out, "grad.r5_x2[7]");
    assertStringIncludes(bad.out, "FAIL");

    delete root.cases[0].inputs.r7_x2;
    await Deno.writeTextFile(`${dir}/malformed.json`, JSON.stringify(root));
    const mal = await runVerify([`${dir}/malformed.json`]);
    assertEquals(mal.code, 2, mal.out);
    assertStringIncludes(mal.out, "malformed.json: cases[0].inputs.r7_x2");
    await Deno.writeTextFile(`${dir}/notjson.json`, "{");
    assertEquals((await runVerify([`${dir}/notjson.json`])).code, 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

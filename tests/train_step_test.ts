import * as tf from "@tensorflow/tfjs";
import { assert, assertEquals, assertNotEquals } from "../src/testing/asserts.ts";
import { createClassifiers, createEncoder, type EncoderConfig } from "../src/model/mod.ts";
import { composeSequentialUpdates, createTrainer, type TrainStepResult } from "../src/train/mod.ts";
import { AMDIM_SCHEDULE, type LrScheduleConfig } from "../src/train/schedule.ts";
import { useBackend } from "../src/cli/use_backend.ts";
import { Rng } from "../src/util/rng.ts";

const CFG: EncoderConfig = { inputSize: 32, ndf: 8, nRkhs: 32, nDepth: 3, useBn: false };
/** Smaller still for the cpu backend, whose stock Conv2DBackpropFilter kernel is very slow. */
const CPU_CFG: EncoderConfig = { inputSize: 32, ndf: 4, nRkhs: 16, nDepth: 3, useBn: false };
const FLAT: LrScheduleConfig = {
  lr: 2e-4,
  warmupSteps: 0,
  milestones: [],
  gamma: 1,
  unit: "epoch",
};

function images(seed: number, step: number, view: number, b: number): Float32Array {
  return new Rng(seed, "test-images", step, view).fillUniform(
    new Float32Array(b * 32 * 32 * 3),
    -2,
    2,
  );
}

interface Run {
  results: TrainStepResult[];
  /** name -> values after the run (params and BN state of encoder and heads). */
  weights: Map<string, Float32Array>;
  /** name -> values before the first step. */
  initial: Map<string, Float32Array>;
  tensorsPerStep: number[];
}

function snapshot(vars: { name: string; variable: tf.Variable }[]): Map<string, Float32Array> {
  return new Map(vars.map((v) => [v.name, (v.variable.dataSync() as Float32Array).slice()]));
}

async function run(
  seed: number,
  steps: number,
  b: number,
  schedule: LrScheduleConfig,
  cfg: EncoderConfig = CFG,
): Promise<Run> {
  const encoder = createEncoder(cfg, seed);
  const heads = createClassifiers({ nIn: cfg.nRkhs, nClasses: 10, seed });
  const trainer = createTrainer({ encoder, heads, seed, schedule });
  const all = [
    ...encoder.params.map((p) => ({ ...p, name: `encoder/${p.name}` })),
    ...encoder.state.map((p) => ({ ...p, name: `encoder/${p.name}` })),
    ...heads.params.map((p) => ({ ...p, name: `heads/${p.name}` })),
    ...heads.state.map((p) => ({ ...p, name: `heads/${p.name}` })),
  ];
  const initial = snapshot(all);
  const results: TrainStepResult[] = [];
  const tensorsPerStep: number[] = [];
  const labels = Int32Array.from({ length: b }, (_, i) => (i % 3 === 2 ? -1 : i % 10));
  for (let s = 0; s < steps; s++) {
    results.push(
      await trainer.trainStep({
        x1: { data: images(7, s, 1, b), shape: [b, 32, 32, 3] },
        x2: { data: images(7, s, 2, b), shape: [b, 32, 32, 3] },
        labels,
        epoch: 0,
      }),
    );
    tensorsPerStep.push(tf.memory().numTensors);
  }
  const weights = snapshot(all);
  trainer.dispose();
  encoder.dispose();
  heads.dispose();
  return { results, weights, initial, tensorsPerStep };
}

function sameBits(a: Map<string, Float32Array>, b: Map<string, Float32Array>): boolean {
  for (const [k, v] of a) {
    const w = b.get(k)!;
    const ua = new Uint32Array(v.buffer), ub = new Uint32Array(w.buffer);
    for (let i = 0; i < ua.length; i++) if (ua[i] !== ub[i]) return false;
  }
  return true;
}

for (const [backend, b, cfg] of [["wasm", 4, CFG], ["cpu", 2, CPU_CFG]] as const) {
  Deno.test(`train step: same seed -> bit-identical weights, other seed differs, no leaks (${backend})`, async () => {
    await useBackend(backend);
    const before = tf.memory().numTensors;
    const r1 = await run(1, 3, b, AMDIM_SCHEDULE, cfg);
    const r2 = await run(1, 3, b, AMDIM_SCHEDULE, cfg);
    const r3 = await run(2, 1, b, AMDIM_SCHEDULE, cfg);
    assert(sameBits(r1.weights, r2.weights), "same seed must give bit-identical weights");
    assertEquals(r1.results, r2.results);
    assert(!sameBits(r1.weights, r3.weights), "another seed must give other weights");
    assertNotEquals(r1.results[0].losses.total, r3.results[0].losses.total);
    // training changed the weights
    assert(!sameBits(r1.weights, r1.initial));
    // steps 0..2 of the AMDIM warm-up
    assertEquals(r1.results.map((r) => r.step), [0, 1, 2]);
    assertEquals(r1.results.map((r) => r.lr), [1, 2, 3].map((t) => 2e-4 * t / 500));
    for (const r of r1.results) {
      for (const [k, v] of Object.entries(r.losses)) assert(Number.isFinite(v), `${k} = ${v}`);
      const l = r.losses;
      assert(Math.abs(l.total - (l.loss_1t5 + l.loss_1t7 + l.loss_5t5 + l.lgt_reg)) < 1e-4);
      assert(l.loss_cls_linear > 0 && l.loss_cls_mlp > 0);
    }
    // no tensor growth from step to step, none left after disposal
    assertEquals(new Set(r1.tensorsPerStep).size, 1, `tensors per step ${r1.tensorsPerStep}`);
    assertEquals(tf.memory().numTensors, before);
  });
}

Deno.test("train step: cpu and wasm agree on a forward pass and one update", async () => {
  const b = 4;
  const out: Record<string, { fwd: Float32Array[]; run: Run }> = {};
  for (const backend of ["cpu", "wasm"]) {
    await useBackend(backend);
    const enc = createEncoder(CFG, 3);
    const x = tf.tensor4d(images(3, 0, 1, b), [b, 32, 32, 3]);
    const o = enc.apply(x, { training: false }).outputs;
    const fwd = [o.r1, o.r5, o.r7].map((t) => t.dataSync() as Float32Array);
    tf.dispose([x, o.r1, o.r5, o.r7]);
    enc.dispose();
    out[backend] = { fwd, run: await run(3, 1, b, FLAT) };
  }
  const { cpu, wasm } = out;
  cpu.fwd.forEach((a, i) => {
    const scale = a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    a.forEach((v, j) =>
      assert(Math.abs(v - wasm.fwd[i][j]) <= 1e-4 * scale, `r${[1, 5, 7][i]}[${j}]`)
    );
  });
  for (const [k, v] of Object.entries(cpu.run.results[0].losses)) {
    const w = wasm.run.results[0].losses[k as keyof typeof cpu.run.results[0]["losses"]];
    assert(Math.abs(v - w) <= 1e-4 * Math.max(1, Math.abs(v)), `${k}: cpu ${v} wasm ${w}`);
  }
  // Updated weights. Adam's first update is ~lr * sign(g), so where the exact gradient is 0 (e.g.
  // the bias of a conv right before a BatchNorm) float noise picks the sign and the two backends
  // may step in opposite directions (a difference of at most 2 lr). So: every update within
  // 2 lr, and at least 99.5% of all parameter elements within 1e-4 of a step (relative to lr).
  const lr = FLAT.lr;
  let total = 0, close = 0;
  for (const [name, w1c] of cpu.run.weights) {
    const w1w = wasm.run.weights.get(name)!;
    const w0 = cpu.run.initial.get(name)!;
    assertEquals(w0, wasm.run.initial.get(name), `${name}: same initial values`);
    const isState = name.includes("running_");
    for (let i = 0; i < w1c.length; i++) {
      const d = Math.abs(w1c[i] - w1w[i]);
      if (isState) {
        assert(
          d <= 1e-4 * Math.max(1e-2, Math.abs(w1c[i])),
          `${name}[${i}] ${w1c[i]} vs ${w1w[i]}`,
        );
        continue;
      }
      assert(d <= 2 * lr * 1.001, `${name}[${i}] differs by ${d}`);
      total++;
      if (d <= 1e-4 * lr) close++;
    }
  }
  assert(close / total >= 0.995, `only ${close} of ${total} parameter updates agree`);
});

Deno.test("composeSequentialUpdates equals two sequential BatchNorm updates", async () => {
  await useBackend("cpu");
  const v = tf.variable(tf.tensor1d([1, 2]));
  const m = 0.1;
  const b1 = [3, 5], b2 = [-1, 7];
  const u = (bb: number[]) => ({
    name: "bn.running_mean",
    variable: v,
    value: tf.tensor1d([0, 1].map((i) => (1 - m) * [1, 2][i] + m * bb[i])),
  });
  const [c] = composeSequentialUpdates([u(b1)], [u(b2)], m);
  const expected = [0, 1].map((i) => (1 - m) * ((1 - m) * [1, 2][i] + m * b1[i]) + m * b2[i]);
  const got = c.value.dataSync();
  expected.forEach((e, i) => assert(Math.abs(got[i] - e) < 1e-6));
  c.value.dispose();
  v.dispose();
});

Deno.test("wasm convolution gradient kernels match cpu", async () => {
  const cases: [number[], number[], number, "valid" | "same"][] = [
    [[2, 9, 9, 3], [3, 3, 3, 4], 1, "valid"],
    [[2, 10, 10, 4], [4, 4, 4, 5], 2, "valid"],
    [[2, 6, 6, 5], [1, 1, 5, 6], 1, "valid"],
    [[1, 12, 12, 3], [5, 5, 3, 2], 2, "same"],
    [[2, 7, 7, 4], [2, 2, 4, 3], 2, "valid"],
  ];
  const res: Record<string, Float32Array[][]> = {};
  for (const backend of ["cpu", "wasm"]) {
    await useBackend(backend);
    const before = tf.memory().numTensors;
    res[backend] = cases.map(([xs, ws, s, pad], i) => {
      const rnd = (shape: number[], k: number) =>
        tf.tensor(
          new Rng(1, "k", k).fillUniform(new Float32Array(shape.reduce((a, b) => a * b)), -1, 1),
          shape,
        );
      const x = rnd(xs, i), w = rnd(ws, 100 + i);
      const f = (a: tf.Tensor, b: tf.Tensor) =>
        tf.sum(tf.square(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, s, pad)));
      const g = tf.grads(f)([x, w]);
      const out = g.map((t) => t.dataSync() as Float32Array);
      tf.dispose([x, w, ...g]);
      return out;
    });
    assertEquals(tf.memory().numTensors, before);
  }
  res.cpu.forEach((pair, i) =>
    pair.forEach((c, k) => {
      const scale = c.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      c.forEach((v, j) =>
        assert(
          Math.abs(v - res.wasm[i][k][j]) <= 1e-5 * scale,
          `case ${i} ${k ? "dW" : "dx"}[${j}]`,
        )
      );
    })
  );
});

import * as tf from "@tensorflow/tfjs";
import {
  applyStateUpdates,
  BN_EPS,
  createEncoder,
  discardStateUpdates,
  type EncoderConfig,
  exportNamedTensors,
  loadNamedTensors,
  namedTensors,
} from "../src/model/mod.ts";
import { BenchError } from "../src/util/errors.ts";
import { Rng } from "../src/util/rng.ts";
import { assert, assertEquals, assertNotEquals, assertThrows } from "../src/testing/asserts.ts";
import { channelStats, hostShortcut, maxAbsDiff, randomImages } from "./helpers/model_fixtures.ts";

await tf.setBackend("cpu");

const C32: EncoderConfig = { inputSize: 32, ndf: 8, nRkhs: 32, nDepth: 2, useBn: false };
const C64: EncoderConfig = { inputSize: 64, ndf: 4, nRkhs: 32, nDepth: 2, useBn: false };
const C128: EncoderConfig = { inputSize: 128, ndf: 4, nRkhs: 32, nDepth: 1, useBn: false };

Deno.test("model encoder: output shapes for 32, 64 and 128 px, train and eval", () => {
  for (const cfg of [C32, C64, C128]) {
    const enc = createEncoder(cfg, 1);
    const x = randomImages(1, 2, cfg.inputSize);
    for (const training of [true, false]) {
      const { outputs, stateUpdates } = enc.apply(x, { training });
      assertEquals(outputs.r1.shape, [2, 32], `${cfg.inputSize} r1`);
      assertEquals(outputs.r5.shape, [2, 5, 5, 32], `${cfg.inputSize} r5`);
      assertEquals(outputs.r7.shape, [2, 7, 7, 32], `${cfg.inputSize} r7`);
      for (const t of Object.values(outputs)) assert(Number.isFinite(t.sum().dataSync()[0]));
      // Active BNs with useBn off: final.bn, head5.bn_out, head7.bn_out -> 6 updates in training.
      assertEquals(stateUpdates.length, training ? 6 : 0);
      tf.dispose(Object.values(outputs));
      discardStateUpdates(stateUpdates);
    }
    // Variables match the plan's parameter count exactly.
    const total = enc.params.reduce((a, p) => a + p.variable.size, 0);
    assertEquals(total, enc.plan.params);
    assertEquals(enc.state.reduce((a, p) => a + p.variable.size, 0), enc.plan.stateValues);
    x.dispose();
    enc.dispose();
  }
});

Deno.test("model encoder: zero-init makes every residual unit equal to its shortcut", async () => {
  for (const cfg of [C32, C64, C128]) {
    const enc = createEncoder(cfg, 3);
    const x = randomImages(2, 2, cfg.inputSize);
    const { outputs, stateUpdates, activations } = enc.apply(x, {
      training: false,
      activations: true,
    });
    let input: tf.Tensor4D = x;
    let units = 0;
    for (const m of enc.plan.trunk) {
      const out = activations![m.name];
      if (m.kind === "res_unit") {
        const ref = hostShortcut(
          await input.data() as Float32Array,
          input.shape,
          m.kernel,
          m.stride,
          m.outChannels,
        );
        assertEquals(out.shape, ref.shape, m.name);
        assert(
          maxAbsDiff(await out.data(), ref.data) < 1e-5,
          `${m.name} equals avg-pool + zero-pad`,
        );
        units++;
      }
      input = out;
    }
    assertEquals(units, enc.plan.trunk.filter((m) => m.kind === "res_unit").length);
    // With a non-zero conv_b the unit no longer equals its shortcut (the check can fail).
    const wb = enc.variable("block1.unit0.conv_b.weight");
    wb.assign(tf.fill(wb.shape, 0.05));
    const again = enc.apply(x, { training: false, activations: true });
    const m = enc.plan.trunk.find((t) => t.name === "block1.unit0")!;
    const prev = enc.plan.trunk[enc.plan.trunk.indexOf(m) - 1].name;
    const src = again.activations![prev];
    const ref = hostShortcut(
      await src.data() as Float32Array,
      src.shape,
      m.kernel,
      m.stride,
      m.outChannels,
    );
    assert(maxAbsDiff(await again.activations![m.name].data(), ref.data) > 1e-3);
    tf.dispose([x, ...Object.values(outputs), ...Object.values(activations!)]);
    tf.dispose([...Object.values(again.outputs), ...Object.values(again.activations!)]);
    discardStateUpdates([...stateUpdates, ...again.stateUpdates]);
    enc.dispose();
  }
});

Deno.test("model encoder: init rules, names and seeding", async () => {
  const cfg: EncoderConfig = { inputSize: 32, ndf: 8, nRkhs: 40, nDepth: 2, useBn: true };
  const a = createEncoder(cfg, 7);
  const b = createEncoder(cfg, 7);
  const c = createEncoder(cfg, 8);
  const names = namedTensors(a).map((t) => t.name);
  assertEquals(new Set(names).size, names.length);
  assert(names.includes("stem.conv.weight") && names.includes("stem.conv.bias"));
  assert(names.includes("block2.unit0.conv_a.weight") && names.includes("head5.shortcut.bias"));
  assert(names.includes("maybe_bn.running_var") && names.includes("block1.unit1.bn.weight"));
  assertEquals(a.variable("block1.unit0.conv_a.weight").shape, [4, 4, 8, 16]);
  assertEquals(a.variable("head7.shortcut.weight").shape, [1, 1, 32, 40]);
  assertThrows(() => a.variable("nope.weight"), BenchError);

  const snapA = await exportNamedTensors(a);
  const snapB = await exportNamedTensors(b);
  const snapC = await exportNamedTensors(c);
  for (let i = 0; i < snapA.length; i++) {
    const t = snapA[i];
    assertEquals(Array.from(t.data), Array.from(snapB[i].data), `${t.name} same seed`);
    const layerName = t.name.slice(0, t.name.lastIndexOf("."));
    const layer = a.plan.layers.find((l) => l.name === layerName)!;
    const random = layer.kind === "conv" && layer.init !== "zero";
    if (random) {
      assertNotEquals(Array.from(t.data), Array.from(snapC[i].data), `${t.name} other seed`);
    } else assertEquals(Array.from(t.data), Array.from(snapC[i].data), `${t.name} deterministic`);

    if (layer.kind === "conv") {
      const fanIn = layer.kernel * layer.kernel * layer.inChannels;
      const bound = 1 / Math.sqrt(fanIn);
      const d = t.data;
      if (layer.init === "zero") {
        assert(d.every((v) => v === 0), `${t.name} zero`);
      } else if (layer.init === "near-identity" && t.name.endsWith(".weight")) {
        const [cin, cout] = [layer.inChannels, layer.outChannels];
        for (let i2 = 0; i2 < cin; i2++) {
          for (let o = 0; o < cout; o++) {
            const v = d[i2 * cout + o];
            if (i2 === o) assertEquals(v, 1, `${t.name} diag`);
            else assert(Math.abs(v) <= 0.01, `${t.name} off-diag ${v}`);
          }
        }
      } else {
        const max = d.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
        assert(max <= bound, `${t.name} within ±1/sqrt(fan_in)`);
        if (d.length >= 64) assert(max > 0.9 * bound, `${t.name} spans the range`);
      }
    } else if (t.name.endsWith(".weight") || t.name.endsWith(".running_var")) {
      assert(t.data.every((v) => v === 1), `${t.name} ones`);
    } else {
      assert(t.data.every((v) => v === 0), `${t.name} zeros`);
    }
  }
  // The stream of a parameter is (seed, "init", name), independent of other layers.
  const w = snapA.find((t) => t.name === "stem.conv.weight")!;
  const rng = new Rng(7, "init", "stem.conv.weight");
  const bound = 1 / Math.sqrt(27);
  assertEquals(
    Array.from(w.data.slice(0, 5)),
    Array.from(Float32Array.from({ length: 5 }, () => rng.uniform(-bound, bound))),
  );
  // Same name in a different-width model draws the same leading values.
  const wide = createEncoder({ ...cfg, ndf: 16, nRkhs: 64 }, 7);
  const w2 = await wide.variable("stem.conv.weight").data();
  assertEquals(Array.from(w2.slice(0, 5)), Array.from(w.data.slice(0, 5)));
  wide.dispose();

  // Round-trip through export/load.
  loadNamedTensors(c, snapA);
  const x = randomImages(4, 2, 32);
  const ra = a.apply(x, { training: false }).outputs;
  const rc = c.apply(x, { training: false }).outputs;
  assertEquals(Array.from(await rc.r5.data()), Array.from(await ra.r5.data()));
  const e = assertThrows(() => loadNamedTensors(c, snapA.slice(1)), BenchError);
  assertEquals(e.code, "checkpoint_mismatch");
  tf.dispose([x, ...Object.values(ra), ...Object.values(rc)]);
  for (const m of [a, b, c]) m.dispose();
});

Deno.test("model encoder: BatchNorm in training vs eval mode (PyTorch semantics)", async () => {
  const enc = createEncoder(C32, 5);
  const B = 6;
  // Per-image offsets and scales, so the pooled r1 pre-activations vary across the batch.
  const x = tf.tidy(() =>
    tf.add(
      tf.mul(randomImages(6, B, 32), tf.tensor4d([0.5, 1, 2, 3, 1.5, 0.7], [B, 1, 1, 1])),
      tf.tensor4d([-1, 0.5, 0, 1, -0.3, 0.2], [B, 1, 1, 1]),
    )
  ) as tf.Tensor4D;
  const runningMean = enc.variable("final.bn.running_mean");
  const runningVar = enc.variable("final.bn.running_var");
  const beforeVar = Array.from(await runningVar.data());

  const train = enc.apply(x, { training: true, activations: true });
  const pre = await train.activations!["final.unit0"].data() as Float32Array; // [B,1,1,R]
  const R = C32.nRkhs;
  const st = channelStats(pre, R);
  // Training: batch statistics with the biased variance (weight 1, bias 0 at init).
  const expect = Float32Array.from(
    pre,
    (v, i) => (v - st.mean[i % R]) / Math.sqrt(st.biased[i % R] + BN_EPS),
  );
  assert(maxAbsDiff(await train.outputs.r1.data(), expect) < 1e-4, "train r1");
  // The forward does not assign: the running stats are unchanged until the updates are applied.
  assertEquals(Array.from(await runningVar.data()), beforeVar);
  const upd = new Map(train.stateUpdates.map((u) => [u.name, u]));
  assertEquals([...upd.keys()].sort(), [
    "final.bn.running_mean",
    "final.bn.running_var",
    "head5.bn_out.running_mean",
    "head5.bn_out.running_var",
    "head7.bn_out.running_mean",
    "head7.bn_out.running_var",
  ]);
  const newMean = await upd.get("final.bn.running_mean")!.value.data();
  const newVar = await upd.get("final.bn.running_var")!.value.data();
  assert(maxAbsDiff(newMean, st.mean.map((m) => 0.1 * m)) < 1e-5, "running mean, momentum 0.1");
  const errUnbiased = maxAbsDiff(newVar, st.unbiased.map((v) => 0.9 + 0.1 * v));
  const errBiased = maxAbsDiff(newVar, st.biased.map((v) => 0.9 + 0.1 * v));
  assert(
    errUnbiased < 1e-5 && errUnbiased < errBiased / 20,
    `unbiased ${errUnbiased} vs biased ${errBiased}`,
  );

  // Eval at init: running mean 0, var 1.
  const ev0 = enc.apply(x, { training: false });
  assertEquals(ev0.stateUpdates.length, 0);
  assert(
    maxAbsDiff(
      await ev0.outputs.r1.data(),
      Float32Array.from(pre, (v) => v / Math.sqrt(1 + BN_EPS)),
    ) < 1e-5,
  );

  // After applying the updates, eval uses them.
  applyStateUpdates(train.stateUpdates);
  const ev1 = enc.apply(x, { training: false });
  const rm = await runningMean.data();
  const rv = await runningVar.data();
  const expectEval = Float32Array.from(
    pre,
    (v, i) => (v - rm[i % R]) / Math.sqrt(rv[i % R] + BN_EPS),
  );
  assert(maxAbsDiff(await ev1.outputs.r1.data(), expectEval) < 1e-4, "eval r1 uses running stats");

  // A training batch of one image has a single value per channel at r1: an error, as in PyTorch.
  const x1 = randomImages(7, 1, 32);
  const err = assertThrows(() => enc.apply(x1, { training: true }), BenchError);
  assertEquals(err.code, "batch_too_small");
  const bad = tf.zeros([2, 28, 28, 3]) as tf.Tensor4D;
  assertEquals(
    assertThrows(() => enc.apply(bad, { training: false }), BenchError).code,
    "encoder_input_invalid",
  );

  tf.dispose([x, x1, bad, ...Object.values(train.outputs), ...Object.values(train.activations!)]);
  tf.dispose([...Object.values(ev0.outputs), ...Object.values(ev1.outputs)]);
  enc.dispose();
});

Deno.test("model encoder: useBn activates the trunk and hidden BatchNorms", () => {
  const cfg: EncoderConfig = { ...C32, useBn: true };
  const enc = createEncoder(cfg, 1);
  const x = randomImages(8, 3, 32);
  const { outputs, stateUpdates } = enc.apply(x, { training: true });
  const units = enc.plan.trunk.filter((m) => m.kind === "res_unit").length;
  // unit BNs + maybe_bn + final.bn + 2 × (bn_hid + bn_out), two updates each.
  assertEquals(stateUpdates.length, 2 * (units + 1 + 1 + 4));
  assertEquals(outputs.r7.shape, [3, 7, 7, 32]);
  tf.dispose([x, ...Object.values(outputs)]);
  discardStateUpdates(stateUpdates);
  enc.dispose();
});

Deno.test("model encoder: no tensor leaks across repeated apply and gradient calls", () => {
  const enc = createEncoder(C32, 2);
  const x = randomImages(9, 2, 32);
  const before = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) {
    for (const training of [true, false]) {
      const { outputs, stateUpdates, activations } = enc.apply(x, {
        training,
        activations: i === 1,
      });
      tf.dispose(Object.values(outputs));
      if (activations) tf.dispose(Object.values(activations));
      discardStateUpdates(stateUpdates);
    }
    // Inside variableGrads the state updates survive the tape's scope (kept), and are applied after.
    let updates: ReturnType<typeof enc.apply>["stateUpdates"] = [];
    const { value, grads } = tf.variableGrads(() => {
      const r = enc.apply(x, { training: true });
      updates = r.stateUpdates;
      return tf.add(
        tf.add(tf.mean(r.outputs.r1), tf.mean(r.outputs.r5)),
        tf.mean(r.outputs.r7),
      ) as tf.Scalar;
    }, enc.params.map((p) => p.variable));
    assertEquals(updates.length, 6);
    assert(updates.every((u) => !u.value.isDisposed), "updates survive variableGrads");
    applyStateUpdates(updates);
    value.dispose();
    tf.dispose(Object.values(grads));
  }
  assertEquals(tf.memory().numTensors, before);
  x.dispose();
  const n = tf.memory().numTensors;
  enc.dispose();
  assertEquals(tf.memory().numTensors, n - enc.params.length - enc.state.length);
});

Deno.test("dispose: a second dispose does nothing; apply afterwards is a clear error", () => {
  const enc = createEncoder({ inputSize: 32, ndf: 8, nRkhs: 32, nDepth: 1, useBn: false }, 1);
  const before = tf.memory().numTensors;
  enc.dispose();
  assert(tf.memory().numTensors < before);
  enc.dispose();
  const x = tf.zeros([2, 32, 32, 3]) as tf.Tensor4D;
  const e = assertThrows(() => enc.apply(x, { training: false }), BenchError);
  assertEquals(e.code, "encoder_disposed");
  x.dispose();
});

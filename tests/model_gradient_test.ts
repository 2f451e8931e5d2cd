import * as tf from "@tensorflow/tfjs";
import {
  createEncoder,
  discardStateUpdates,
  type Encoder,
  type EncoderConfig,
} from "../src/model/mod.ts";
import { Rng } from "../src/util/rng.ts";
import { assert, assertLess } from "../src/testing/asserts.ts";
import { randomImages, randomValues } from "./helpers/model_fixtures.ts";

await tf.setBackend("cpu");

/**
 * A scalar test objective on all three outputs: fixed random projections, accumulated on the
 * host in float64 for the finite differences (the tensor version is used for the analytic grads).
 */
function makeObjective(enc: Encoder, x: tf.Tensor4D, training: boolean) {
  const B = x.shape[0];
  const R = enc.config.nRkhs;
  const w1 = tf.tensor2d(randomValues(1, "w1", B * R), [B, R]);
  const w5 = tf.tensor4d(randomValues(1, "w5", B * 25 * R), [B, 5, 5, R]);
  const w7 = tf.tensor4d(randomValues(1, "w7", B * 49 * R), [B, 7, 7, R]);
  const tensorLoss = (): tf.Scalar => {
    const { outputs, stateUpdates } = enc.apply(x, { training });
    discardStateUpdates(stateUpdates);
    return tf.addN([
      tf.sum(tf.mul(outputs.r1, w1)),
      tf.sum(tf.mul(outputs.r5, w5)),
      tf.sum(tf.mul(outputs.r7, w7)),
    ]) as tf.Scalar;
  };
  const hw = [w1.dataSync(), w5.dataSync(), w7.dataSync()];
  const hostLoss = (): number => {
    const { outputs, stateUpdates } = enc.apply(x, { training });
    discardStateUpdates(stateUpdates);
    let s = 0;
    [outputs.r1, outputs.r5, outputs.r7].forEach((t, k) => {
      const d = t.dataSync();
      for (let i = 0; i < d.length; i++) s += d[i] * hw[k][i];
    });
    tf.dispose(Object.values(outputs));
    return s;
  };
  return { tensorLoss, hostLoss, dispose: () => tf.dispose([w1, w5, w7]) };
}

function checkGradients(
  cfg: EncoderConfig,
  training: boolean,
  paramNames: string[],
  perParam = 2,
  batch = 4,
) {
  const enc = createEncoder(cfg, 11);
  // Make the zero-initialised second convs non-zero, so every path carries gradient.
  for (const p of enc.params) {
    if (p.name.endsWith("conv_b.weight")) {
      const fanIn = p.variable.shape[2]!;
      p.variable.assign(
        tf.tensor(
          randomValues(2, p.name, p.variable.size, -1 / Math.sqrt(fanIn), 1 / Math.sqrt(fanIn)),
          p.variable.shape,
        ),
      );
    }
  }
  const x = variedImages(12, cfg.inputSize, batch);
  const obj = makeObjective(enc, x, training);
  const vars = paramNames.map((n) => enc.variable(n));
  const { value, grads } = tf.variableGrads(obj.tensorLoss, vars);
  const analytic = vars.map((v) => Array.from(grads[v.name].dataSync()));
  const rms = analytic.map((g) => Math.sqrt(g.reduce((acc, v) => acc + v * v, 0) / g.length));
  value.dispose();
  tf.dispose(Object.values(grads));

  const eps = 3e-4;
  const rng = new Rng(3, "gradcheck", cfg.inputSize, String(training));
  let num2 = 0;
  let diff2 = 0;
  let ana2 = 0;
  const worst: string[] = [];
  let count = 0;
  vars.forEach((v, k) => {
    const base = Float32Array.from(v.dataSync());
    for (let j = 0; j < perParam; j++) {
      const i = rng.int(0, base.length - 1);
      const set = (delta: number) => {
        const d = base.slice();
        d[i] = base[i] + delta;
        const t = tf.tensor(d, v.shape);
        v.assign(t);
        t.dispose();
      };
      set(+eps);
      const up = obj.hostLoss();
      set(-eps);
      const down = obj.hostLoss();
      set(0);
      const numeric = (up - down) / (2 * eps);
      const a = analytic[k][i];
      // Each tensor's coordinates are scaled by its gradient RMS, so that no single tensor (the
      // stem has the largest gradients) dominates the vector error.
      num2 += (numeric / rms[k]) ** 2;
      ana2 += (a / rms[k]) ** 2;
      diff2 += ((numeric - a) / rms[k]) ** 2;
      // Relative to the coordinate, or to the tensor's typical gradient when it is small.
      const rel = Math.abs(numeric - a) / Math.max(Math.abs(numeric), Math.abs(a), rms[k]);
      if (rel > 2e-2) worst.push(`${paramNames[k]}[${i}] analytic ${a} numeric ${numeric}`);
      count++;
    }
  });
  obj.dispose();
  x.dispose();
  enc.dispose();
  const relErr = Math.sqrt(diff2) / Math.sqrt(Math.max(num2, ana2));
  if (Deno.env.get("GRADCHECK_VERBOSE")) console.log({ relErr, over: worst.length, count, worst });
  assert(rms.every((r) => r > 0), "every sampled tensor has a non-zero gradient");
  assertLess(
    relErr,
    2e-2,
    `relative error of the sampled gradient vector; worst: ${worst.join("; ")}`,
  );
  // A ReLU kink inside ±eps may spoil an odd coordinate (mostly stem ones, which move every
  // unit), not many.
  assert(worst.length <= Math.ceil(0.15 * count), `coordinates over 2e-2: ${worst.join("; ")}`);
}

/**
 * Noise images with per-image offsets and scales, so that the BatchNorm batch statistics are
 * well conditioned (i.i.d. noise pools to near-constant features whose variance is close to eps).
 */
function variedImages(seed: number, size: number, b = 4): tf.Tensor4D {
  const scale = [0.5, 1, 2, 3].slice(0, b);
  const offset = [-1, 0.5, 0, 1].slice(0, b);
  return tf.tidy(() =>
    tf.add(
      tf.mul(randomImages(seed, b, size), tf.tensor4d(scale, [b, 1, 1, 1])),
      tf.tensor4d(offset, [b, 1, 1, 1]),
    )
  ) as tf.Tensor4D;
}

const PARAMS_32 = [
  "stem.conv.weight",
  "stem.conv.bias",
  "block0.unit0.conv_a.weight",
  "block1.unit0.conv_a.weight",
  "block1.unit0.conv_b.weight",
  "block2.unit1.conv_a.weight",
  "block3.unit0.conv_a.weight",
  "block4.unit0.conv_b.weight",
  "final.unit0.conv_a.weight",
  "final.bn.weight",
  "final.bn.bias",
  "head5.conv_a.weight",
  "head5.conv_b.weight",
  "head5.shortcut.weight",
  "head7.conv_a.weight",
  "head7.shortcut.weight",
  "head7.bn_out.weight",
  "head7.bn_out.bias",
];

Deno.test("model gradients: finite differences match (32 px, training-mode BN)", () => {
  checkGradients({ inputSize: 32, ndf: 4, nRkhs: 16, nDepth: 2, useBn: false }, true, PARAMS_32);
});

Deno.test("model gradients: finite differences match (32 px, useBn, eval mode)", () => {
  checkGradients(
    { inputSize: 32, ndf: 4, nRkhs: 16, nDepth: 2, useBn: true },
    false,
    [...PARAMS_32, "block1.unit0.bn.weight", "maybe_bn.weight", "head5.bn_hid.bias"],
  );
});

Deno.test("model gradients: finite differences match (128 px stem with reflect padding)", () => {
  checkGradients(
    { inputSize: 128, ndf: 4, nRkhs: 32, nDepth: 1, useBn: false },
    false,
    [
      "stem.conv0.weight",
      "stem.conv0.bias",
      "stem.conv1.weight",
      "block3.unit0.conv_a.weight",
    ],
    2,
    2,
  );
});

Deno.test("model gradients: a bias before a training-mode BatchNorm gets no gradient", () => {
  const enc = createEncoder({ inputSize: 32, ndf: 4, nRkhs: 16, nDepth: 1, useBn: false }, 1);
  const x = variedImages(13, 32);
  const obj = makeObjective(enc, x, true);
  const v = enc.variable("head5.shortcut.bias");
  const { value, grads } = tf.variableGrads(obj.tensorLoss, [
    v,
    enc.variable("head5.shortcut.weight"),
  ]);
  const g = Array.from(grads[v.name].dataSync());
  const gw = Array.from(grads[enc.variable("head5.shortcut.weight").name].dataSync());
  const max = g.reduce((m, a) => Math.max(m, Math.abs(a)), 0);
  const maxW = gw.reduce((m, a) => Math.max(m, Math.abs(a)), 0);
  assert(max < 1e-4 * maxW, `shortcut bias grad ${max} vs weight grad ${maxW}`);
  value.dispose();
  tf.dispose(Object.values(grads));
  obj.dispose();
  x.dispose();
  enc.dispose();
});

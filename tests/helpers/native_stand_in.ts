/**
 * A stand-in for the AMDIM 32-px encoder (reference §1.2: stem conv, ConvResNxN units with avg-pool
 * shortcuts and channel zero-padding, FakeRKHS 1x1 heads with BN, final BN on r1) and an NCE-like
 * loss, written with plain tfjs ops. It exercises the same kernels at the same shapes as the real
 * model, for backend parity, determinism and speed checks.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { Rng } from "../../src/util/rng.ts";

/** Encoder widths (same meaning as the project's EncoderConfig). */
export interface StandInConfig {
  ndf: number;
  nRkhs: number;
  nDepth: number;
}

/** The stand-in model: named variables and a forward pass. */
export interface StandInModel {
  /** Trainable variables, in creation order. */
  vars: tf.Variable[];
  /** The encoder forward pass. */
  forward(x: tf.Tensor4D): { r1: tf.Tensor2D; r5: tf.Tensor4D; r7: tf.Tensor4D };
}

function uniform(rng: Rng, shape: number[], bound: number): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = rng.uniform(-bound, bound);
  return tf.tensor(v, shape);
}

/** Deterministic random NHWC batch in [-1, 1). */
export function randomImages(seed: number, batch: number, size = 32, channels = 3): tf.Tensor4D {
  return uniform(new Rng(seed, "images"), [batch, size, size, channels], 1) as tf.Tensor4D;
}

/** Builds the stand-in with weights drawn from `new Rng(seed, "init", name)`. */
export function createStandIn(cfg: StandInConfig, seed: number): StandInModel {
  const vars: tf.Variable[] = [];
  const conv = (name: string, k: number, cin: number, cout: number, scale = 1) => {
    const w = tf.variable(
      uniform(new Rng(seed, "init", name), [k, k, cin, cout], scale / Math.sqrt(k * k * cin)),
      true,
      `${name}-${seed}-${Math.random().toString(36).slice(2)}`,
    );
    vars.push(w);
    return w as unknown as tf.Tensor4D;
  };
  const vec = (name: string, n: number, value: number) => {
    const v = tf.variable(
      tf.fill([n], value),
      true,
      `${name}-${Math.random().toString(36).slice(2)}`,
    );
    vars.push(v);
    return v;
  };
  const { ndf, nRkhs, nDepth } = cfg;
  type Unit = (x: tf.Tensor4D) => tf.Tensor4D;
  // Residual units start near (not exactly at) their shortcut so gradients reach every weight.
  const resUnit = (name: string, cin: number, cout: number, k: number, s: number): Unit => {
    const wa = conv(`${name}.a`, k, cin, cout), wb = conv(`${name}.b`, 1, cout, cout, 0.1);
    return (x) => {
      const h = tf.conv2d(tf.relu(tf.conv2d(x, wa, s, "valid")), wb, 1, "valid");
      let sc: tf.Tensor4D = k === 1 && s === 1 ? x : tf.avgPool(x, k, s, "valid");
      if (cout > cin) sc = tf.pad(sc, [[0, 0], [0, 0], [0, 0], [0, cout - cin]]);
      return tf.add(h, sc);
    };
  };
  const block = (name: string, cin: number, cout: number, k: number, s: number): Unit[] => {
    const units = [resUnit(`${name}.0`, cin, cout, k, s)];
    for (let i = 1; i < nDepth; i++) units.push(resUnit(`${name}.${i}`, cout, cout, 1, 1));
    return units;
  };
  const bn = (name: string, n: number) => {
    const g = vec(`${name}.gamma`, n, 1), b = vec(`${name}.beta`, n, 0);
    return (x: tf.Tensor4D) => {
      const { mean, variance } = tf.moments(x, [0, 1, 2]);
      return tf.add(
        tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, 1e-5))), g),
        b,
      ) as tf.Tensor4D;
    };
  };
  const rkhs = (name: string, cin: number) => {
    const wa = conv(`${name}.a`, 1, cin, nRkhs), wb = conv(`${name}.b`, 1, nRkhs, nRkhs, 0.1);
    const ws = conv(`${name}.s`, 1, cin, nRkhs), bs = vec(`${name}.sb`, nRkhs, 0);
    const norm = bn(`${name}.bn`, nRkhs);
    return (x: tf.Tensor4D) =>
      norm(tf.add(
        tf.conv2d(tf.relu(tf.conv2d(x, wa, 1, "valid")), wb, 1, "valid"),
        tf.add(tf.conv2d(x, ws, 1, "valid"), bs),
      ) as tf.Tensor4D);
  };
  const stemW = conv("stem.w", 3, 3, ndf), stemB = vec("stem.b", ndf, 0.01);
  const trunkA: Unit[] = [
    resUnit("l1", ndf, ndf, 1, 1),
    ...block("l2", ndf, 2 * ndf, 4, 2),
    ...block("l3", 2 * ndf, 4 * ndf, 2, 2),
  ];
  const trunk5 = block("l5", 4 * ndf, 4 * ndf, 3, 1);
  const trunkB: Unit[] = [
    ...block("l6", 4 * ndf, 4 * ndf, 3, 1),
    resUnit("l7", 4 * ndf, nRkhs, 3, 1),
  ];
  const finalBn = bn("r1.bn", nRkhs);
  const head5 = rkhs("r5", 4 * ndf), head7 = rkhs("r7", 4 * ndf);
  return {
    vars,
    forward(x) {
      let h = tf.relu(tf.add(tf.conv2d(x, stemW, 1, "valid"), stemB)) as tf.Tensor4D;
      for (const u of trunkA) h = u(h);
      const f7 = h;
      for (const u of trunk5) h = u(h);
      const f5 = h;
      for (const u of trunkB) h = u(h);
      const r1 = tf.reshape(finalBn(h), [-1, nRkhs]) as tf.Tensor2D;
      return { r1, r5: head5(f5), r7: head7(f7) };
    },
  };
}

/** NCE-like loss between a global source and all local targets (matmul, tanh clip, logsumexp). */
export function standInLoss(
  a: { r1: tf.Tensor2D; r5: tf.Tensor4D; r7: tf.Tensor4D },
  b: { r1: tf.Tensor2D; r5: tf.Tensor4D; r7: tf.Tensor4D },
): tf.Scalar {
  const d = a.r1.shape[1];
  const term = (src: tf.Tensor2D, tgt: tf.Tensor4D) => {
    const t = tf.reshape(tgt, [-1, d]);
    const raw = tf.div(tf.matMul(src, t, false, true), Math.sqrt(d));
    const reg = tf.mul(0.05, tf.mean(tf.square(raw)));
    const clipped = tf.mul(20, tf.tanh(tf.div(raw, 20)));
    return tf.add(tf.mean(tf.logSumExp(clipped, 1)), reg);
  };
  return tf.addN([
    term(a.r1, b.r5),
    term(a.r1, b.r7),
    term(b.r1, a.r5),
    term(b.r1, a.r7),
  ]) as tf.Scalar;
}

/**
 * A small stand-in encoder (ndf 8, nRkhs 32, nDepth 2), two fixed batches of 16 images and an
 * Adam optimiser: `step()` runs one training step and disposes what it returns; `dispose()`
 * frees the model, the images and the optimiser.
 */
export function standInTraining(): { step: () => void; dispose: () => void } {
  const model = createStandIn({ ndf: 8, nRkhs: 32, nDepth: 2 }, 1);
  const x1 = randomImages(1, 16), x2 = randomImages(2, 16);
  const opt = tf.train.adam(1e-3);
  return {
    step: () =>
      opt.minimize(() => standInLoss(model.forward(x1), model.forward(x2)), true, model.vars)
        ?.dispose(),
    dispose: () => {
      opt.dispose();
      tf.dispose([x1, x2, ...model.vars]);
    },
  };
}

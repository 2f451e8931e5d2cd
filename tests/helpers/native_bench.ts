import * as tf from "@tensorflow/tfjs";
import { loadNativeBackend } from "../../src/backend/native/native_backend.ts";
import { formatKernelProfile, profileKernels } from "../../src/backend/native/profile_kernels.ts";
import { createStandIn, randomImages, standInLoss } from "./native_stand_in.ts";
const r = await loadNativeBackend();
console.log(r);
await tf.setBackend(Deno.args[0] ?? "native");
const cfgName = Deno.args[1] ?? "tiny";
const cfg = cfgName === "tiny"
  ? { ndf: 32, nRkhs: 256, nDepth: 3 }
  : { ndf: 64, nRkhs: 512, nDepth: 3 };
const B = Number(Deno.args[2] ?? 64);
const m = createStandIn(cfg, 1);
const x1 = randomImages(1, B), x2 = randomImages(2, B);
const opt = tf.train.adam(2e-4);
const step = () => {
  const l = opt.minimize(() => standInLoss(m.forward(x1), m.forward(x2)), true, m.vars)!;
  const v = l.dataSync()[0];
  l.dispose();
  return v;
};
step();
step();
const p = await profileKernels(() => step(), { backend: tf.getBackend() });
console.log(formatKernelProfile(p, 30));
const t0 = performance.now();
const N = 3;
for (let i = 0; i < N; i++) step();
const dt = (performance.now() - t0) / N;
console.log(`train: ${dt.toFixed(0)} ms/step, ${(B / dt * 1000).toFixed(1)} img/s`);
const ev = () =>
  tf.tidy(() => {
    const o = m.forward(x1);
    o.r1.dataSync();
    o.r5.dataSync();
    o.r7.dataSync();
  });
ev();
const pe = await profileKernels(() => ev(), { backend: tf.getBackend() });
console.log(formatKernelProfile(pe, 15));
const t1 = performance.now();
for (let i = 0; i < 5; i++) ev();
const de = (performance.now() - t1) / 5;
console.log(
  `eval: ${de.toFixed(0)} ms/batch, ${(B / de * 1000).toFixed(1)} img/s`,
  tf.memory().numTensors,
);

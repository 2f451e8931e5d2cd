/**
 * Where a training step's time goes on a GPU backend: wall time per step at two batch sizes, and
 * one step under `tf.profile` with each kernel's device time (WebGPU timestamp queries), summed
 * by kernel name. Prints one JSON line.
 *
 * Usage: deno run -A tests/helpers/webgpu_profile.ts [tiny|small] [--backend webgpu]
 *        [--batches 64,256] [--flags NAME=VALUE,...] (the first batch size is profiled)
 * (bundled into .gpu/cli/profile.js by tests/helpers/gpu_bundle.sh for machines without Deno's
 * npm cache).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../src/backend/mod.ts";
import { NAMED_ENCODERS } from "../../src/model/mod.ts";
import { createTrainingWorkload } from "../../src/train/workload.ts";

const flag = (name: string, dflt: string) => {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Deno.args[i + 1] : dflt;
};
const config = Deno.args[0]?.startsWith("--") === false ? Deno.args[0] : "tiny";
const info = await initBackend(flag("backend", "webgpu"));
const batches = flag("batches", "64,256").split(",").map(Number);
// --flags NAME=VALUE,...: tfjs environment flags (e.g. WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE=60)
const tfFlags: Record<string, number | boolean> = {};
for (const kv of flag("flags", "").split(",").filter(Boolean)) {
  const [k, v] = kv.split("=");
  tfFlags[k] = v === "true" ? true : v === "false" ? false : Number(v);
  tf.env().set(k, tfFlags[k]);
}
const cfg = NAMED_ENCODERS[config];

async function stepTimes(batch: number, steps: number) {
  const work = createTrainingWorkload(cfg, { batch, seed: 1, classes: 10, stream: "perf-images" });
  const { trainStep: step, evalStep } = work;
  for (let i = 0; i < 2; i++) await step();
  const ms: number[] = [];
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now();
    await step();
    ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  const result = { batch, train_ms_median: ms[ms.length >> 1], kernels: undefined as unknown };
  if (batch === batches[0]) {
    const summarise = async (work: () => Promise<unknown>) => {
      const p = await tf.profile(async () => {
        await work();
      });
      const by = new Map<string, { n: number; ms: number }>();
      let sum = 0;
      for (const k of p.kernels) {
        const t = typeof k.kernelTimeMs === "number" ? k.kernelTimeMs : 0;
        const key = k.name;
        const e = by.get(key) ?? { n: 0, ms: 0 };
        e.n++;
        e.ms += t;
        sum += t;
        by.set(key, e);
      }
      const top = [...by.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, 20)
        .map(([name, e]) => ({ name, n: e.n, ms: +e.ms.toFixed(2) }));
      return { dispatches: p.kernels.length, device_ms_sum: +sum.toFixed(1), top };
    };
    const t0 = performance.now();
    const train = await summarise(step);
    const trainProfiledWall = performance.now() - t0;
    await evalStep();
    const e0 = performance.now();
    await evalStep();
    const evalWall = performance.now() - e0;
    const evalProf = await summarise(evalStep);
    result.kernels = {
      train: { ...train, profiled_wall_ms: +trainProfiledWall.toFixed(0) },
      eval: { ...evalProf, wall_ms: +evalWall.toFixed(1) },
    };
  }
  work.dispose();
  return result;
}

const runs = [];
for (const b of batches) runs.push(await stepTimes(b, 3));
console.log(JSON.stringify({
  config,
  backend: info.name,
  device: info.device,
  flags: tfFlags,
  runs,
}));

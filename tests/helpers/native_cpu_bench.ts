/**
 * CPU-time benchmark of the project's train step and eval forward on the `native` backend, for a
 * shared machine: per step it reports wall time and the process's CPU time (all threads), and
 * the images/s each implies. Usage:
 *   deno run -A tests/helpers/native_cpu_bench.ts [tiny|small] [batch=64] [steps=3]
 *     [--profile] [--wall] [--shapes] [--eval-profile] [--fallbacks] [--alternate]
 * `--alternate` runs the steps alternately with 1 thread and with all threads (same process,
 * back to back) and reports both; `--ab-fusions` alternates steps with and without the fused
 * layer kernels (NativeFusedConv2D, NativeBatchNormTrain); threads come from env `AMDIM_NATIVE_THREADS` (default: all).
 * `--profile` prints a per-kernel profile of one train step timed by process CPU time (`--wall`:
 * by wall time);
 * `--fallbacks` counts kernel calls that fell back to the `cpu` kernels.
 */
import * as tf from "@tensorflow/tfjs";
import {
  formatKernelProfile,
  loadNativeBackend,
  profileKernels,
} from "../../src/backend/native/mod.ts";
import { cpuClockSource, processCpuMs } from "../../src/backend/native/cpu_clock.ts";
import { countFallbacks, fallbackCounts } from "../../src/backend/native/blas_kernels.ts";
import { setActiveThreads, threadStats } from "../../src/backend/native/thread_pool.ts";
import { NAMED_ENCODERS } from "../../src/model/mod.ts";
import { createTrainingWorkload } from "../../src/train/workload.ts";

const positional = Deno.args.filter((a) => !a.startsWith("--"));
const name = (positional[0] ?? "tiny") as keyof typeof NAMED_ENCODERS;
const batch = Number(positional[1] ?? 64), steps = Number(positional[2] ?? 3);
const r = await loadNativeBackend();
if (!r.ok) throw new Error(`${r.reason} (${r.hint})`);
await tf.setBackend("native");
const cfg = NAMED_ENCODERS[name];
console.log(
  `${name}, batch ${batch}, ${r.info.threads} thread(s) (${r.info.workers} worker(s)), clock ${cpuClockSource()}, ` +
    `load ${Deno.loadavg().map((l) => l.toFixed(1)).join(" ")}`,
);

const work = createTrainingWorkload(cfg, { batch, seed: 1, classes: 10, stream: "perf-images" });
const { trainStep, evalStep } = work;

const alternate = Deno.args.includes("--alternate");
const abFusions = Deno.args.includes("--ab-fusions");
const variants = alternate ? [1, r.info.threads] : abFusions ? [0, -1] : [r.info.threads];
const FUSED = Deno.env.get("AB_KERNELS")?.split(",") ??
  ["NativeFusedConv2D", "NativeBatchNormTrain", "NativeNceScores"];
const fusedConfigs = FUSED.map((k) => tf.getKernel(k, "native")).filter((c) => c !== undefined);

/** Variant `v`: a thread count, or 0 / -1 = all threads with / without the fused layer kernels. */
function setVariant(v: number): void {
  setActiveThreads(v > 0 ? v : r.ok ? r.info.threads : 1);
  if (v > 0) return;
  for (const cfg of fusedConfigs) {
    const present = tf.getKernel(cfg.kernelName, "native") !== undefined;
    if (v === 0 && !present) tf.registerKernel(cfg);
    if (v === -1 && present) tf.unregisterKernel(cfg.kernelName, "native");
  }
}

function label(v: number): string {
  return v > 0 ? `${v}T` : v === 0 ? "fused" : "unfused";
}

async function measure(what: string, fn: () => Promise<unknown>, n: number): Promise<void> {
  for (const v of variants) {
    setVariant(v);
    await fn();
  } // warm-up
  const wall = variants.map(() => [] as number[]), cpu = variants.map(() => [] as number[]);
  const syncs = variants.map(() => 0);
  for (let i = 0; i < n; i++) {
    for (const [k, v] of variants.entries()) {
      setVariant(v);
      const w0 = performance.now(), c0 = processCpuMs(), s0 = threadStats.syncs;
      await fn();
      syncs[k] += threadStats.syncs - s0;
      cpu[k].push(processCpuMs() - c0);
      wall[k].push(performance.now() - w0);
    }
  }
  setVariant(0);
  setActiveThreads(r.ok ? r.info.threads : 1);
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  const ips = (ms: number) => (batch / ms * 1000).toFixed(1);
  variants.forEach((v, k) =>
    console.log(
      `${what} ${label(v)}: cpu ${med(cpu[k]).toFixed(0)} ms/step (min ${
        Math.min(...cpu[k]).toFixed(0)
      }) = ${ips(med(cpu[k]))} img/s per CPU-second; wall ${med(wall[k]).toFixed(0)} ms (min ${
        Math.min(...wall[k]).toFixed(0)
      }) = ${ips(med(wall[k]))} img/s (min-wall ${ips(Math.min(...wall[k]))}); syncs ${syncs[k]}`,
    )
  );
}

const tensors0 = tf.memory().numTensors;
await measure("train", trainStep, steps);
await measure("eval ", evalStep, steps);
console.log(
  `load after: ${Deno.loadavg().map((l) => l.toFixed(1)).join(" ")}; jobs ${
    JSON.stringify(threadStats)
  }`,
);
console.log(`tensor growth ${tf.memory().numTensors - tensors0}`);
if (Deno.args.includes("--profile")) {
  const groupBy = Deno.args.includes("--shapes") ? "shape" : "kernel";
  const clock = Deno.args.includes("--wall") ? "wall" : "cpu";
  const p = await profileKernels(trainStep, { groupBy, clock });
  console.log(`train step, ${clock === "wall" ? "wall" : "process CPU"} ms:`);
  console.log(formatKernelProfile(p, Number(Deno.env.get("ROWS") ?? 45)));
}
if (Deno.args.includes("--eval-profile")) {
  const groupBy = Deno.args.includes("--shapes") ? "shape" : "kernel";
  const clock = Deno.args.includes("--wall") ? "wall" : "cpu";
  const p = await profileKernels(evalStep, { groupBy, clock });
  console.log(`eval forward, ${clock === "wall" ? "wall" : "process CPU"} ms:`);
  console.log(formatKernelProfile(p, Number(Deno.env.get("ROWS") ?? 30)));
}
if (Deno.args.includes("--fallbacks")) {
  fallbackCounts.clear();
  countFallbacks(true);
  await trainStep();
  await evalStep();
  countFallbacks(false);
  const rows = [...fallbackCounts.entries()].sort((a, b) => b[1] - a[1]);
  console.log(`fallbacks to cpu kernels (one train + one eval step): ${rows.length} kinds`);
  for (const [k, n] of rows.slice(0, 40)) console.log(`  ${n}\t${k}`);
}
work.dispose();

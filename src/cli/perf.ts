/**
 * `deno task perf`: training and evaluation throughput of the AMDIM encoder on a tfjs backend.
 *
 * ```
 * deno task perf [--config NAME | --ndf N --n-rkhs N --n-depth N --input-size N]
 *                [--batch N] [--backend NAME] [--steps N] [--warmup N] [--classes N] [--json]
 * deno task perf --data ...   (augmentation pipeline throughput, src/augment/perf_data.ts)
 * deno task perf --features ... (feature extraction, tfjs vs ONNX Runtime, src/onnx/perf_features.ts)
 * ```
 *
 * Training throughput = one full `trainStep` (encoder forward on both views, NCE loss, online
 * heads, backward, Adam update, BN state) per step, counted as `batch` images per step (each
 * step encodes 2 x batch views). Evaluation throughput = an eval-mode encoder forward of `batch`
 * images (r1, r5, r7 read back). Both are `batch / median step time` over `--steps` steps after
 * `--warmup` steps. Inputs are random (from an Rng), so no dataset is needed.
 *
 * Modes: the default mode is the model; `--data` hands the whole argument list to
 * `runDataPerf(argv)` of `src/augment/perf_data.ts`. Further modes plug in the same way in
 * {@linkcode perf}.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { runMain } from "./main.ts";
import { parseFlags } from "./args.ts";
import { type ActiveBackend, useBackend } from "./use_backend.ts";
import { BenchError } from "../util/errors.ts";
import type { EncoderConfig } from "../model/mod.ts";
import { encoderFromFlags, intFlag } from "./encoder_flags.ts";
import { createTrainingWorkload } from "../train/workload.ts";

const USAGE = "usage: deno task perf [--config NAME | --ndf N --n-rkhs N --n-depth N " +
  "--input-size N] [--batch N] [--backend NAME] [--steps N] [--warmup N] [--classes N] [--json]" +
  "\n       deno task perf --data ... (augmentation pipeline)";

/** The JSON object `perf --json` prints on its last line. */
export interface ModelPerfResult {
  mode: "model";
  backend: string;
  config: string;
  encoder: EncoderConfig;
  batch: number;
  steps: number;
  warmup: number;
  /** Training images per second (batch images per step; each step encodes both views). */
  train_images_per_s: number;
  /** Eval-mode forward images per second. */
  eval_images_per_s: number;
  /** What runs the convolutions (the native backend: oneDNN or im2col + BLAS). */
  convolutions?: string;
  train_ms_median: number;
  eval_ms_median: number;
  device: string;
  threads: number;
  tfjs: string;
  /** Peak resident set size sampled after every step, bytes. */
  rss: number;
  /** tf.memory().numTensors after the last step minus after warm-up (0 = no leak). */
  tensor_growth: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * Measures training and evaluation throughput of one encoder config on the active backend.
 *
 * @example
 * ```ts
 * const r = await measureModelPerf(NAMED_ENCODERS.tiny, { batch: 8, steps: 2, warmup: 1 });
 * console.log(r.trainImagesPerS);
 * ```
 */
export async function measureModelPerf(
  cfg: EncoderConfig,
  opts: { batch: number; steps: number; warmup: number; classes?: number; seed?: number },
): Promise<{ trainMs: number[]; evalMs: number[]; rssPeak: number; tensorGrowth: number }> {
  const work = createTrainingWorkload(cfg, {
    batch: opts.batch,
    seed: opts.seed ?? 1,
    classes: opts.classes ?? 10,
    stream: "perf-images",
  });
  let rssPeak = Deno.memoryUsage().rss;
  const sample = () => rssPeak = Math.max(rssPeak, Deno.memoryUsage().rss);
  const trainMs: number[] = [], evalMs: number[] = [];
  let tensorsAfterWarmup = 0;
  try {
    for (let i = 0; i < opts.warmup + opts.steps; i++) {
      if (i === opts.warmup) tensorsAfterWarmup = tf.memory().numTensors;
      const t0 = performance.now();
      await work.trainStep(); // reads the losses back: the work is done
      const dt = performance.now() - t0;
      sample();
      if (i >= opts.warmup) trainMs.push(dt);
    }
    for (let i = 0; i < opts.warmup + opts.steps; i++) {
      const t0 = performance.now();
      await work.evalStep();
      const dt = performance.now() - t0;
      sample();
      if (i >= opts.warmup) evalMs.push(dt);
    }
    const tensorGrowth = tf.memory().numTensors - tensorsAfterWarmup;
    return { trainMs, evalMs, rssPeak, tensorGrowth };
  } finally {
    work.dispose();
  }
}

async function modelPerf(argv: string[]): Promise<number> {
  const flags = parseFlags(argv, {
    string: [
      "config",
      "ndf",
      "n-rkhs",
      "n-depth",
      "input-size",
      "batch",
      "backend",
      "steps",
      "warmup",
      "classes",
    ],
    boolean: ["json", "help"],
    default: { backend: "auto" },
  });
  if (flags.help) {
    console.log(USAGE);
    return 0;
  }
  if (flags._.length > 0) {
    throw new BenchError("usage", `unexpected argument ${flags._[0]}`, { hint: USAGE });
  }
  const { name, cfg } = encoderFromFlags(flags);
  const batch = intFlag(flags, "batch", 64, 2);
  const steps = intFlag(flags, "steps", 5, 1);
  const warmup = intFlag(flags, "warmup", 2, 0);
  const classes = intFlag(flags, "classes", 10, 1);
  const backend: ActiveBackend = await useBackend(String(flags.backend));
  if (!flags.json) {
    console.log(
      `perf: ${name} on ${backend.name} (${backend.device}, ${backend.threads} thread(s)), batch ${batch}, ` +
        `${warmup} warm-up + ${steps} measured steps`,
    );
    if (backend.details.convolutions) {
      console.log(`convolutions: ${backend.details.convolutions}`);
    }
  }
  const m = await measureModelPerf(cfg, { batch, steps, warmup, classes });
  const trainMed = median(m.trainMs), evalMed = median(m.evalMs);
  const result: ModelPerfResult = {
    mode: "model",
    backend: backend.name,
    config: name,
    encoder: cfg,
    batch,
    steps,
    warmup,
    train_images_per_s: batch / (trainMed / 1000),
    eval_images_per_s: batch / (evalMed / 1000),
    train_ms_median: trainMed,
    eval_ms_median: evalMed,
    device: backend.device,
    threads: backend.threads,
    tfjs: backend.tfjsVersion,
    rss: m.rssPeak,
    tensor_growth: m.tensorGrowth,
  };
  if (backend.details.convolutions) result.convolutions = backend.details.convolutions;
  if (flags.json) {
    console.log(JSON.stringify(result));
  } else {
    console.log(
      `train: ${result.train_images_per_s.toFixed(1)} images/s (median ${
        trainMed.toFixed(0)
      } ms/step; ` +
        `batch images per step, each step encodes both views)`,
    );
    console.log(
      `eval:  ${result.eval_images_per_s.toFixed(1)} images/s (median ${
        evalMed.toFixed(0)
      } ms/batch)`,
    );
    console.log(
      `peak RSS ${
        (m.rssPeak / 2 ** 20).toFixed(0)
      } MiB; tensor growth over measured steps: ${m.tensorGrowth}`,
    );
  }
  return m.tensorGrowth === 0 ? 0 : 1;
}

const DATA_PERF_MODULE = "../augment/perf_data.ts";

/**
 * Runs `deno task perf`; returns the exit code. `--data` delegates the whole argument list to the
 * augmentation pipeline's `runDataPerf(argv)`.
 *
 * @example
 * ```ts
 * const code = await perf(["--config", "tiny", "--backend", "wasm", "--json"]);
 * ```
 */
export async function perf(argv: string[]): Promise<number> {
  if (argv.includes("--features")) {
    // Feature-extraction throughput, tfjs vs ONNX Runtime (src/onnx/perf_features.ts).
    const { runFeaturePerf } = await import("../onnx/perf_features.ts");
    return await runFeaturePerf(argv);
  }
  if (argv.includes("--data")) {
    let mod: { runDataPerf?: (argv: string[]) => Promise<number> };
    try {
      mod = await import(DATA_PERF_MODULE);
    } catch (cause) {
      throw new BenchError("perf_mode_unavailable", "the --data mode is not available", {
        location: "src/augment/perf_data.ts",
        cause,
      });
    }
    if (typeof mod.runDataPerf !== "function") {
      throw new BenchError("perf_mode_unavailable", "src/augment/perf_data.ts has no runDataPerf");
    }
    return await mod.runDataPerf(argv);
  }
  return await modelPerf(argv);
}

if (import.meta.main) runMain(perf);

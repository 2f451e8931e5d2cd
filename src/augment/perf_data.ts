/**
 * `deno task perf --data`: throughput of the augmentation pipeline (samples per second, two train
 * views each) on in-memory synthetic images of the policy's typical source size.
 *
 * @module
 */
import { type ParsedFlags, parseFlags } from "../cli/args.ts";
import { BenchError } from "../util/errors.ts";
import { Rng } from "../util/rng.ts";
import { AugmentPool, memorySource, trainViews } from "./pipeline.ts";
import { getPolicy, POLICY_NAMES, type PolicyName } from "./policy.ts";

/** Flags of the data mode (`--data` itself is consumed by the perf command). */
export const DATA_PERF_FLAGS = {
  string: ["policy", "workers", "batch-size", "seconds", "source-size"],
  boolean: ["data", "json", "help"],
} as const;

/** Parsed options of a data-throughput measurement. */
export interface DataPerfOptions {
  /** Policy measured. */
  policy: PolicyName;
  /** Worker count (0 = in-thread). */
  workers: number;
  /** Samples per batch. */
  batchSize: number;
  /** Minimum measuring time in seconds (after one warm-up batch). */
  seconds: number;
  /** Side of the square synthetic source images. */
  sourceSize: number;
}

/** What a measurement reports. */
export interface DataPerfResult extends DataPerfOptions {
  /** Source image shape `[H, W, C]`. */
  sourceShape: [number, number, number];
  /** View shape `[H, W, 3]`. */
  viewShape: [number, number, number];
  /** Samples processed in the timed part. */
  samples: number;
  /** Timed wall seconds. */
  wallSeconds: number;
  /** Samples (each with two views) per second. */
  samplesPerSecond: number;
  /** Views per second (2 x samples). */
  viewsPerSecond: number;
  /** Logical CPUs Deno reports. */
  cpuCount: number;
  /**
   * CPU seconds the whole process (all workers) used in the timed part, from /proc/self/stat;
   * null where that file is not readable. On a shared machine `samples / cpuSeconds` is the
   * contention-independent cost.
   */
  cpuSeconds: number | null;
  /** Samples per CPU second (null without `cpuSeconds`). */
  samplesPerCpuSecond: number | null;
  /** The 1-minute load average at the start (null where unknown): > CPU count means a busy machine. */
  loadAverage: number | null;
}

/** utime + stime of this process in seconds (Linux), or null. */
function processCpuSeconds(): number | null {
  try {
    const stat = Deno.readTextFileSync("/proc/self/stat");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // Fields after the command name start at field 3 (state); utime and stime are fields 14, 15.
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return null;
  }
}

function loadAverage(): number | null {
  try {
    return Deno.loadavg()[0];
  } catch {
    return null;
  }
}

/** The default source side per policy: CIFAR 32, Fashion-MNIST 28x28x1, STL-10 96, ImageNet 192. */
export function defaultSourceSize(policy: PolicyName): number {
  return policy === "fmnist" ? 28 : policy === "stl10" ? 96 : policy === "imagenet" ? 192 : 32;
}

/**
 * Smooth random images with edges and noise (not constant, so every op does real work).
 *
 * @example
 * ```ts
 * const px = syntheticImages(8, 32, 32, 3, 1);
 * ```
 */
export function syntheticImages(
  n: number,
  height: number,
  width: number,
  channels: number,
  seed: number,
): Uint8Array {
  const out = new Uint8Array(n * height * width * channels);
  let o = 0;
  for (let i = 0; i < n; i++) {
    const rng = new Rng(seed, "perf-image", i);
    const base = Array.from({ length: channels }, () => rng.uniform(40, 200));
    const gx = Array.from({ length: channels }, () => rng.uniform(-1, 1) * 120 / width);
    const gy = Array.from({ length: channels }, () => rng.uniform(-1, 1) * 120 / height);
    const r0 = rng.int(0, height - 1), c0 = rng.int(0, width - 1);
    const r1 = Math.min(height, r0 + rng.int(2, height)),
      c1 = Math.min(width, c0 + rng.int(2, width));
    const box = Array.from({ length: channels }, () => rng.int(0, 255));
    let noise = rng.nextU32();
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const inBox = y >= r0 && y < r1 && x >= c0 && x < c1;
        for (let c = 0; c < channels; c++) {
          noise = (Math.imul(noise, 1664525) + 1013904223) >>> 0;
          const v = inBox ? box[c] : base[c] + gx[c] * x + gy[c] * y + ((noise >>> 24) - 128) / 16;
          out[o++] = v < 0 ? 0 : v > 255 ? 255 : v;
        }
      }
    }
  }
  return out;
}

function intFlag(
  flags: ParsedFlags,
  name: string,
  fallback: number,
  lo: number,
  hi: number,
): number {
  const v = flags[name];
  if (v === undefined) return fallback;
  const n = Number(v);
  if (typeof v !== "string" || !Number.isFinite(n) || n < lo || n > hi) {
    throw new BenchError(
      "usage",
      `--${name} must be a number in [${lo}, ${hi}], got ${JSON.stringify(v)}`,
      {
        location: `--${name}`,
      },
    );
  }
  return n;
}

/**
 * Turns parsed flags into options (defaults: policy cifar, workers 2 capped at the CPU count,
 * batch size 256, 3 s, the policy's typical source size).
 *
 * @example
 * ```ts
 * dataPerfOptions(parseFlags(["--policy", "stl10"], DATA_PERF_FLAGS));
 * ```
 */
export function dataPerfOptions(flags: ParsedFlags): DataPerfOptions {
  const policyName = typeof flags.policy === "string" ? flags.policy : "cifar";
  if (!(POLICY_NAMES as readonly string[]).includes(policyName)) {
    throw new BenchError("usage", `unknown policy "${policyName}"`, {
      location: "--policy",
      hint: `one of ${POLICY_NAMES.join(", ")}`,
    });
  }
  const policy = getPolicy(policyName).name;
  const cpus = navigator.hardwareConcurrency ?? 2;
  return {
    policy,
    workers: Math.trunc(intFlag(flags, "workers", Math.min(2, cpus), 0, 64)),
    batchSize: Math.trunc(intFlag(flags, "batch-size", 256, 1, 65536)),
    seconds: intFlag(flags, "seconds", 3, 0.1, 600),
    sourceSize: Math.trunc(intFlag(flags, "source-size", defaultSourceSize(policy), 8, 4096)),
  };
}

/**
 * Measures pipeline throughput: one warm-up batch, then whole batches until `seconds` passed.
 *
 * @example
 * ```ts
 * const r = await measureDataThroughput({ policy: "cifar", workers: 2, batchSize: 256, seconds: 3, sourceSize: 32 });
 * r.samplesPerSecond;
 * ```
 */
export async function measureDataThroughput(opts: DataPerfOptions): Promise<DataPerfResult> {
  const channels = opts.policy === "fmnist" ? 1 : 3;
  const s = opts.sourceSize;
  const poolImages = Math.max(opts.batchSize, 512);
  const source = memorySource(syntheticImages(poolImages, s, s, channels, 7), s, s, channels);
  const pool = new AugmentPool(opts.workers);
  try {
    let epoch = 0, step = 0;
    const nextIndices = () => {
      const idx = new Array<number>(opts.batchSize);
      for (let k = 0; k < opts.batchSize; k++) idx[k] = (step * opts.batchSize + k) % poolImages;
      step++;
      return idx;
    };
    const warm = await trainViews(source, {
      policy: opts.policy,
      seed: 1,
      epoch,
      indices: nextIndices(),
      pool,
    });
    epoch++;
    let samples = 0;
    const load = loadAverage();
    const cpu0 = processCpuSeconds();
    const t0 = performance.now();
    let t = t0;
    while ((t - t0) / 1000 < opts.seconds) {
      await trainViews(source, {
        policy: opts.policy,
        seed: 1,
        epoch,
        indices: nextIndices(),
        pool,
      });
      samples += opts.batchSize;
      t = performance.now();
    }
    const wallSeconds = (t - t0) / 1000;
    const cpu1 = processCpuSeconds();
    const cpuSeconds = cpu0 === null || cpu1 === null ? null : cpu1 - cpu0;
    return {
      ...opts,
      sourceShape: [s, s, channels],
      viewShape: [warm.height, warm.width, 3],
      samples,
      wallSeconds,
      samplesPerSecond: samples / wallSeconds,
      viewsPerSecond: 2 * samples / wallSeconds,
      cpuCount: navigator.hardwareConcurrency ?? 0,
      cpuSeconds,
      samplesPerCpuSecond: cpuSeconds ? samples / cpuSeconds : null,
      loadAverage: load,
    };
  } finally {
    pool.close();
  }
}

/**
 * The `--data` mode of `deno task perf`: takes the command's argv (or flags already parsed with
 * {@linkcode DATA_PERF_FLAGS}), prints a summary line or (with `--json`) one JSON object, and
 * returns the exit code.
 *
 * Flags: `--policy cifar|stl10|imagenet|fmnist|none` (default cifar), `--workers N` (default 2),
 * `--batch-size N` (256), `--seconds S` (3), `--source-size N` (policy default), `--json`.
 *
 * @example
 * ```ts
 * const code = await runDataPerf(["--data", "--policy", "imagenet", "--workers", "2"]);
 * ```
 */
export async function runDataPerf(flags: ParsedFlags | readonly string[]): Promise<number> {
  const parsed = Array.isArray(flags)
    ? parseFlags(flags as readonly string[], DATA_PERF_FLAGS)
    : flags as ParsedFlags;
  if (parsed.help) {
    console.log(
      "deno task perf --data [--policy cifar|stl10|imagenet|fmnist|none] [--workers N] [--batch-size N] [--seconds S] [--source-size N] [--json]",
    );
    return 0;
  }
  const r = await measureDataThroughput(dataPerfOptions(parsed));
  if (parsed.json) {
    console.log(JSON.stringify({ mode: "data", ...r }));
  } else {
    console.log(
      `data ${r.policy}: ${r.samplesPerSecond.toFixed(0)} samples/s (${
        r.viewsPerSecond.toFixed(0)
      } views/s), ` +
        `source ${r.sourceShape.join("x")} -> views ${
          r.viewShape.join("x")
        }, workers ${r.workers}, ` +
        `batch ${r.batchSize}, ${r.samples} samples in ${
          r.wallSeconds.toFixed(2)
        } s, ${r.cpuCount} CPUs` +
        (r.samplesPerCpuSecond
          ? `, ${r.samplesPerCpuSecond.toFixed(0)} samples per CPU-second`
          : "") +
        (r.loadAverage !== null ? `, load average ${r.loadAverage.toFixed(2)}` : ""),
    );
  }
  return 0;
}

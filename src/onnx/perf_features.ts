/**
 * `deno task perf --features [--config NAME] [--batch N] [--steps N] [--backend NAME]
 * [--threads N] [--json]`: throughput of frozen-feature extraction (r1, eval mode) per path, the
 * tfjs backend against ONNX Runtime (CPU) on the same weights, with the largest relative r1
 * difference between them. The `perf` command dispatches here on `--features`.
 *
 * @module
 */
import { parseFlags } from "../cli/args.ts";
import { useBackend } from "../cli/use_backend.ts";
import { resolveEncoderConfig } from "../model/config.ts";
import { createEncoder } from "../model/encoder.ts";
import { BenchError } from "../util/errors.ts";
import { onnxSessionOfEncoder } from "./ort_features.ts";
import { measureFeatureThroughput } from "./throughput.ts";

/** The JSON object `perf --features --json` prints. */
export interface FeaturePerfResult {
  mode: "features";
  config: string;
  batch: number;
  steps: number;
  backend: string;
  threads: number;
  tfjs_images_per_s: number;
  onnxruntime_images_per_s: number;
  onnxruntime_threads: number | null;
  onnxruntime: string;
  /** onnxruntime / tfjs. */
  speedup: number;
  max_rel_diff: number;
}

function positive(v: unknown, name: string, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) {
    throw new BenchError("usage", `--${name} must be an integer >= 1, got ${v}`, {
      location: `--${name}`,
    });
  }
  return n;
}

/**
 * Runs the feature-extraction benchmark; returns the exit code.
 *
 * @example
 * ```ts
 * await runFeaturePerf(["--features", "--config", "tiny", "--batch", "64"]);
 * ```
 */
export async function runFeaturePerf(argv: string[]): Promise<number> {
  const flags = parseFlags(argv, {
    string: ["config", "batch", "steps", "backend", "threads"],
    boolean: ["features", "json", "help"],
    alias: { h: "help" },
  });
  if (flags.help) {
    console.log(
      "usage: deno task perf --features [--config NAME] [--batch N] [--steps N] " +
        "[--backend NAME] [--threads N] [--json]",
    );
    return 0;
  }
  const name = String(flags.config ?? "tiny");
  const cfg = resolveEncoderConfig(name, {}, "--config");
  const batch = positive(flags.batch, "batch", 64);
  const steps = positive(flags.steps, "steps", 5);
  const threads = flags.threads === undefined ? undefined : positive(flags.threads, "threads", 1);
  const backend = await useBackend(String(flags.backend ?? "auto"));
  const encoder = createEncoder(cfg, 1);
  const session = await onnxSessionOfEncoder(encoder, { threads });
  try {
    const r = await measureFeatureThroughput(encoder, session, { batch, repeats: steps });
    const result: FeaturePerfResult = {
      mode: "features",
      config: name,
      batch,
      steps,
      backend: backend.name,
      threads: backend.threads,
      tfjs_images_per_s: r.tfjs!,
      onnxruntime_images_per_s: r.onnxruntime!,
      onnxruntime_threads: threads ?? null,
      onnxruntime: session.runtimeVersion,
      speedup: r.onnxruntime! / r.tfjs!,
      max_rel_diff: r.maxRelDiff!,
    };
    if (flags.json) {
      console.log(JSON.stringify(result));
      return 0;
    }
    console.log(
      `feature extraction (r1, eval mode), ${name} ${JSON.stringify(cfg)}, batch ${batch}`,
    );
    console.log(
      `  tfjs/${backend.name} (${backend.threads} threads)`.padEnd(48) +
        `${r.tfjs!.toFixed(1)} images/s`,
    );
    console.log(
      `  onnxruntime ${session.runtimeVersion}/cpu (${threads ?? "default"} threads)`.padEnd(48) +
        `${r.onnxruntime!.toFixed(1)} images/s`,
    );
    console.log(
      `  speedup ${result.speedup.toFixed(2)}x; max relative r1 difference ${
        r.maxRelDiff!.toExponential(2)
      }`,
    );
    return 0;
  } finally {
    await session.release();
    encoder.dispose();
  }
}

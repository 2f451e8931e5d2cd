/**
 * `deno task export <run-dir|checkpoint.safetensors> [--out model.onnx] [--layout nhwc|nchw]
 * [--outputs r1,r5,r7] [--policy NAME] [--no-check] [--backend NAME]`
 *
 * Writes the trained encoder as an ONNX model (opset 17) with the run's metadata, then checks it:
 * ONNX Runtime's outputs must equal the tfjs forward (eval mode) of the same weights on seeded
 * images within 1e-4 (relative above 1). Exit codes: 0 written and checked, 1 the check failed
 * (the file is kept for inspection), 2 unusable input.
 *
 * @module
 */
import { join } from "node:path";
import { parseFlags } from "./args.ts";
import { runMain } from "./main.ts";
import { useBackend } from "./use_backend.ts";
import { POLICY_NAMES, type PolicyName } from "../augment/policy.ts";
import { BenchError } from "../util/errors.ts";
import { writeFileAtomic } from "../util/atomic_write.ts";
import type { EncoderOutputName, OnnxLayout } from "../onnx/export_encoder.ts";
import {
  checkOnnxParity,
  encoderFromWeights,
  exportTrainedEncoder,
  readTrainedWeights,
} from "../onnx/export_run.ts";

const USAGE = `usage: deno task export <run-dir|checkpoint.safetensors> [flags]

  --out PATH           output file (default <run-dir>/encoder.onnx, or <checkpoint>.onnx)
  --layout nhwc|nchw   input layout of the graph (default nhwc); r5/r7 follow it
  --outputs LIST       r1 and optionally r5, r7 (default r1)
  --policy NAME        normalisation to record when the run's spec.json is not beside the
                       checkpoint (${POLICY_NAMES.join(", ")})
  --no-check           skip the ONNX Runtime vs tfjs parity check
  --backend NAME       tfjs backend of the parity check (default cpu)`;

/** Relative tolerance of the export check. */
export const EXPORT_TOLERANCE = 1e-4;

if (import.meta.main) {
  runMain(async (argv) => {
    const flags = parseFlags(argv, {
      string: ["out", "layout", "outputs", "policy", "backend"],
      boolean: ["no-check", "help"],
      alias: { h: "help" },
    });
    if (flags.help) {
      console.log(USAGE);
      return 0;
    }
    if (flags._.length !== 1) {
      throw new BenchError("usage", "expected one run folder or checkpoint file", { hint: USAGE });
    }
    const input = flags._[0];
    const layout = String(flags.layout ?? "nhwc");
    if (layout !== "nhwc" && layout !== "nchw") {
      throw new BenchError("usage", `--layout must be nhwc or nchw, got ${layout}`, {
        location: "--layout",
      });
    }
    const outputs = String(flags.outputs ?? "r1").split(",").map((s) => s.trim()).filter(Boolean);
    for (const o of outputs) {
      if (o !== "r1" && o !== "r5" && o !== "r7") {
        throw new BenchError("usage", `unknown output ${o}`, {
          location: "--outputs",
          hint: "r1, r5, r7 (comma-separated)",
        });
      }
    }
    const policy = flags.policy as string | undefined;
    if (policy !== undefined && !(POLICY_NAMES as readonly string[]).includes(policy)) {
      throw new BenchError("usage", `unknown policy ${policy}`, {
        location: "--policy",
        hint: POLICY_NAMES.join(", "),
      });
    }
    const weights = await readTrainedWeights(input);
    const { bytes, metadata } = exportTrainedEncoder(weights, {
      layout: layout as OnnxLayout,
      outputs: outputs as EncoderOutputName[],
      policy: policy as PolicyName | undefined,
    });
    const isDir = (await Deno.stat(input)).isDirectory;
    const out = String(
      flags.out ??
        (isDir ? join(input, "encoder.onnx") : input.replace(/\.safetensors$/, "") + ".onnx"),
    );
    await writeFileAtomic(out, bytes);
    console.log(`wrote ${out} (${(bytes.length / 1e6).toFixed(2)} MB, opset 17, ${layout})`);
    console.log(`  encoder ${JSON.stringify(weights.config)}, outputs ${outputs.join(", ")}`);
    console.log(
      `  run ${metadata.runId}, spec ${metadata.specHash.slice(0, 12)}, step ${metadata.step}`,
    );
    if (!metadata.normalization) {
      console.log(
        "  note: no spec.json beside the checkpoint and no --policy: normalisation not recorded",
      );
    }
    if (flags["no-check"]) return 0;
    const backend = await useBackend(String(flags.backend ?? "cpu"));
    const encoder = encoderFromWeights(weights);
    try {
      const report = await checkOnnxParity(encoder, bytes, {
        outputs: outputs as EncoderOutputName[],
        layout: layout as OnnxLayout,
      });
      let ok = true;
      for (const o of outputs) {
        const rel = report.maxRelDiff[o];
        ok &&= rel <= EXPORT_TOLERANCE;
        console.log(
          `  check ${o}: max |tfjs - onnxruntime| ${report.maxAbsDiff[o].toExponential(2)} ` +
            `(relative ${rel.toExponential(2)}) on ${report.n} images vs tfjs/${backend.name}`,
        );
      }
      if (!ok) {
        console.error(`check FAILED: difference above ${EXPORT_TOLERANCE}`);
        return 1;
      }
      console.log("  check ok");
      return 0;
    } finally {
      encoder.dispose();
    }
  });
}

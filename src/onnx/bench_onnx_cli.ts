/**
 * The `--encoder` mode of `deno task bench`: flag parsing and the loop over the targets, kept
 * here so the bench command only dispatches.
 *
 * @module
 */
import type { ParsedFlags } from "../cli/args.ts";
import type { BaselineName } from "../eval/run_protocols.ts";
import type { BackendDescription, RunRecord } from "../report/record_types.ts";
import { writeReport } from "../report/tables.ts";
import { BenchError } from "../util/errors.ts";
import type { OnnxLayout } from "./export_encoder.ts";
import { runOnnxBenchmark } from "./onnx_bench.ts";

/** The `--encoder*` flags. */
export interface OnnxEncoderFlags {
  path: string;
  layout?: OnnxLayout;
  outputName?: string;
}

/**
 * Reads `--encoder`, `--encoder-layout`, `--encoder-output`; null without `--encoder` (the two
 * others alone are a usage error).
 *
 * @example
 * ```ts
 * const onnx = parseOnnxEncoderFlags(flags); // { path: "enc.onnx", layout: "nchw" } or null
 * ```
 */
export function parseOnnxEncoderFlags(flags: ParsedFlags): OnnxEncoderFlags | null {
  const path = flags.encoder as string | undefined;
  const layout = flags["encoder-layout"] as string | undefined;
  const outputName = flags["encoder-output"] as string | undefined;
  if (path === undefined) {
    if (layout !== undefined || outputName !== undefined) {
      throw new BenchError("usage", "--encoder-layout and --encoder-output need --encoder PATH", {
        location: layout !== undefined ? "--encoder-layout" : "--encoder-output",
      });
    }
    return null;
  }
  if (layout !== undefined && layout !== "nhwc" && layout !== "nchw") {
    throw new BenchError("usage", `--encoder-layout must be nhwc or nchw, got ${layout}`, {
      location: "--encoder-layout",
    });
  }
  return { path, layout: layout as OnnxLayout | undefined, outputName };
}

/**
 * Evaluates the ONNX encoder under every spec, prints each summary and refreshes the tables;
 * returns the exit code (0 all complete).
 *
 * @example
 * ```ts
 * const code = await benchOnnxEncoder({ path: "enc.onnx" }, ["smoke"], { backend, summary });
 * ```
 */
export async function benchOnnxEncoder(
  encoder: OnnxEncoderFlags,
  specIds: readonly string[],
  opts: {
    overrides: string[];
    resultsDir: string;
    dataDir?: string;
    specsDir?: string;
    baselines: BaselineName[];
    backend: BackendDescription;
    workers: number;
    summary: (record: RunRecord) => string;
  },
): Promise<number> {
  let code = 0;
  for (const id of specIds) {
    const { record, recordPath } = await runOnnxBenchmark({
      target: id,
      overrides: opts.overrides,
      encoderPath: encoder.path,
      layout: encoder.layout,
      outputName: encoder.outputName,
      resultsDir: opts.resultsDir,
      dataDir: opts.dataDir,
      specsDir: opts.specsDir,
      baselines: opts.baselines,
      backend: opts.backend,
      workers: opts.workers,
      progress: (line) => console.error(line),
    });
    console.log(
      `\n${record.specId} (ONNX ${record.encoder?.sha256.slice(0, 12)}): ${record.status}`,
    );
    console.log(`record: ${recordPath}`);
    for (const s of record.encoder?.skipped ?? []) {
      console.log(`skipped ${s.protocol}: ${s.reason}`);
    }
    console.log(opts.summary(record));
    if (record.status !== "complete") code = 1;
    try {
      const report = await writeReport(opts.resultsDir);
      console.log(`tables: ${report.files.join(", ")} (${report.records} records)`);
    } catch (error) {
      console.error(`tables not refreshed: ${error instanceof Error ? error.message : error}`);
      code = 1;
    }
  }
  return code;
}

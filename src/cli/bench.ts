/**
 * `deno task bench [spec|suite ...] [--backend NAME] [--set k=v]... [--seed N] [--resume RUN]
 * [--dry-run] [--list] [--results DIR] [--data-dir DIR] [--baselines LIST] [--workers N]`
 *
 * Runs benchmarks end to end (data check, pretraining, every evaluation protocol, record, tables)
 * and prints a summary. With no target it runs `fmnist-tiny`. SIGINT finishes the current update,
 * writes a checkpoint and an `interrupted` record; `--resume RUN` continues it. Exit codes: 0 all
 * runs complete, 1 a run failed or was interrupted, 2 unusable input.
 *
 * @module
 */
import { join, resolve } from "node:path";
import { parseFlags } from "./args.ts";
import { runMain } from "./main.ts";
import { useBackend } from "./use_backend.ts";
import { BenchError } from "../util/errors.ts";
import { loadSpec } from "../spec/load.ts";
import { loadSuites, resolveTarget } from "../spec/suites.ts";
import { DEFAULT_SPECS_DIR } from "../spec/context.ts";
import { parseJsonc } from "../spec/jsonc.ts";
import { countMacs } from "../model/plan.ts";
import { verifyDataset } from "../data/verify.ts";
import { findRecordFiles, readRecord } from "../report/record.ts";
import type { RunRecord } from "../report/record_types.ts";
import { writeReport } from "../report/tables.ts";
import { refreshLeaderboard } from "../leaderboard/build.ts";
import type { BaselineName } from "../eval/run_protocols.ts";
import { openSpecData, requestedBaselines, runBenchmark } from "../train/run_benchmark.ts";
import { trainingLength } from "../train/pretrain.ts";
import { parseFeatureExtractorChoice } from "../onnx/select_extractor.ts";
import { benchOnnxEncoder, parseOnnxEncoderFlags } from "../onnx/bench_onnx_cli.ts";

/** Environment flag that must be `1` for fault-injection flags to be accepted. */
export const FAULT_INJECTION_ENV = "AMDIM_BENCH_ALLOW_FAULT_INJECTION";

const USAGE = `usage: deno task bench [spec|suite ...] [flags]

  (no target)           run the default benchmark, fmnist-tiny
  --backend NAME        auto|cpu|wasm|webgpu|native|tensorflow|tensorflow-gpu (default auto)
  --set key.path=value  override a spec key (repeatable), e.g. --set pretrain.steps=200
  --seed N              override pretrain.seed and augment.seed
  --resume RUN          continue an interrupted or failed run (id under <results>/runs, or folder)
  --dry-run             print the resolved spec, its hash, data status and estimated cost
  --list                list specs and suites
  --results DIR         results folder (default results)
  --data-dir DIR        data folder (default AMDIM_DATA_DIR or the user cache)
  --baselines LIST      add calibration baselines: random-init,raw-pixels
  --workers N           augmentation worker threads (default 0: in-thread)
  --feature-extractor X auto|tfjs|onnxruntime: how linear-probe/knn features and amdim-offline's
                        r1 are computed (default auto: ONNX Runtime on CPU backends if it agrees
                        with tfjs, tfjs on GPU backends; recorded in the record)
  --encoder PATH        evaluate an ONNX image encoder instead of pretraining (frozen-feature
                        protocols only; amdim-online/amdim-offline are skipped with the reason)
  --encoder-layout L    nhwc|nchw input layout of --encoder (default: from the model)
  --encoder-output NAME output of --encoder to use as features (default r1 or the only one)
  --debug-inject-nan-at-step N   feed NaN at update N (needs ${FAULT_INJECTION_ENV}=1; tests only)`;

function pct(v: number | undefined): string {
  return v === undefined ? "—" : `${(v * 100).toFixed(2)}%`;
}

/** The final summary: metric, value (last / bestVal), published, Δ. */
export function summaryTable(record: RunRecord): string {
  const rows: string[][] = [["metric", "last", "bestVal", "published", "Δ"]];
  for (const [name, m] of Object.entries(record.metrics).sort()) {
    const ref = record.reference && record.reference.metric === name ? record.reference : null;
    rows.push([
      name,
      pct(m.last),
      pct(m.bestVal),
      ref ? `${pct(ref.value)}${ref.protocolMatch ? "" : " (protocol differs)"}` : "—",
      ref ? `${((m.last - ref.value) * 100).toFixed(2)} pt` : "—",
    ]);
  }
  for (const [name, v] of Object.entries(record.baselines ?? {}).sort()) {
    rows.push([`baseline ${name}`, pct(v), "—", "—", "—"]);
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r, i) => {
    const line = r.map((cell, c) => cell.padEnd(widths[c])).join("  ");
    return i === 0 ? `${line}\n${widths.map((w) => "-".repeat(w)).join("  ")}` : line;
  }).join("\n");
}

async function listSpecs(specsDir: string): Promise<void> {
  const ids: string[] = [];
  for await (const e of Deno.readDir(specsDir)) {
    if (e.isFile && e.name.endsWith(".jsonc")) ids.push(e.name.replace(/\.jsonc$/, ""));
  }
  console.log("specs:");
  for (const id of ids.sort()) {
    let description = "";
    try {
      const v = parseJsonc(await Deno.readTextFile(join(specsDir, `${id}.jsonc`)), id) as {
        description?: string;
      };
      description = v.description ?? "";
    } catch {
      description = "(unreadable)";
    }
    console.log(`  ${id.padEnd(20)} ${description}`);
  }
  console.log("suites:");
  for (const [name, specs] of Object.entries(await loadSuites(specsDir))) {
    console.log(`  ${name.padEnd(20)} ${specs.join(", ")}`);
  }
}

async function dryRun(
  target: string,
  overrides: string[],
  opts: { dataDir?: string; resultsDir: string; specsDir: string },
): Promise<void> {
  const loaded = await loadSpec(target, { overrides, specsDir: opts.specsDir });
  const { spec } = loaded;
  console.log(`# ${spec.id}  (${loaded.file})`);
  console.log(JSON.stringify(spec, null, 2));
  console.log(`specHash: ${loaded.hash}`);
  console.log(`comparableHash: ${loaded.comparableHash}`);
  console.log("data:");
  const report = await verifyDataset(spec.dataset.id, { dataDir: opts.dataDir });
  for (const f of report.files) console.log(`  ${f.status.padEnd(9)} ${f.path}`);
  for (const n of report.notes) console.log(`  note: ${n}`);
  let trainSize: number | null = null;
  try {
    const { train, test } = await openSpecData(spec, {
      dataDir: opts.dataDir,
      download: false,
    });
    trainSize = train.length;
    console.log(
      `  pins: ${Object.keys(spec.dataset.pins).length} checked, all match; ` +
        `train ${train.length} images, test ${test.length}`,
    );
    train.close();
    test.close();
  } catch (error) {
    console.log(`  not usable: ${error instanceof Error ? error.message : String(error)}`);
  }
  const macs = countMacs(spec.encoder);
  console.log("cost:");
  console.log(`  encoder: ${(macs / 1e6).toFixed(1)} M MACs / image (forward)`);
  if (trainSize !== null) {
    const { totalSteps } = trainingLength(spec, trainSize);
    const images = totalSteps * spec.pretrain.batchSize * 2; // two views per sample
    console.log(
      `  pretrain: ${totalSteps} steps x ${spec.pretrain.batchSize} images x 2 views; ` +
        `${(macs * images * 3 / 1e12).toFixed(2)} T MACs (x3 for forward + backward)`,
    );
    let files: string[] = [];
    try {
      files = await findRecordFiles(join(opts.resultsDir, "runs"));
    } catch {
      files = [];
    }
    let best: RunRecord | null = null;
    for (const f of files) {
      try {
        const r = await readRecord(f);
        if (r.specId === spec.id && r.phases.pretrain.imagesPerSecond) {
          if (!best || r.startedAt > best.startedAt) best = r;
        }
      } catch {
        // skip unreadable records
      }
    }
    if (best) {
      const ips = best.phases.pretrain.imagesPerSecond!;
      const seconds = totalSteps * spec.pretrain.batchSize / ips;
      console.log(
        `  time: ~${(seconds / 60).toFixed(1)} min of pretraining at ${ips.toFixed(1)} ` +
          `images/s (measured by ${best.runId} on ${best.environment.backend.name}), plus evaluation`,
      );
    } else {
      console.log("  time: no previous record of this spec to estimate from");
    }
  }
  const baselines = requestedBaselines(spec);
  if (baselines.length) console.log(`baselines: ${baselines.join(", ")}`);
}

if (import.meta.main) {
  runMain(async (argv) => {
    const flags = parseFlags(argv, {
      string: [
        "backend",
        "seed",
        "resume",
        "results",
        "data-dir",
        "baselines",
        "workers",
        "debug-inject-nan-at-step",
        "feature-extractor",
        "encoder",
        "encoder-layout",
        "encoder-output",
      ],
      boolean: ["dry-run", "list", "help"],
      collect: ["set"],
      alias: { h: "help" },
    });
    if (flags.help) {
      console.log(USAGE);
      return 0;
    }
    const resultsDir = resolve(String(flags.results ?? "results"));
    const dataDir = flags["data-dir"] as string | undefined;
    const specsDir = DEFAULT_SPECS_DIR;
    const overrides = (flags.set as string[] | undefined) ?? [];
    const int = (name: string): number | undefined => {
      const v = flags[name];
      if (v === undefined) return undefined;
      const n = Number(v);
      if (!Number.isSafeInteger(n) || n < 0) {
        throw new BenchError("usage", `--${name} expects an integer >= 0, got ${v}`);
      }
      return n;
    };
    const seed = int("seed");
    const workers = int("workers") ?? 0;
    const nanAtStep = int("debug-inject-nan-at-step");
    if (nanAtStep !== undefined && Deno.env.get(FAULT_INJECTION_ENV) !== "1") {
      throw new BenchError("usage", "--debug-inject-nan-at-step is a test-only fault injection", {
        location: "--debug-inject-nan-at-step",
        hint: `set ${FAULT_INJECTION_ENV}=1 to allow it`,
      });
    }
    const baselines = flags.baselines === undefined
      ? []
      : String(flags.baselines).split(",").filter(Boolean) as BaselineName[];
    for (const b of baselines) {
      if (b !== "random-init" && b !== "raw-pixels") {
        throw new BenchError("usage", `unknown baseline ${b}`, {
          location: "--baselines",
          hint: "random-init, raw-pixels",
        });
      }
    }
    if (flags.list) {
      await listSpecs(specsDir);
      return 0;
    }
    const targets = flags._.length > 0 ? flags._ : ["fmnist-tiny"];
    if (flags.resume && flags._.length > 0) {
      throw new BenchError("usage", "--resume takes the run, not a spec", {
        hint: "deno task bench --resume <run-id>",
      });
    }
    const specIds: string[] = [];
    if (!flags.resume) {
      for (const t of targets) specIds.push(...(await resolveTarget(t, specsDir)).specs);
    }
    const allOverrides = [...overrides];
    if (seed !== undefined) allOverrides.push(`pretrain.seed=${seed}`, `augment.seed=${seed}`);
    if (flags["dry-run"]) {
      for (const id of specIds) await dryRun(id, allOverrides, { dataDir, resultsDir, specsDir });
      return 0;
    }

    const featureExtractor = parseFeatureExtractorChoice(
      String(flags["feature-extractor"] ?? "auto"),
    );
    const onnxEncoder = parseOnnxEncoderFlags(flags);
    if (onnxEncoder && flags.resume) {
      throw new BenchError("usage", "--encoder evaluates a model; there is nothing to resume", {
        location: "--encoder",
      });
    }
    const backend = await useBackend(String(flags.backend ?? "auto"));
    console.error(`backend: ${backend.name} (${backend.device}, ${backend.threads} threads)`);
    if (onnxEncoder) {
      return await benchOnnxEncoder(onnxEncoder, specIds, {
        overrides: allOverrides,
        resultsDir,
        dataDir,
        specsDir,
        baselines,
        backend: { ...backend, threads: backend.threads ?? null },
        workers,
        summary: summaryTable,
      });
    }
    const stop = { requested: false };
    let signals = 0;
    const onSigint = () => {
      signals++;
      if (signals > 1) {
        console.error("\nsecond interrupt: exiting without a checkpoint");
        Deno.exit(130);
      }
      stop.requested = true;
      console.error("\ninterrupt: finishing the current step, then checkpointing (again to abort)");
    };
    Deno.addSignalListener("SIGINT", onSigint);
    const tty = Deno.stderr.isTerminal();
    const progress = (line: string) => {
      if (tty && /^epoch \d+ step/.test(line)) {
        Deno.stderr.writeSync(new TextEncoder().encode(`\r\x1b[K${line}`));
      } else {
        console.error(tty ? `\r\x1b[K${line}` : line);
      }
    };
    let code = 0;
    try {
      const runs = flags.resume ? [undefined] : specIds;
      for (const id of runs) {
        const { record, recordPath } = await runBenchmark({
          target: id,
          overrides,
          seed,
          resume: flags.resume as string | undefined,
          resultsDir,
          dataDir,
          specsDir,
          baselines,
          backend: { ...backend, threads: backend.threads ?? null },
          stop,
          progress,
          nanAtStep,
          workers,
          featureExtractor,
        });
        if (tty) console.error("");
        console.log(
          `\n${record.specId}: ${record.status}${record.reason ? ` (${record.reason})` : ""}`,
        );
        console.log(`record: ${recordPath}`);
        if (record.status === "complete") console.log(summaryTable(record));
        if (record.status !== "complete") code = 1;
        try {
          const report = await writeReport(resultsDir);
          console.log(`tables: ${report.files.join(", ")} (${report.records} records)`);
        } catch (error) {
          console.error(`tables not refreshed: ${error instanceof Error ? error.message : error}`);
          code = 1;
        }
        try {
          const board = await refreshLeaderboard(resultsDir);
          console.log(
            `leaderboard: ${board.html} (${board.accepted} verified, ${board.rejected} rejected)`,
          );
        } catch (error) {
          console.error(
            `leaderboard not refreshed: ${error instanceof Error ? error.message : error}`,
          );
          code = 1;
        }
        if (stop.requested) break;
      }
    } finally {
      Deno.removeSignalListener("SIGINT", onSigint);
    }
    return code;
  });
}

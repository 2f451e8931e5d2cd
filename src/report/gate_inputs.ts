/**
 * Gathering the gate's inputs: specs of a suite or spec, baseline records from a file or folder,
 * candidate records from a file or folder, the newest complete runs, or fresh runs through an
 * injected {@linkcode SpecRunner}.
 *
 * @module
 */
import { join } from "node:path";
import { BenchError } from "../util/errors.ts";
import { loadSpec, type LoadSpecOptions } from "../spec/load.ts";
import { resolveTarget } from "../spec/suites.ts";
import type { LoadedSpec } from "../spec/types.ts";
import { gate, type GateReport } from "./gate.ts";
import { readRecords } from "./record.ts";
import type { RunRecord } from "./record_types.ts";

/**
 * Runs one spec to completion and returns its record (the bench library provides it; tests pass
 * a fake). `seedIndex` 0 is the spec as written; seed index i > 0 has `pretrain.seed` and
 * `augment.seed` raised by i (already applied to `loaded`).
 */
export type SpecRunner = (loaded: LoadedSpec, options: { seedIndex: number }) => Promise<RunRecord>;

/** Options of {@linkcode runGate}. */
export interface RunGateOptions {
  /** Suite name, spec id or spec path. */
  target: string;
  /** Baseline record file or folder. */
  baseline: string;
  /** Candidate record file or folder (else the newest runs in `runsDir`, or `run`). */
  candidate?: string;
  /** Candidate runs per spec (default 1). */
  seeds?: number;
  /** Run the candidates with `runSpec` instead of reading records. */
  run?: boolean;
  /** The runner for `run`. */
  runSpec?: SpecRunner;
  /** Where the newest runs are looked up (default `results/runs`). */
  runsDir?: string;
  /** Spec loading options (specs folder, overrides, manifest, published). */
  load?: LoadSpecOptions;
  /** Progress lines. */
  log?: (line: string) => void;
}

function unusable(message: string, location?: string, hint?: string): never {
  throw new BenchError("gate_input", message, { location, hint });
}

/**
 * The newest `count` complete records of a spec, one per seed pair, newest first.
 *
 * @example
 * ```ts
 * newestComplete(records, "smoke", 3);
 * ```
 */
export function newestComplete(
  records: readonly RunRecord[],
  specId: string,
  count: number,
): RunRecord[] {
  const sorted = records
    .filter((r) => r.specId === specId && r.status === "complete")
    .sort((a, b) =>
      (b.finishedAt ?? "").localeCompare(a.finishedAt ?? "") || b.runId.localeCompare(a.runId)
    );
  const out: RunRecord[] = [];
  const seen = new Set<string>();
  for (const r of sorted) {
    const key = `${r.seeds.pretrain}/${r.seeds.augment}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(r);
    if (out.length === count) break;
  }
  return out;
}

/**
 * Resolves the target, gathers baselines and candidates and gates each spec. Unusable inputs
 * that make the comparison impossible (no records, bad records, invalid specs) are `gate_input`
 * (or spec/record) errors; problems found while comparing are in the reports.
 *
 * @example
 * ```ts
 * const reports = await runGate({ target: "quick", baseline: "results/baselines" });
 * ```
 */
export async function runGate(options: RunGateOptions): Promise<GateReport[]> {
  const log = options.log ?? (() => {});
  const seeds = options.seeds ?? 1;
  if (!Number.isInteger(seeds) || seeds < 1) {
    unusable(`--seeds must be a positive integer, got ${seeds}`, "--seeds");
  }
  if (options.run && options.candidate) {
    unusable("use either --run or --candidate, not both", "--run");
  }
  if (options.run && !options.runSpec) unusable("no runner available for --run", "--run");
  const { specs } = await resolveTarget(options.target, options.load?.specsDir);
  const baselineRecords = await readRecords(options.baseline);
  const candidatePool = options.candidate
    ? await readRecords(options.candidate)
    : options.run
    ? []
    : await readRecords(options.runsDir ?? join("results", "runs")).catch((error) => {
      if (error instanceof BenchError && error.code === "record_missing") return [];
      throw error;
    });
  const reports: GateReport[] = [];
  for (const id of specs) {
    const loaded = await loadSpec(id, options.load);
    const specId = loaded.spec.id;
    const baseline = baselineRecords.filter((r) => r.specId === specId && r.status === "complete");
    let candidate: RunRecord[];
    if (options.run) {
      candidate = [];
      for (let i = 0; i < seeds; i++) {
        const extra = i === 0 ? [] : [
          `pretrain.seed=${loaded.spec.pretrain.seed + i}`,
          `augment.seed=${loaded.spec.augment.seed + i}`,
        ];
        const seeded = i === 0 ? loaded : await loadSpec(id, {
          ...options.load,
          overrides: [...(options.load?.overrides ?? []), ...extra],
        });
        log(`running ${specId} (seed index ${i})`);
        candidate.push(await options.runSpec!(seeded, { seedIndex: i }));
      }
    } else if (options.candidate) {
      candidate = candidatePool.filter((r) => r.specId === specId && r.status === "complete");
    } else {
      candidate = newestComplete(candidatePool, specId, seeds);
      if (candidate.length < seeds) {
        unusable(
          `found ${candidate.length} complete run(s) of "${specId}" with distinct seeds, --seeds asks for ${seeds}`,
          options.runsDir ?? join("results", "runs"),
          "run more seeds (deno task bench ... --seed N) or use --run",
        );
      }
    }
    reports.push(
      gate({
        specId,
        gate: loaded.spec.gate,
        comparableHash: loaded.comparableHash,
        baseline,
        candidate,
      }),
    );
  }
  return reports;
}

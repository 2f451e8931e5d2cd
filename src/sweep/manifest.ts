/**
 * Expanding a sweep (specs × `--vary` grid × seeds) into its manifest: one task per line item,
 * each with the exact `deno task bench` command, its own results folder and status file. Every
 * line item's spec is loaded and validated here, so a malformed sweep fails before anything is
 * created or submitted.
 *
 * @module
 */
import { isAbsolute, join, resolve } from "node:path";
import { loadSpec } from "../spec/load.ts";
import { resolveTarget } from "../spec/suites.ts";
import { DEFAULT_SPECS_DIR, REPO_ROOT } from "../spec/context.ts";
import { canonicalJson } from "../spec/canonical.ts";
import { BenchError } from "../util/errors.ts";
import { sha256Hex } from "../util/hash.ts";
import { writeJsonAtomic } from "../util/atomic_write.ts";
import {
  type SlurmResources,
  SWEEP_SCHEMA_VERSION,
  type SweepManifest,
  type SweepMode,
  type SweepTask,
} from "./types.ts";

/** File names inside a sweep folder. */
export const SWEEP_FILES = {
  manifest: "manifest.json",
  submissions: "submissions.json",
  record: "sweep.json",
  gate: "gate.json",
  table: "SWEEP.md",
  results: "RESULTS.md",
  csv: "results.csv",
} as const;

/** What {@linkcode createSweepManifest} expands. */
export interface SweepOptions {
  /** Spec id, spec path or suite. */
  target: string;
  /** Seeds (`--seeds`); omitted: one run per line item with the spec's own seeds. */
  seeds?: number[];
  /** `--set` overrides for every task. */
  overrides?: string[];
  /** `--vary` axes (Cartesian product, first axis outermost). */
  vary?: Array<{ key: string; values: string[] }>;
  /** bench `--backend` (default `auto`). */
  backend?: string;
  /** bench `--data-dir`. */
  dataDir?: string | null;
  /** Results folder (default `results`). */
  resultsDir?: string;
  mode: SweepMode;
  /** Tasks at once (default: all). */
  maxParallel?: number;
  /** Slurm resources (mode `slurm`). */
  slurm?: Partial<SlurmResources>;
  /** Baseline for the gate on the aggregate. */
  gateBaseline?: string | null;
  /** Specs folder (default `benchmarks/`). */
  specsDir?: string;
  /** Repository root the commands run in (default this checkout). */
  repoRoot?: string;
  /** Creation time (default now). */
  now?: Date;
}

/**
 * Quotes one argument for a POSIX shell (left bare when it needs no quotes).
 *
 * @example
 * ```ts
 * shellQuote("a b"); // "'a b'"
 * ```
 */
export function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_\-.,/=:@+%]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`;
}

/** A shell command line from argv. */
export function commandLine(argv: readonly string[]): string {
  return argv.map(shellQuote).join(" ");
}

function slug(text: string): string {
  const s = text.replace(/\.jsonc?$/, "").split("/").pop()!.toLowerCase()
    .replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "");
  return s || "sweep";
}

/**
 * The bench command of one line item.
 *
 * @example
 * ```ts
 * benchCommand({ target: "smoke", backend: "cpu", overrides: [], seed: 2, resultsDir: "/r/t/0", dataDir: null });
 * // ["deno", "task", "bench", "smoke", "--backend", "cpu", "--seed", "2", "--results", "/r/t/0"]
 * ```
 */
export function benchCommand(item: {
  target: string;
  backend: string;
  overrides: readonly string[];
  seed: number | null;
  resultsDir: string;
  dataDir: string | null;
}): string[] {
  return [
    "deno",
    "task",
    "bench",
    item.target,
    "--backend",
    item.backend,
    ...item.overrides.flatMap((o) => ["--set", o]),
    ...(item.seed === null ? [] : ["--seed", String(item.seed)]),
    "--results",
    item.resultsDir,
    ...(item.dataDir ? ["--data-dir", item.dataDir] : []),
  ];
}

/**
 * The bench command that resumes a task's interrupted or failed run from its checkpoint.
 *
 * @example
 * ```ts
 * resumeCommand(manifest, task, "/r/sweeps/s/tasks/0/runs/smoke-...");
 * ```
 */
export function resumeCommand(
  manifest: SweepManifest,
  task: SweepTask,
  runDir: string,
): string[] {
  return [
    "deno",
    "task",
    "bench",
    "--resume",
    runDir,
    "--backend",
    manifest.backend,
    "--results",
    task.resultsDir,
    ...(manifest.dataDir ? ["--data-dir", manifest.dataDir] : []),
  ];
}

function grid(vary: Array<{ key: string; values: string[] }>): Array<Record<string, string>> {
  let out: Array<Record<string, string>> = [{}];
  for (const axis of vary) {
    out = out.flatMap((v) => axis.values.map((value) => ({ ...v, [axis.key]: value })));
  }
  return out;
}

function positiveInt(value: number | undefined, flag: string, min = 1): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isSafeInteger(value) || value < min) {
    throw new BenchError("usage", `${flag} expects an integer >= ${min}, got ${value}`, {
      location: flag,
    });
  }
  return value;
}

/**
 * A sweep id: `<target>-<UTC yyyymmddThhmmss>-<first 6 hex of the line items' hash>`.
 *
 * @example
 * ```ts
 * makeSweepId("smoke", "ab12cd...", new Date("2025-01-02T03:04:05Z")); // "smoke-20250102T030405-ab12cd"
 * ```
 */
export function makeSweepId(target: string, itemsHash: string, at: Date): string {
  const stamp = at.toISOString().slice(0, 19).replace(/[-:]/g, "");
  return `${slug(target)}-${stamp}-${itemsHash.slice(0, 6)}`;
}

/**
 * Expands and validates a sweep. Nothing is written: {@linkcode writeManifest} creates the
 * folder. Throws `sweep_invalid` (or the spec loader's error) for a malformed sweep.
 *
 * @example
 * ```ts
 * const m = await createSweepManifest({ target: "smoke", seeds: [1, 2], mode: "local" });
 * m.tasks.length; // 2
 * ```
 */
export async function createSweepManifest(options: SweepOptions): Promise<SweepManifest> {
  const specsDir = options.specsDir ?? DEFAULT_SPECS_DIR;
  const repoRoot = resolve(options.repoRoot ?? REPO_ROOT);
  const resultsDir = resolve(options.resultsDir ?? "results");
  const backend = options.backend ?? "auto";
  const dataDir = options.dataDir ? resolve(options.dataDir) : null;
  const overrides = [...(options.overrides ?? [])];
  const vary = options.vary ?? [];
  const seeds = options.seeds ?? null;
  if (seeds !== null) {
    if (seeds.length === 0) {
      throw new BenchError("sweep_invalid", "no seeds given", { location: "--seeds" });
    }
    if (new Set(seeds).size !== seeds.length) {
      throw new BenchError("sweep_invalid", "duplicate seeds", { location: "--seeds" });
    }
  }
  const varyKeys = new Set<string>();
  for (const axis of vary) {
    if (varyKeys.has(axis.key)) {
      throw new BenchError("sweep_invalid", `--vary ${axis.key} is given twice`, {
        location: `--vary ${axis.key}`,
        hint: "list every value of a key in one --vary key=v1,v2",
      });
    }
    varyKeys.add(axis.key);
  }
  positiveInt(options.maxParallel, "--max-parallel");
  const slurm: SlurmResources | null = options.mode === "slurm"
    ? {
      partition: options.slurm?.partition ?? null,
      cpus: positiveInt(options.slurm?.cpus, "--cpus") ?? 1,
      gpus: positiveInt(options.slurm?.gpus, "--gpus", 0) ?? 0,
      time: options.slurm?.time ?? null,
    }
    : null;
  if (slurm?.time !== null && slurm?.time !== undefined && !/^[0-9:-]+$/.test(slurm.time)) {
    throw new BenchError("usage", `--time ${slurm.time} is not a Slurm time limit`, {
      location: "--time",
      hint: "minutes, MM:SS, HH:MM:SS, D-HH or D-HH:MM:SS",
    });
  }

  const { specs } = await resolveTarget(options.target, specsDir);
  const targets = specs.map((s) => s.includes("/") && !isAbsolute(s) ? resolve(s) : s);
  const now = options.now ?? new Date();
  interface Item {
    target: string;
    specId: string;
    variant: Record<string, string>;
    overrides: string[];
    seed: number | null;
    specHash: string;
    comparableHash: string;
  }
  const items: Item[] = [];
  const byHash = new Map<string, string>();
  for (const target of targets) {
    for (const variant of grid(vary)) {
      const taskOverrides = [
        ...overrides,
        ...Object.entries(variant).map(([k, v]) => `${k}=${v}`),
      ];
      for (const seed of seeds ?? [null]) {
        const all = seed === null
          ? taskOverrides
          : [...taskOverrides, `pretrain.seed=${seed}`, `augment.seed=${seed}`];
        const loaded = await loadSpec(target, { overrides: all, specsDir });
        const label = `${target}${
          Object.keys(variant).length
            ? ` [${Object.entries(variant).map(([k, v]) => `${k}=${v}`).join(" ")}]`
            : ""
        }${seed === null ? "" : ` seed ${seed}`}`;
        const twin = byHash.get(loaded.hash);
        if (twin !== undefined) {
          throw new BenchError(
            "sweep_invalid",
            `line items "${twin}" and "${label}" resolve to the same spec`,
            {
              location: `spec hash ${loaded.hash.slice(0, 12)}`,
              hint: "every task of a sweep must run something different (check --vary and --seeds)",
            },
          );
        }
        byHash.set(loaded.hash, label);
        items.push({
          target,
          specId: loaded.spec.id,
          variant,
          overrides: taskOverrides,
          seed,
          specHash: loaded.hash,
          comparableHash: loaded.comparableHash,
        });
      }
    }
  }
  const itemsHash = sha256Hex(canonicalJson(items.map((i) => i.specHash)));
  const sweepId = makeSweepId(options.target, itemsHash, now);
  const sweepDir = join(resultsDir, "sweeps", sweepId);
  return materialize({
    schemaVersion: SWEEP_SCHEMA_VERSION,
    sweepId,
    target: options.target,
    seeds,
    overrides,
    vary,
    backend,
    dataDir,
    mode: options.mode,
    maxParallel: options.maxParallel ?? items.length,
    slurm,
    gateBaseline: options.gateBaseline ? resolve(options.gateBaseline) : null,
    repoRoot,
    resultsDir,
    sweepDir,
    createdAt: now.toISOString(),
    tasks: items.map((item, index) => ({
      index,
      ...item,
      group: groupName(item.specId, item.variant),
      specHash: item.specHash,
      resultsDir: "",
      statusFile: "",
      command: [],
      commandLine: "",
    })),
  });
}

/** The group of a task: spec id plus its `--vary` values. */
export function groupName(specId: string, variant: Record<string, string>): string {
  const v = Object.entries(variant).map(([k, x]) => `${k}=${x}`).join(" ");
  return v ? `${specId} [${v}]` : specId;
}

/** Fills in every task's folder, status file and command for the manifest's sweep folder. */
function materialize(manifest: SweepManifest): SweepManifest {
  for (const task of manifest.tasks) {
    task.resultsDir = join(manifest.sweepDir, "tasks", String(task.index));
    task.statusFile = join(task.resultsDir, "status.json");
    task.command = benchCommand({
      target: task.target,
      backend: manifest.backend,
      overrides: task.overrides,
      seed: task.seed,
      resultsDir: task.resultsDir,
      dataDir: manifest.dataDir,
    });
    task.commandLine = commandLine(task.command);
  }
  return manifest;
}

/**
 * Creates the sweep folder exclusively (a taken id gets `-2`, `-3`, ...) and writes the manifest
 * (never overwritten). Returns the manifest as written.
 *
 * @example
 * ```ts
 * const written = await writeManifest(await createSweepManifest({ target: "smoke", mode: "local" }));
 * ```
 */
export async function writeManifest(manifest: SweepManifest): Promise<SweepManifest> {
  const sweepsDir = join(manifest.resultsDir, "sweeps");
  await Deno.mkdir(sweepsDir, { recursive: true });
  for (let n = 1; n < 1000; n++) {
    const id = n === 1 ? manifest.sweepId : `${manifest.sweepId}-${n}`;
    const dir = join(sweepsDir, id);
    try {
      await Deno.mkdir(dir);
    } catch (error) {
      if (error instanceof Deno.errors.AlreadyExists) continue;
      throw error;
    }
    const final = materialize({ ...manifest, sweepId: id, sweepDir: dir });
    for (const t of final.tasks) await Deno.mkdir(t.resultsDir, { recursive: true });
    await Deno.mkdir(join(dir, "logs"));
    await writeJsonAtomic(join(dir, SWEEP_FILES.manifest), final, { noOverwrite: true });
    return final;
  }
  throw new BenchError("exists", "no free sweep folder name", {
    location: join(sweepsDir, manifest.sweepId),
  });
}

/**
 * The folder of a sweep given its id (under `<results>/sweeps/`) or its path.
 *
 * @example
 * ```ts
 * sweepDirOf("smoke-20250102T030405-ab12cd", "results"); // "<abs>/results/sweeps/smoke-..."
 * ```
 */
export function sweepDirOf(idOrPath: string, resultsDir = "results"): string {
  return idOrPath.includes("/") ? resolve(idOrPath) : resolve(resultsDir, "sweeps", idOrPath);
}

/**
 * Reads a sweep's manifest.
 *
 * @example
 * ```ts
 * const manifest = await readManifest("results/sweeps/smoke-20250102T030405-ab12cd");
 * ```
 */
export async function readManifest(sweepDir: string): Promise<SweepManifest> {
  const path = join(sweepDir, SWEEP_FILES.manifest);
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (cause) {
    throw new BenchError("sweep_not_found", "no sweep manifest here", {
      location: path,
      hint: "pass a sweep id under <results>/sweeps/ (with --results DIR) or the sweep folder",
      cause,
    });
  }
  let value: SweepManifest;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new BenchError("sweep_invalid", "manifest.json is not valid JSON", {
      location: path,
      cause,
    });
  }
  if (value.schemaVersion !== SWEEP_SCHEMA_VERSION || !Array.isArray(value.tasks)) {
    throw new BenchError("sweep_invalid", "not a sweep manifest (schemaVersion 1 with tasks)", {
      location: path,
    });
  }
  return value;
}

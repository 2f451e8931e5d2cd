/**
 * `deno task parity`: the same AMDIM encoder, heads, inputs and seed on two or more tfjs
 * backends; every backend after the first is compared with the first (the reference) on eval
 * features, NCE gradients, the losses of a few trainer steps, the parameter updates and the
 * trained features (`src/parity/`). With `--golden FILE` each backend also checks the NCE
 * objective against the golden loss cases of that file.
 *
 * Exit codes: 0 every backend within tolerance, 1 a deviation or a failed golden case, 2 usage,
 * unreadable input or a backend that cannot start.
 *
 * @module
 */
import { runMain } from "./main.ts";
import { parseFlags } from "./args.ts";
import { useBackend } from "./use_backend.ts";
import { ENCODER_FLAGS, encoderFromFlags, intFlag } from "./encoder_flags.ts";
import { BenchError } from "../util/errors.ts";
import { writeJsonAtomic } from "../util/atomic_write.ts";
import { checkLossCase, readLossCases } from "../loss/mod.ts";
import {
  compareProbes,
  DEFAULT_PARITY_TOLERANCES,
  PARITY_QUANTITIES,
  type ParityRow,
  type ParityTolerances,
  probeBackend,
} from "../parity/mod.ts";

const USAGE = `usage: deno task parity [flags]

  --backends A,B[,C]  backends to run; the first is the reference (default cpu,auto)
  --config NAME       encoder config (default tiny), or --ndf N --n-rkhs N --n-depth N --input-size N
  --batch N           images per view (default 4)
  --steps N           trainer steps compared (default 2)
  --seed N            weights, inputs and random streams (default 1)
  --classes N         classes of the online heads (default 10)
  --tol Q=X,...       override tolerances (${
  PARITY_QUANTITIES.map((q) => `${q}=${DEFAULT_PARITY_TOLERANCES[q]}`).join(", ")
})
  --golden FILE       also check every backend against these golden loss cases
  --out FILE          write the JSON report there (atomically)
  --json              print the JSON report instead of the table

exit codes: 0 within tolerance, 1 a deviation, 2 usage or a backend that cannot start`;

/** One backend's part of the report. */
export interface ParityBackendReport {
  /** Backend that ran. */
  backend: string;
  /** Device it ran on. */
  device: string;
  /** Threads it used. */
  threads: number;
  /** Backend facts (package versions, adapter, libraries). */
  details: Record<string, string>;
  /** Wall seconds of its probe. */
  seconds: number;
  /** Comparison with the reference (absent for the reference itself). */
  rows?: ParityRow[];
  /** Golden loss cases passed / run, when `--golden` was given. */
  golden?: { file: string; passed: number; cases: number; worst: string };
}

/** What `parity --json` prints and `--out` writes. */
export interface ParityReport {
  /** Encoder config name (or a description of a custom one). */
  config: string;
  /** The encoder configuration probed. */
  encoder: unknown;
  /** Images per view. */
  batch: number;
  /** Trainer steps compared. */
  steps: number;
  /** Seed of weights, inputs and random streams. */
  seed: number;
  /** Tolerances applied. */
  tolerances: ParityTolerances;
  /** Reference first. */
  backends: ParityBackendReport[];
  /** Every row and golden case of every backend passed. */
  pass: boolean;
  /** When the check finished (ISO 8601). */
  finished: string;
}

function parseTolerances(text: string | undefined): ParityTolerances {
  const tol: ParityTolerances = { ...DEFAULT_PARITY_TOLERANCES };
  if (text === undefined) return tol;
  for (const part of text.split(",")) {
    const [key, value] = part.split("=");
    const x = Number(value);
    if (!(PARITY_QUANTITIES as readonly string[]).includes(key) || !(x >= 0)) {
      throw new BenchError("usage", `bad tolerance "${part}"`, {
        location: "--tol",
        hint: `expected Q=X with Q one of ${PARITY_QUANTITIES.join(", ")} and X >= 0`,
      });
    }
    tol[key as keyof ParityTolerances] = x;
  }
  return tol;
}

function fmtDev(x: number): string {
  return x === 0 ? "0" : x.toExponential(2);
}

/**
 * Prints the report as a table.
 *
 * @example
 * ```ts
 * printParityTable(report);
 * ```
 */
export function printParityTable(report: ParityReport): void {
  const [ref, ...others] = report.backends;
  console.log(
    `parity: ${report.config}, batch ${report.batch}, ${report.steps} trainer step(s), seed ` +
      `${report.seed}; reference ${ref.backend} (${ref.device}, ${ref.seconds.toFixed(1)} s)`,
  );
  const lines = [["backend", "quantity", "worst", "deviation", "limit", "result"]];
  for (const b of others) {
    for (const r of b.rows ?? []) {
      lines.push([
        b.backend,
        r.quantity,
        r.worst,
        fmtDev(r.deviation),
        String(r.limit),
        r.pass ? "ok" : "FAIL",
      ]);
    }
  }
  const w = lines[0].map((_, i) => Math.max(...lines.map((l) => l[i].length)));
  for (const l of lines) console.log(l.map((c, i) => c.padEnd(w[i])).join("  ").trimEnd());
  for (const b of others) console.log(`${b.backend}: ${b.device}, ${b.seconds.toFixed(1)} s`);
  for (const b of report.backends) {
    if (b.golden) {
      console.log(
        `golden ${b.golden.file} on ${b.backend}: ${b.golden.passed} of ${b.golden.cases} ` +
          `cases pass (worst ${b.golden.worst})`,
      );
    }
  }
  console.log(report.pass ? "parity: pass" : "parity: FAIL");
}

/**
 * Runs the command; returns the exit code.
 *
 * @example
 * ```ts
 * const code = await parity(["--backends", "cpu,native", "--config", "tiny", "--batch", "2"]);
 * ```
 */
export async function parity(argv: string[]): Promise<number> {
  const flags = parseFlags(argv, {
    string: [
      ...ENCODER_FLAGS,
      "backends",
      "batch",
      "steps",
      "seed",
      "classes",
      "tol",
      "golden",
      "out",
    ],
    boolean: ["json", "help"],
    default: { backends: "cpu,auto" },
  });
  if (flags.help) {
    console.log(USAGE);
    return 0;
  }
  if (flags._.length > 0) {
    throw new BenchError("usage", `unexpected argument ${flags._[0]}`, { hint: USAGE });
  }
  const names = String(flags.backends).split(",").map((s) => s.trim()).filter(Boolean);
  if (names.length < 2) {
    throw new BenchError("usage", "--backends needs at least two backends", {
      location: "--backends",
      hint: "e.g. --backends cpu,webgpu (the first is the reference)",
    });
  }
  const { name: config, cfg } = encoderFromFlags(flags);
  const batch = intFlag(flags, "batch", 4, 2);
  const steps = intFlag(flags, "steps", 2, 1);
  const seed = intFlag(flags, "seed", 1, 0);
  const classes = intFlag(flags, "classes", 10, 1);
  const tolerances = parseTolerances(flags.tol as string | undefined);
  const goldenPath = flags.golden as string | undefined;
  const golden = goldenPath === undefined ? undefined : await readLossCases(goldenPath);

  const reports: ParityBackendReport[] = [];
  const probes = [];
  for (const name of names) {
    const info = await useBackend(name);
    if (reports.some((r) => r.backend === info.name)) {
      throw new BenchError("usage", `${name} runs on ${info.name}, which is already compared`, {
        location: "--backends",
        hint: "name backends that differ (auto picked the same one)",
      });
    }
    const t0 = performance.now();
    const probe = await probeBackend(cfg, { batch, steps, seed, classes });
    const seconds = (performance.now() - t0) / 1000;
    const report: ParityBackendReport = {
      backend: info.name,
      device: info.device,
      threads: info.threads,
      details: info.details,
      seconds,
    };
    if (probes.length > 0) report.rows = compareProbes(probe, probes[0], tolerances);
    if (golden) {
      const cases = [];
      for (const c of golden.cases) cases.push(await checkLossCase(c, golden.tol));
      const worst = cases.reduce((a, b) =>
        b.worstComponent.absDev / b.worstComponent.limit >
            a.worstComponent.absDev / a.worstComponent.limit
          ? b
          : a
      );
      report.golden = {
        file: goldenPath!,
        passed: cases.filter((c) => c.pass).length,
        cases: cases.length,
        worst: `${worst.name} ${worst.worstComponent.what} ${
          (worst.worstComponent.absDev / worst.worstComponent.limit).toFixed(3)
        } of limit`,
      };
    }
    probes.push(probe);
    reports.push(report);
    if (!flags.json) console.error(`parity: ${info.name} done in ${seconds.toFixed(1)} s`);
  }
  const pass = reports.every((r) =>
    (r.rows ?? []).every((row) => row.pass) &&
    (!r.golden || r.golden.passed === r.golden.cases)
  );
  const report: ParityReport = {
    config,
    encoder: cfg,
    batch,
    steps,
    seed,
    tolerances,
    backends: reports,
    pass,
    finished: new Date().toISOString(),
  };
  if (flags.out) await writeJsonAtomic(String(flags.out), report);
  if (flags.json) console.log(JSON.stringify(report));
  else printParityTable(report);
  return pass ? 0 : 1;
}

if (import.meta.main) runMain(parity);

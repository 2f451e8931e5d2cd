/**
 * `deno task gate <spec|suite> --baseline <record|dir> [--candidate <record|dir>] [--seeds N]
 * [--run] [--set key=value]...`: compares candidate runs with baseline runs under each spec's
 * gate tolerances and prints what moved. Exit 0 pass, 1 regression, 2 unusable input.
 *
 * @module
 */
import { parseFlags } from "./args.ts";
import { runMain } from "./main.ts";
import { gateExitCode, renderGateReport } from "../report/gate.ts";
import { runGate, type SpecRunner } from "../report/gate_inputs.ts";
import { BenchError, formatError } from "../util/errors.ts";

const USAGE =
  "usage: deno task gate <spec|suite> --baseline <record|dir> [--candidate <record|dir>] [--seeds N] [--run] [--results DIR] [--set key=value]...";

/**
 * The bench library's runner for `--run`, loaded on demand: `runSpec` exported by
 * `src/cli/bench.ts`.
 */
async function defaultRunner(): Promise<SpecRunner | undefined> {
  const path = "./bench.ts";
  try {
    const mod = await import(path);
    return typeof mod.runSpec === "function" ? mod.runSpec as SpecRunner : undefined;
  } catch {
    return undefined;
  }
}

/** The command body; returns the exit code. `runSpec` replaces the bench runner (tests). */
export async function gateCommand(argv: string[], runSpec?: SpecRunner): Promise<number> {
  const flags = parseFlags(argv, {
    string: ["baseline", "candidate", "seeds", "results"],
    boolean: ["run", "help"],
    collect: ["set"],
    alias: { h: "help" },
  });
  if (flags.help) {
    console.log(USAGE);
    return 0;
  }
  try {
    if (flags._.length !== 1) {
      throw new BenchError("usage", "expected one spec or suite", { hint: USAGE });
    }
    if (!flags.baseline) throw new BenchError("usage", "--baseline is required", { hint: USAGE });
    const seeds = flags.seeds === undefined ? undefined : Number(flags.seeds);
    if (seeds !== undefined && !(Number.isInteger(seeds) && seeds >= 1)) {
      throw new BenchError("usage", `--seeds expects a positive integer, got ${flags.seeds}`);
    }
    const results = (flags.results as string | undefined) ?? "results";
    const runner = flags.run ? (runSpec ?? await defaultRunner()) : undefined;
    if (flags.run && !runner) {
      throw new BenchError(
        "gate_input",
        "--run needs the bench runner (runSpec in src/cli/bench.ts)",
        {
          location: "--run",
          hint: "run the specs with deno task bench, then gate without --run",
        },
      );
    }
    const reports = await runGate({
      target: flags._[0],
      baseline: flags.baseline as string,
      candidate: flags.candidate as string | undefined,
      seeds,
      run: flags.run as boolean,
      runSpec: runner,
      runsDir: `${results}/runs`,
      load: { overrides: (flags.set as string[] | undefined) ?? [] },
      log: (line) => console.error(line),
    });
    console.log(renderGateReport(reports));
    return gateExitCode(reports);
  } catch (error) {
    if (error instanceof BenchError) {
      console.error(formatError(error));
      return 2;
    }
    throw error;
  }
}

if (import.meta.main) runMain((argv) => gateCommand(argv));

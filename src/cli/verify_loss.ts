/**
 * `deno task verify-loss <file.json> [--backend NAME] [--json]`: checks the NCE objective against
 * every case of a golden file in the `amdim-loss-cases.json` format (every component and, where
 * present, every element of `grad_total`) and prints the worst deviation per case.
 *
 * Exit codes: 0 all within tolerance, 1 a mismatch, 2 an unreadable or malformed file (the error
 * names the file and the field).
 *
 * @module
 */
import { runMain } from "./main.ts";
import { parseFlags } from "./args.ts";
import { useBackend } from "./use_backend.ts";
import { BenchError } from "../util/errors.ts";
import { checkLossCase, type Deviation, readLossCases } from "../loss/loss_cases.ts";

const USAGE = "usage: deno task verify-loss <file.json> [--backend NAME] [--json]";

function fmt(d: Deviation | undefined): string {
  if (!d) return "-";
  return `${d.what} |d|=${d.absDev.toExponential(2)} (${(d.absDev / d.limit).toFixed(3)} of limit)`;
}

/**
 * Runs the command; returns the exit code.
 *
 * @example
 * ```ts
 * const code = await verifyLoss(["golden/amdim-loss-cases.json", "--backend", "cpu"]);
 * ```
 */
export async function verifyLoss(argv: string[]): Promise<number> {
  const flags = parseFlags(argv, {
    string: ["backend"],
    boolean: ["json", "help"],
    default: { backend: "cpu" },
  });
  if (flags.help) {
    console.log(USAGE);
    return 0;
  }
  if (flags._.length !== 1) {
    throw new BenchError("usage", "expected exactly one golden file", { hint: USAGE });
  }
  const path = flags._[0];
  const file = await readLossCases(path);
  const backend = await useBackend(String(flags.backend));
  const reports = [];
  for (const c of file.cases) reports.push(await checkLossCase(c, file.tol));
  if (flags.json) {
    console.log(JSON.stringify({ file: path, backend: backend.name, tol: file.tol, reports }));
  } else {
    console.log(`verify-loss ${path} on ${backend.name} (tfjs ${backend.tfjsVersion})`);
    console.log(`rule: |got - expected| <= ${file.tol} * max(1, |expected|)`);
    const w = Math.max(4, ...reports.map((r) => r.name.length));
    console.log(`${"case".padEnd(w)}  result  worst component / worst gradient`);
    for (const r of reports) {
      console.log(
        `${r.name.padEnd(w)}  ${r.pass ? "ok    " : "FAIL  "}  ${fmt(r.worstComponent)}` +
          (r.worstGrad ? `\n${"".padEnd(w)}          ${fmt(r.worstGrad)}` : "") +
          (r.pass ? "" : `\n${"".padEnd(w)}          ${r.failed} of ${r.compared} values outside`),
      );
    }
    const bad = reports.filter((r) => !r.pass).length;
    console.log(
      bad === 0 ? `all ${reports.length} cases pass` : `${bad} of ${reports.length} cases FAIL`,
    );
  }
  return reports.every((r) => r.pass) ? 0 : 1;
}

if (import.meta.main) runMain(verifyLoss);

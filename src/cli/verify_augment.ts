/**
 * `deno task verify-augment <file.json> [--json]`: runs every case of a preprocessing parity file
 * (golden augment-cases format) through the project's PIL-exact ops and prints the worst
 * deviation per case. Exit codes: 0 all cases within tolerance, 1 a mismatch, 2 unreadable file.
 *
 * @module
 */
import { checkGoldenCase, readGoldenFile } from "../augment/golden.ts";
import { parseFlags } from "./args.ts";
import { runMain } from "./main.ts";
import { BenchError } from "../util/errors.ts";

const USAGE = "usage: deno task verify-augment <file.json> [--json]";

/**
 * The command body: returns the exit code.
 *
 * @example
 * ```ts
 * const code = await verifyAugment(["../shared/golden/augment-cases.json"]);
 * ```
 */
export async function verifyAugment(argv: readonly string[]): Promise<number> {
  const flags = parseFlags(argv, { boolean: ["json", "help"], alias: { h: "help" } });
  if (flags.help) {
    console.log(USAGE);
    return 0;
  }
  if (flags._.length !== 1) {
    throw new BenchError("usage", "expected exactly one parity file", { hint: USAGE });
  }
  const file = await readGoldenFile(flags._[0]);
  const results = file.cases.map(checkGoldenCase);
  const failed = results.filter((r) => !r.pass);
  if (flags.json) {
    console.log(JSON.stringify({
      file: file.path,
      set: file.set ?? null,
      cases: results.length,
      failed: failed.length,
      maxAbs: Math.max(...results.map((r) => r.maxAbs)),
      results,
    }));
  } else {
    const width = Math.max(...results.map((r) => r.name.length));
    for (const r of results) {
      const tol = `${r.tolerance.mode} ${r.tolerance.value}`;
      const status = r.pass ? "ok  " : "FAIL";
      const detail = r.error ??
        `max |diff| ${formatDiff(r.maxAbs)}, ${(r.fracDiffering * 100).toFixed(2)} % values differ`;
      console.log(
        `${status} ${r.name.padEnd(width)}  ${r.op.padEnd(19)} ${detail} (tolerance ${tol})`,
      );
    }
    const worst = Math.max(...results.map((r) => r.maxAbs));
    console.log(
      `${file.path}: ${results.length - failed.length}/${results.length} cases within tolerance, ` +
        `worst deviation ${formatDiff(worst)}`,
    );
  }
  return failed.length === 0 ? 0 : 1;
}

function formatDiff(d: number): string {
  if (!Number.isFinite(d)) return String(d);
  return Number.isInteger(d) ? String(d) : d.toExponential(2);
}

if (import.meta.main) runMain(verifyAugment);

/**
 * `deno task report [--results DIR]`: regenerates `<DIR>/RESULTS.md` and `<DIR>/results.csv`
 * from the records in `<DIR>/runs/` (default DIR: `results`).
 *
 * @module
 */
import { parseFlags } from "./args.ts";
import { runMain } from "./main.ts";
import { writeReport } from "../report/tables.ts";
import { BenchError, formatError } from "../util/errors.ts";

/** The command body; returns the exit code. */
export async function reportCommand(argv: string[]): Promise<number> {
  const flags = parseFlags(argv, { string: ["results"], boolean: ["help"], alias: { h: "help" } });
  if (flags.help) {
    console.log("usage: deno task report [--results DIR]   (default DIR: results)");
    return 0;
  }
  if (flags._.length) throw new BenchError("usage", `unexpected argument ${flags._[0]}`);
  try {
    const out = await writeReport((flags.results as string | undefined) ?? "results");
    console.log(`${out.records} record(s), ${out.rows} row(s) -> ${out.files.join(", ")}`);
    if (out.withoutRecord.length) {
      console.log(
        `run folders without a record (running or crashed): ${out.withoutRecord.join(", ")}`,
      );
    }
    return 0;
  } catch (error) {
    if (error instanceof BenchError) {
      console.error(formatError(error));
      return 2;
    }
    throw error;
  }
}

if (import.meta.main) runMain(reportCommand);

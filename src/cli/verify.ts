/**
 * `deno task verify <record.json | run folder | folder of runs> [--published FILE] [--manifest FILE]`
 *
 * Checks submissions before they may enter a leaderboard and prints each finding as
 * `file: field: message`. Exit codes: 0 every run accepted, 1 a run rejected, 2 unreadable input.
 *
 * @module
 */
import { parseFlags } from "./args.ts";
import { runMain } from "./main.ts";
import { BenchError } from "../util/errors.ts";
import { renderVerifyReport, verifyExitCode, verifyPath } from "../verify/verify.ts";

const USAGE = `usage: deno task verify <record.json | run folder | folder of runs> [flags]

  --published FILE   published-numbers registry (default results/published.json)
  --manifest FILE    dataset manifest (default datasets/manifest.json)
  --json             print the findings as JSON

exit codes: 0 accepted, 1 rejected, 2 unreadable input`;

if (import.meta.main) {
  runMain(async (argv) => {
    const flags = parseFlags(argv, {
      string: ["published", "manifest"],
      boolean: ["help", "json"],
      alias: { h: "help" },
    });
    if (flags.help) {
      console.log(USAGE);
      return 0;
    }
    if (flags._.length !== 1) {
      throw new BenchError("usage", "expected one record, run folder or folder of runs", {
        hint: USAGE,
      });
    }
    const report = await verifyPath(flags._[0], {
      publishedPath: flags.published as string | undefined,
      manifestPath: flags.manifest as string | undefined,
    });
    if (flags.json) {
      console.log(JSON.stringify(
        report.submissions.map((s) => ({
          runDir: s.runDir,
          recordPath: s.recordPath,
          verdict: s.verdict,
          findings: s.findings,
        })),
        null,
        2,
      ));
    } else console.log(renderVerifyReport(report));
    return verifyExitCode(report);
  });
}

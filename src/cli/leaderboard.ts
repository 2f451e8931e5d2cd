/**
 * `deno task leaderboard [results-dir] [--out DIR] [--published FILE] [--manifest FILE]`
 *
 * Verifies every record under `<results-dir>/runs` (default `results`) and writes the leaderboard
 * (default `<results-dir>/leaderboard/`): `index.html` (self-contained, opens offline),
 * `LEADERBOARD.md`, `plots/*.svg`, and copies of each ranked run's record and resolved spec.
 * Exit codes: 0 written, 2 unusable input.
 *
 * @module
 */
import { parseFlags } from "./args.ts";
import { runMain } from "./main.ts";
import { BenchError } from "../util/errors.ts";
import { loadVerifyContext } from "../verify/context.ts";
import { writeLeaderboard } from "../leaderboard/build.ts";

const USAGE = `usage: deno task leaderboard [results-dir] [flags]

  results-dir        folder with runs/ (default results)
  --out DIR          output folder (default <results-dir>/leaderboard)
  --published FILE   published-numbers registry (default results/published.json)
  --manifest FILE    dataset manifest (default datasets/manifest.json)`;

if (import.meta.main) {
  runMain(async (argv) => {
    const flags = parseFlags(argv, {
      string: ["out", "published", "manifest"],
      boolean: ["help"],
      alias: { h: "help" },
    });
    if (flags.help) {
      console.log(USAGE);
      return 0;
    }
    if (flags._.length > 1) {
      throw new BenchError("usage", "expected at most one results folder", { hint: USAGE });
    }
    const resultsDir = flags._[0] ?? "results";
    const context = await loadVerifyContext({
      publishedPath: flags.published as string | undefined,
      manifestPath: flags.manifest as string | undefined,
    });
    const result = await writeLeaderboard(resultsDir, {
      outDir: flags.out as string | undefined,
      context,
    });
    console.log(
      `leaderboard: ${result.accepted} verified run${result.accepted === 1 ? "" : "s"}, ` +
        `${result.rejected} rejected (see the "Rejected submissions" section)`,
    );
    console.log(`  ${result.html}`);
    console.log(`  ${result.markdown}`);
    return 0;
  });
}

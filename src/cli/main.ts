/**
 * The shared shell of every command: run the body, print a {@linkcode BenchError} as one clear
 * message and turn it into an exit code. The library itself never exits the process.
 *
 * @module
 */
import { BenchError, formatError } from "../util/errors.ts";

/** Exit code for errors in the user's input (bad flags, malformed files): 2. */
export const EXIT_USAGE = 2;

const INPUT_ERROR =
  /^(usage|spec_.*|suite_.*|.*_input|.*_invalid|.*_unknown|.*_not_found|.*_missing)$/;

/**
 * True for error codes that mean the user's input cannot be used (bad flags, malformed or missing
 * files, unknown names): commands exit with {@linkcode EXIT_USAGE} for them and 1 for failures.
 *
 * @example
 * ```ts
 * isInputError("spec_invalid"); // true
 * isInputError("download_failed"); // false
 * ```
 */
export function isInputError(code: string): boolean {
  return INPUT_ERROR.test(code);
}

/**
 * Runs a command body and exits with its code; errors print as `error[code] where: what`.
 *
 * @example
 * ```ts
 * if (import.meta.main) runMain(async (argv) => { console.log(argv); return 0; });
 * ```
 */
export async function runMain(body: (argv: string[]) => Promise<number> | number): Promise<never> {
  let code: number;
  try {
    code = await body(Deno.args);
  } catch (error) {
    console.error(formatError(error));
    code = error instanceof BenchError && isInputError(error.code) ? EXIT_USAGE : 1;
  }
  Deno.exit(code);
}

/**
 * The shared shell of every command: run the body, print a {@linkcode BenchError} as one clear
 * message and turn it into an exit code. The library itself never exits the process.
 *
 * @module
 */
import { BenchError, formatError } from "../util/errors.ts";

/** Exit code for errors in the user's input (bad flags, malformed files): 2. */
export const EXIT_USAGE = 2;

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
    code = error instanceof BenchError ? (error.code === "usage" ? EXIT_USAGE : 1) : 1;
    if (error instanceof BenchError && error.code.endsWith("_input")) code = EXIT_USAGE;
  }
  Deno.exit(code);
}

/**
 * Runs one command of `src/cli/` as a subprocess (`deno run -A src/cli/<name>.ts ...args`) and
 * collects its exit code and output, for tests of exit codes and printed reports.
 *
 * @module
 */

/** Exit code and decoded output of a finished command. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `src/cli/<name>.ts` with `args` (and `env` added) to the end. */
export async function runCli(
  name: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<CliResult> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL(`../../src/cli/${name}.ts`, import.meta.url).pathname, ...args],
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

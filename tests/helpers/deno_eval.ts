/**
 * Runs TypeScript in a fresh Deno process (from the repository root, with extra environment
 * variables) and parses the last line it prints as JSON: for tests of start-up behaviour that
 * depends on the environment (library discovery, switches read once per process).
 *
 * @module
 */
import { assert } from "../../src/testing/asserts.ts";

/** The URL of `path` (relative to the repository root) as a string literal for generated code. */
export function moduleLiteral(path: string): string {
  return JSON.stringify(new URL(`../../${path}`, import.meta.url).href);
}

/** Runs `code` with `env` added; fails the test when the process fails. */
export async function evalLastJson(code: string, env: Record<string, string>): Promise<unknown> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--quiet", "--ext=ts", code],
    env,
    cwd: new URL("../..", import.meta.url).pathname,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert(out.success, new TextDecoder().decode(out.stderr));
  return JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").pop() ?? "");
}

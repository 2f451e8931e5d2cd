/**
 * Suites: named lists of spec ids, kept in `benchmarks/suites.json`.
 *
 * @module
 */
import { resolve } from "node:path";
import { BenchError } from "../util/errors.ts";
import { DEFAULT_SPECS_DIR } from "./context.ts";
import { parseJsonc } from "./jsonc.ts";
import { displayPath } from "./load.ts";
import { didYouMean } from "./suggest.ts";

/** Suite name -> spec ids. */
export type Suites = Record<string, string[]>;

/**
 * Reads and checks `<specsDir>/suites.json`: `{ "suites": { name: [specId, ...] } }`, every id
 * an existing `<specsDir>/<id>.jsonc`, no suite named like a spec.
 *
 * @example
 * ```ts
 * (await loadSuites()).quick; // ["smoke", "fmnist-tiny"]
 * ```
 */
export async function loadSuites(specsDir: string = DEFAULT_SPECS_DIR): Promise<Suites> {
  const file = resolve(specsDir, "suites.json");
  const label = displayPath(file);
  const value = parseJsonc(await Deno.readTextFile(file), label) as Record<string, unknown>;
  const fail = (path: string, message: string): never => {
    throw new BenchError("suite_invalid", message, { location: `${label}: ${path}` });
  };
  if (!value || typeof value !== "object" || Array.isArray(value)) {
    fail("(root)", "expected an object");
  }
  for (const key of Object.keys(value)) {
    if (key !== "suites" && key !== "$schema") {
      fail(key, `unknown key "${key}"${didYouMean(key, ["suites"])}`);
    }
  }
  const suites = value.suites as Record<string, unknown>;
  if (!suites || typeof suites !== "object" || Array.isArray(suites)) {
    fail("suites", "expected an object of suite name -> list of spec ids");
  }
  const out: Suites = {};
  for (const [name, ids] of Object.entries(suites)) {
    if (!/^[a-z0-9][a-z0-9-]*$/.test(name)) fail(`suites.${name}`, "expected a lower-case name");
    if (!Array.isArray(ids) || ids.length === 0 || ids.some((id) => typeof id !== "string")) {
      fail(`suites.${name}`, "expected a non-empty list of spec ids");
    }
    for (const [i, id] of (ids as string[]).entries()) {
      try {
        await Deno.stat(resolve(specsDir, `${id}.jsonc`));
      } catch {
        fail(`suites.${name}.${i}`, `unknown spec "${id}"`);
      }
    }
    try {
      await Deno.stat(resolve(specsDir, `${name}.jsonc`));
      fail(`suites.${name}`, `suite "${name}" has the name of a spec`);
    } catch (error) {
      if (error instanceof BenchError) throw error;
    }
    out[name] = [...(ids as string[])];
  }
  return out;
}

/**
 * What a command-line target names: a suite (its spec ids) or one spec (id or path).
 *
 * @example
 * ```ts
 * await resolveTarget("quick"); // { suite: "quick", specs: ["smoke", "fmnist-tiny"] }
 * await resolveTarget("smoke"); // { suite: null, specs: ["smoke"] }
 * ```
 */
export async function resolveTarget(
  target: string,
  specsDir: string = DEFAULT_SPECS_DIR,
): Promise<{ suite: string | null; specs: string[] }> {
  const suites = await loadSuites(specsDir);
  if (Object.hasOwn(suites, target)) return { suite: target, specs: suites[target] };
  return { suite: null, specs: [target] };
}

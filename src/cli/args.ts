/**
 * Command-line flag parsing for every `deno task` entry point. Built on `node:util` `parseArgs`
 * (part of Deno) and shaped like `@std/cli`'s `parseArgs` result (`_` for positionals), so moving
 * to `@std/cli` is a change to this one file. Unlike a permissive parser, unknown flags are errors.
 *
 * @module
 */
import { parseArgs as nodeParseArgs } from "node:util";
import { BenchError } from "../util/errors.ts";

/** Which flags a command takes. */
export interface FlagSpec {
  /** Flags that take a value. */
  string?: readonly string[];
  /** Flags without a value. */
  boolean?: readonly string[];
  /** String flags that may repeat; their value is an array. */
  collect?: readonly string[];
  /** One-letter aliases, e.g. `{ h: "help" }`. */
  alias?: Readonly<Record<string, string>>;
  /** Default values. */
  default?: Readonly<Record<string, string | boolean | string[]>>;
}

/** Parsed flags: positionals under `_`, every other flag by name. */
export type ParsedFlags = {
  _: string[];
  [flag: string]: string | boolean | string[] | undefined;
};

/**
 * Parses `argv`; unknown flags and missing values are `BenchError("usage")`.
 *
 * @example
 * ```ts
 * const flags = parseFlags(["smoke", "--backend", "cpu"], { string: ["backend"] });
 * flags._; // ["smoke"]
 * flags.backend; // "cpu"
 * ```
 */
export function parseFlags(argv: readonly string[], spec: FlagSpec): ParsedFlags {
  const options: Record<
    string,
    { type: "string" | "boolean"; multiple?: boolean; short?: string }
  > = {};
  for (const name of spec.string ?? []) options[name] = { type: "string" };
  for (const name of spec.collect ?? []) options[name] = { type: "string", multiple: true };
  for (const name of spec.boolean ?? []) options[name] = { type: "boolean" };
  for (const [short, long] of Object.entries(spec.alias ?? {})) {
    if (!options[long]) throw new Error(`alias -${short} names unknown flag --${long}`);
    options[long].short = short;
  }
  let parsed;
  try {
    parsed = nodeParseArgs({ args: [...argv], options, strict: true, allowPositionals: true });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new BenchError("usage", message.replace(/\. To specify a positional.*$/s, ""), {
      hint: `known flags: ${Object.keys(options).map((o) => `--${o}`).join(" ") || "(none)"}`,
    });
  }
  const out: ParsedFlags = { _: parsed.positionals };
  for (const [k, v] of Object.entries(spec.default ?? {})) out[k] = v;
  for (const [k, v] of Object.entries(parsed.values)) out[k] = v as string | boolean | string[];
  return out;
}

/**
 * Parsing the sweep's seed list and `--vary` axes.
 *
 * @module
 */
import { BenchError } from "../util/errors.ts";

const INT = /^\d+$/;

function seedError(text: string, message: string): never {
  throw new BenchError("sweep_invalid", message, {
    location: `--seeds ${text}`,
    hint: "use a range 1..N (inclusive, N >= 1) or a list 1,2,5 of distinct integers >= 0",
  });
}

/**
 * Parses `--seeds`: an inclusive range `a..b`, a list `1,2,5`, or both (`1..3,7`). Rejects
 * empty items, non-integers, descending ranges and duplicates.
 *
 * @example
 * ```ts
 * parseSeeds("1..3"); // [1, 2, 3]
 * parseSeeds("1,2,5"); // [1, 2, 5]
 * ```
 */
export function parseSeeds(text: string): number[] {
  const out: number[] = [];
  if (text.trim() === "") seedError(text, "no seeds given");
  for (const raw of text.split(",")) {
    const item = raw.trim();
    const range = /^(.*)\.\.(.*)$/.exec(item);
    if (range) {
      const [a, b] = [range[1].trim(), range[2].trim()];
      if (!INT.test(a) || !INT.test(b)) {
        seedError(text, `"${item}" is not a range of integers`);
      }
      const [lo, hi] = [Number(a), Number(b)];
      if (hi < lo) seedError(text, `range "${item}" is empty (${hi} < ${lo})`);
      if (hi - lo >= 10_000) seedError(text, `range "${item}" has more than 10000 seeds`);
      for (let s = lo; s <= hi; s++) out.push(s);
    } else {
      if (!INT.test(item)) seedError(text, `"${item}" is not an integer seed`);
      out.push(Number(item));
    }
  }
  for (const s of out) {
    if (!Number.isSafeInteger(s)) seedError(text, `seed ${s} is too large`);
  }
  const seen = new Set<number>();
  for (const s of out) {
    if (seen.has(s)) seedError(text, `seed ${s} is given twice`);
    seen.add(s);
  }
  return out;
}

/**
 * Splits a `--vary key=v1,v2,...` value: commas inside brackets, braces or quotes belong to the
 * value (`--vary 'eval.1.l2=[0,1e-3],[0]'`). Values must be distinct.
 *
 * @example
 * ```ts
 * parseVary("encoder.ndf=8,16"); // { key: "encoder.ndf", values: ["8", "16"] }
 * ```
 */
export function parseVary(text: string): { key: string; values: string[] } {
  const eq = text.indexOf("=");
  const fail = (message: string): never => {
    throw new BenchError("sweep_invalid", message, {
      location: `--vary ${text}`,
      hint: "use --vary key.path=value1,value2,... (one key per --vary; repeat for a grid)",
    });
  };
  if (eq <= 0) fail("expected key.path=value1,value2,...");
  const key = text.slice(0, eq).trim();
  const rest = text.slice(eq + 1);
  const values: string[] = [];
  let depth = 0;
  let quote: string | null = null;
  let current = "";
  for (const ch of rest) {
    if (quote) {
      if (ch === quote) quote = null;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
    } else if (ch === "[" || ch === "{") {
      depth++;
    } else if (ch === "]" || ch === "}") {
      depth--;
    } else if (ch === "," && depth === 0) {
      values.push(current.trim());
      current = "";
      continue;
    }
    current += ch;
  }
  values.push(current.trim());
  if (quote || depth !== 0) fail("unbalanced brackets or quotes");
  if (values.some((v) => v === "")) fail("empty value");
  const seen = new Set<string>();
  for (const v of values) {
    if (seen.has(v)) fail(`value ${v} is given twice`);
    seen.add(v);
  }
  return { key, values };
}

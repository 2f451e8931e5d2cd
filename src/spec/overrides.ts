/**
 * `--set a.b=value` overrides: the value is JSON when it parses as JSON, else a string; the key
 * path must name a key the schema knows. `eval.<protocol>.<key>` selects the eval entry of that
 * protocol (`eval.<index>.<key>` works too).
 *
 * @module
 */
import { BenchError } from "../util/errors.ts";
import { formatKeyPath, type PathSegment } from "./key_path.ts";
import { schemaAt } from "./schema.ts";
import { didYouMean } from "./suggest.ts";

/** One parsed override. */
export interface Override {
  /** The text as given, e.g. `pretrain.optimizer.lr=1e-3`. */
  text: string;
  /** Key path as written (protocol names not yet resolved to indices). */
  path: string[];
  /** The value: parsed JSON, else the raw string. */
  value: unknown;
}

/**
 * Parses `path=value`.
 *
 * @example
 * ```ts
 * parseOverride("pretrain.steps=100"); // { path: ["pretrain", "steps"], value: 100, ... }
 * parseOverride("augment.policy=cifar"); // value "cifar"
 * ```
 */
export function parseOverride(text: string): Override {
  const eq = text.indexOf("=");
  const pathText = eq < 0 ? text : text.slice(0, eq);
  const location = `--set ${text}`;
  if (eq < 0) {
    throw new BenchError("spec_override", "expected key.path=value", {
      location,
      hint: "e.g. --set pretrain.optimizer.lr=1e-3",
    });
  }
  const path = pathText.split(".");
  if (path.some((p) => p === "")) {
    throw new BenchError("spec_override", `invalid key path "${pathText}"`, {
      location,
      hint: "key paths are dot-separated keys, e.g. pretrain.optimizer.lr",
    });
  }
  const raw = text.slice(eq + 1);
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    value = raw;
  }
  return { text, path, value };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/**
 * Applies one override to `spec` (in place) and returns the resolved key path it set. Unknown keys
 * are `spec_override` errors with a suggestion.
 *
 * @example
 * ```ts
 * applyOverride(spec, parseOverride("eval.knn.k=50")); // ["eval", 2, "k"]
 * ```
 */
export function applyOverride(spec: Record<string, unknown>, override: Override): PathSegment[] {
  const location = `--set ${override.text}`;
  if (override.path[0] === "extends" || override.path[0] === "$schema") {
    throw new BenchError("spec_override", `"${override.path[0]}" cannot be overridden`, {
      location,
    });
  }
  const resolved: PathSegment[] = [];
  let container: unknown = spec;
  for (let i = 0; i < override.path.length; i++) {
    const key = override.path[i];
    let seg: PathSegment = key;
    if (Array.isArray(container)) {
      if (/^(0|[1-9][0-9]*)$/.test(key)) {
        seg = Number(key);
        if (resolved[resolved.length - 1] === "eval" && seg >= container.length) {
          throw new BenchError("spec_override", `eval has no entry ${seg}`, { location });
        }
      } else if (resolved[resolved.length - 1] === "eval") {
        const index = container.findIndex((e) => isObject(e) && e.protocol === key);
        if (index < 0) {
          const protocols = container.filter(isObject).map((e) => String(e.protocol));
          throw new BenchError(
            "spec_override",
            `no eval entry with protocol "${key}"${didYouMean(key, protocols)}`,
            { location, hint: `eval runs: ${protocols.join(", ")}` },
          );
        }
        seg = index;
      } else {
        throw new BenchError(
          "spec_override",
          `expected an array index at ${formatKeyPath([...resolved, key])}`,
          { location },
        );
      }
    }
    const check = schemaAt(spec, [...resolved, seg]);
    if (!check.ok) {
      const where = formatKeyPath(resolved);
      throw new BenchError(
        "spec_override",
        `unknown key "${key}" in ${where}${didYouMean(key, check.known)}`,
        {
          location,
          hint: check.known.length ? `known keys: ${check.known.join(", ")}` : undefined,
        },
      );
    }
    resolved.push(seg);
    const last = i === override.path.length - 1;
    const holder = container as Record<string | number, unknown>;
    if (last) {
      holder[seg] = structuredClone(override.value);
    } else {
      if (holder[seg] === undefined || holder[seg] === null) {
        const nextIsIndex = /^(0|[1-9][0-9]*)$/.test(override.path[i + 1]);
        holder[seg] = nextIsIndex ? [] : {};
      }
      container = holder[seg];
      if (container === null || typeof container !== "object") {
        throw new BenchError(
          "spec_override",
          `${formatKeyPath(resolved)} is not an object, so it has no key "${override.path[i + 1]}"`,
          { location },
        );
      }
    }
  }
  return resolved;
}

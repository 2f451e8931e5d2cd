/**
 * Deep merge of spec layers (objects merge key by key; arrays and scalars replace) that remembers
 * which layer set each key, so that errors name the file a value came from.
 *
 * @module
 */
import type { PathSegment } from "./key_path.ts";

/** Key path (joined with NUL) -> label of the layer that set it. */
export type Provenance = Map<string, string>;

/** The provenance map key of a path. */
export function provenanceKey(path: readonly PathSegment[]): string {
  return path.map(String).join("\u0000");
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function mark(value: unknown, path: PathSegment[], label: string, provenance: Provenance): void {
  provenance.set(provenanceKey(path), label);
  if (isPlainObject(value)) {
    for (const [k, v] of Object.entries(value)) mark(v, [...path, k], label, provenance);
  } else if (Array.isArray(value)) {
    value.forEach((v, i) => mark(v, [...path, i], label, provenance));
  }
}

/** Tells whether the object at a path is a map that replaces instead of merging. */
export type ReplacePredicate = (path: readonly PathSegment[]) => boolean;

/**
 * Merges `top` over `base` (neither is modified) and records in `provenance` that every key
 * `top` sets came from `label`. Objects merge key by key, except where `replaces(path)` holds;
 * arrays and scalars replace.
 *
 * @example
 * ```ts
 * const prov = new Map();
 * mergeLayer({ a: { b: 1, c: [1] } }, { a: { c: [2] } }, "child.jsonc", prov);
 * // { a: { b: 1, c: [2] } }
 * ```
 */
export function mergeLayer(
  base: unknown,
  top: unknown,
  label: string,
  provenance: Provenance,
  path: PathSegment[] = [],
  replaces: ReplacePredicate = () => false,
): unknown {
  if (isPlainObject(base) && isPlainObject(top) && !replaces(path)) {
    provenance.set(provenanceKey(path), provenance.get(provenanceKey(path)) ?? label);
    const out: Record<string, unknown> = { ...base };
    for (const [k, v] of Object.entries(top)) {
      out[k] = k in base
        ? mergeLayer(base[k], v, label, provenance, [...path, k], replaces)
        : structuredClone(v);
      if (!(k in base)) mark(v, [...path, k], label, provenance);
    }
    return out;
  }
  mark(top, path, label, provenance);
  return structuredClone(top);
}

/**
 * The label of the layer that set `path` or its closest ancestor, else `fallback`.
 *
 * @example
 * ```ts
 * locateIn(prov, ["a", "b"], "spec.jsonc");
 * ```
 */
export function locateIn(
  provenance: Provenance,
  path: readonly PathSegment[],
  fallback: string,
): string {
  for (let n = path.length; n >= 1; n--) {
    const label = provenance.get(provenanceKey(path.slice(0, n)));
    if (label !== undefined) return label;
  }
  return fallback;
}

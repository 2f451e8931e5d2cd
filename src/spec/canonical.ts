/**
 * Canonical JSON (RFC 8785: keys sorted, no whitespace, numbers as JavaScript prints them) and the
 * spec hashes built on it.
 *
 * @module
 */
import canonicalize from "canonicalize";
import { sha256Hex } from "../util/hash.ts";
import type { Spec } from "./types.ts";

/**
 * RFC 8785 canonical JSON of a value.
 *
 * @example
 * ```ts
 * canonicalJson({ b: 1e-4, a: [1, 2.5] }); // '{"a":[1,2.5],"b":0.0001}'
 * ```
 */
export function canonicalJson(value: unknown): string {
  const text = canonicalize(value);
  if (text === undefined) throw new TypeError("value has no JSON form");
  return text;
}

/**
 * sha256 (hex) of the canonical JSON of a resolved spec: the spec hash. Specs that resolve to the
 * same values have the same hash, whatever their key order, comments, `extends` or overrides.
 *
 * @example
 * ```ts
 * specHash(loaded.spec); // "3f1c..."
 * ```
 */
export function specHash(spec: Spec): string {
  return sha256Hex(canonicalJson(spec));
}

/**
 * The spec with what does not change what is measured taken out: id, description, reference,
 * gate, `pretrain.seed`, `augment.seed` and `pretrain.checkpointEvery`.
 *
 * @example
 * ```ts
 * comparablePart(spec).pretrain.seed; // undefined
 * ```
 */
export function comparablePart(spec: Spec): Record<string, unknown> {
  const copy = structuredClone(spec) as unknown as Record<string, Record<string, unknown>>;
  delete copy.id;
  delete copy.description;
  delete copy.reference;
  delete copy.gate;
  if (copy.pretrain) {
    delete copy.pretrain.seed;
    delete copy.pretrain.checkpointEvery;
  }
  if (copy.augment) delete copy.augment.seed;
  return copy;
}

/**
 * sha256 of {@linkcode comparablePart}: runs whose specs share it measured the same thing, with
 * possibly different seeds, so the gate may compare them.
 *
 * @example
 * ```ts
 * comparableHash(specA) === comparableHash(specB);
 * ```
 */
export function comparableHash(spec: Spec): string {
  return sha256Hex(canonicalJson(comparablePart(spec)));
}

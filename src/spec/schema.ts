/**
 * The spec's JSON Schema (`benchmarks/schema.json`, the single source of keys, types, ranges and
 * defaults): a compiled validator, plain-words descriptions of what a key expects, lookup of the
 * sub-schema at a key path, and default filling.
 *
 * @module
 */
import { Ajv2020 } from "ajv/dist/2020.js";
import type { ValidateFunction } from "ajv";
import specSchemaJson from "../../benchmarks/schema.json" with { type: "json" };
import type { PathSegment } from "./key_path.ts";

/** A JSON Schema node (the subset the spec schema uses). */
export interface SchemaNode {
  type?: string | string[];
  description?: string;
  properties?: Record<string, SchemaNode>;
  additionalProperties?: boolean | SchemaNode;
  propertyNames?: SchemaNode;
  required?: string[];
  items?: boolean | SchemaNode;
  prefixItems?: SchemaNode[];
  minItems?: number;
  enum?: unknown[];
  const?: unknown;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  pattern?: string;
  default?: unknown;
  anyOf?: SchemaNode[];
  oneOf?: SchemaNode[];
  discriminator?: { propertyName: string };
  $ref?: string;
  $defs?: Record<string, SchemaNode>;
}

/** The spec schema as loaded from `benchmarks/schema.json`. */
export const SPEC_SCHEMA: SchemaNode = specSchemaJson as unknown as SchemaNode;

/**
 * A strict Ajv for draft 2020-12 with the options every schema of the project is compiled with:
 * first error only, errors carry their schema and data (`verbose`), `discriminator` on.
 *
 * @example
 * ```ts
 * const validate = createAjv().compile({ type: "object" });
 * ```
 */
export function createAjv(): Ajv2020 {
  return new Ajv2020({ allErrors: false, verbose: true, discriminator: true, strict: true });
}

let compiled: ValidateFunction | undefined;

/** The compiled spec validator (compiled once, on first use). */
export function specValidator(): ValidateFunction {
  compiled ??= createAjv().compile(SPEC_SCHEMA as Record<string, unknown>);
  return compiled;
}

/** Follows a local `$ref` (`#/$defs/name`) of `root`. */
export function deref(node: SchemaNode, root: SchemaNode = SPEC_SCHEMA): SchemaNode {
  let current = node;
  while (current.$ref) {
    const parts = current.$ref.replace(/^#\//, "").split("/");
    // deno-lint-ignore no-explicit-any
    let target: any = root;
    for (const part of parts) target = target?.[part];
    if (!target) throw new Error(`unresolved $ref ${current.$ref}`);
    current = target as SchemaNode;
  }
  return current;
}

/** The non-null branch of an `anyOf: [{type: null}, X]`, or the node itself. */
export function nonNullBranch(node: SchemaNode, root: SchemaNode = SPEC_SCHEMA): SchemaNode {
  const n = deref(node, root);
  if (n.anyOf) {
    const branch = n.anyOf.find((b) => deref(b, root).type !== "null");
    if (branch) return deref(branch, root);
  }
  return n;
}

/** For an object schema with a discriminator, the branch whose tag equals `tag`. */
export function discriminatedBranch(
  node: SchemaNode,
  tag: unknown,
  root: SchemaNode = SPEC_SCHEMA,
): SchemaNode | undefined {
  const n = deref(node, root);
  if (!n.discriminator || !n.oneOf) return undefined;
  const key = n.discriminator.propertyName;
  return n.oneOf.map((b) => deref(b, root)).find((b) => b.properties?.[key]?.const === tag);
}

/** Names of the keys an object schema allows. */
export function knownKeys(node: SchemaNode): string[] {
  return Object.keys(node.properties ?? {});
}

const PATTERN_WORDS: Record<string, string> = {
  "^[0-9a-f]{64}$": "a lower-case hex sha256 (64 characters)",
  "^[a-z0-9][a-z0-9-]*$": "lower-case letters, digits and dashes",
  "^(amdim-online\\.(linear|mlp)|amdim-offline\\.(linear|mlp)|linear-probe|knn)\\.top(1|5)$":
    "a metric name: amdim-online.linear|mlp, amdim-offline.linear|mlp, linear-probe or knn, then .top1 or .top5",
  "^[A-Za-z0-9._+/-]+$": "a file name",
};

function typeWord(type: string): string {
  switch (type) {
    case "integer":
      return "an integer";
    case "number":
      return "a number";
    case "string":
      return "a string";
    case "boolean":
      return "true or false";
    case "object":
      return "an object";
    case "array":
      return "an array";
    case "null":
      return "null";
    default:
      return type;
  }
}

/**
 * What a schema node expects, in words: `a number > 0`, `an integer >= 1 or null`,
 * `one of 32, 64, 128`.
 *
 * @example
 * ```ts
 * describeExpected({ type: "number", exclusiveMinimum: 0 }); // "a number > 0"
 * ```
 */
export function describeExpected(node: SchemaNode, root: SchemaNode = SPEC_SCHEMA): string {
  const n = deref(node, root);
  if (n.const !== undefined) return JSON.stringify(n.const);
  if (n.enum) return `one of ${n.enum.map((v) => JSON.stringify(v)).join(", ")}`;
  if (n.anyOf) return n.anyOf.map((b) => describeExpected(b, root)).join(" or ");
  if (n.oneOf && n.discriminator) {
    const key = n.discriminator.propertyName;
    const tags = n.oneOf.map((b) => JSON.stringify(deref(b, root).properties?.[key]?.const));
    return `an object whose "${key}" is one of ${tags.join(", ")}`;
  }
  const types = n.type === undefined ? [] : Array.isArray(n.type) ? n.type : [n.type];
  const main = types.filter((t) => t !== "null");
  if (main.length === 0 && types.includes("null")) return "null";
  const words = main.map(typeWord);
  const limits: string[] = [];
  if (n.minimum !== undefined) limits.push(`>= ${n.minimum}`);
  if (n.exclusiveMinimum !== undefined) limits.push(`> ${n.exclusiveMinimum}`);
  if (n.maximum !== undefined) limits.push(`<= ${n.maximum}`);
  if (n.exclusiveMaximum !== undefined) limits.push(`< ${n.exclusiveMaximum}`);
  let text = words.join(" or ");
  if (limits.length) text += ` ${limits.join(" and ")}`;
  if (n.pattern) text = PATTERN_WORDS[n.pattern] ?? `${text} matching /${n.pattern}/`;
  if (main.includes("array")) {
    if (n.prefixItems && n.items === false) {
      text = `an array of ${n.prefixItems.length} items, each ${
        describeExpected(n.prefixItems[0], root)
      }`;
    } else if (n.items && typeof n.items === "object") {
      text = `an array of ${
        describeExpected(n.items, root).replace(/^(a|an) /, "").replace(/^(\w+)/, "$1s")
      }`;
      if (n.minItems) text += ` (at least ${n.minItems})`;
    }
  }
  if (types.includes("null")) text += " or null";
  return text || "a valid value";
}

/**
 * The schema node at a key path of `value` (the data decides which branch of a discriminated
 * union applies), or an explanation of where the path leaves the schema.
 *
 * @example
 * ```ts
 * schemaAt(spec, ["pretrain", "optimizer", "lr"]); // { ok: true, node: {type: "number", ...} }
 * ```
 */
export function schemaAt(
  value: unknown,
  path: readonly PathSegment[],
  root: SchemaNode = SPEC_SCHEMA,
): { ok: true; node: SchemaNode } | { ok: false; depth: number; known: string[] } {
  let node = deref(root, root);
  let data: unknown = value;
  for (let i = 0; i < path.length; i++) {
    const seg = path[i];
    node = nonNullBranch(node, root);
    if (node.discriminator && data && typeof data === "object") {
      const branch = discriminatedBranch(
        node,
        (data as Record<string, unknown>)[node.discriminator.propertyName],
        root,
      );
      if (branch) node = branch;
    }
    const types = Array.isArray(node.type) ? node.type : [node.type];
    if (types.includes("array") && typeof seg === "number") {
      if (node.prefixItems) {
        if (seg >= node.prefixItems.length) return { ok: false, depth: i, known: [] };
        node = deref(node.prefixItems[seg], root);
      } else if (node.items && typeof node.items === "object") {
        node = deref(node.items, root);
      } else return { ok: false, depth: i, known: [] };
      data = Array.isArray(data) ? data[seg] : undefined;
      continue;
    }
    const key = String(seg);
    if (node.properties && key in node.properties) {
      node = deref(node.properties[key], root);
    } else if (
      typeof node.additionalProperties === "object" &&
      (!node.propertyNames?.pattern || new RegExp(node.propertyNames.pattern).test(key))
    ) {
      node = deref(node.additionalProperties, root);
    } else {
      return { ok: false, depth: i, known: knownKeys(node) };
    }
    data = data && typeof data === "object" ? (data as Record<string, unknown>)[key] : undefined;
  }
  return { ok: true, node };
}

/**
 * Fills in the schema's defaults where `value` lacks a key (in place), recursing into objects,
 * nullable objects that are set, arrays and discriminated unions. Objects without a default
 * whose keys all have defaults are created.
 *
 * @example
 * ```ts
 * fillDefaults({ id: "x", pretrain: { steps: 10 } }); // pretrain.batchSize = 200, ...
 * ```
 */
export function fillDefaults(
  value: unknown,
  node: SchemaNode = SPEC_SCHEMA,
  root: SchemaNode = SPEC_SCHEMA,
): unknown {
  if (value === null || typeof value !== "object") return value;
  let n = nonNullBranch(node, root);
  if (Array.isArray(value)) {
    if (n.items && typeof n.items === "object") {
      for (const item of value) fillDefaults(item, n.items, root);
    }
    return value;
  }
  const obj = value as Record<string, unknown>;
  if (n.discriminator) {
    const branch = discriminatedBranch(n, obj[n.discriminator.propertyName], root);
    if (!branch) return value;
    n = branch;
  }
  for (const [key, child] of Object.entries(n.properties ?? {})) {
    const c = deref(child, root);
    if (obj[key] === undefined) {
      if ("default" in c) obj[key] = structuredClone(c.default);
      else if (c.type === "object" && c.properties && !c.required) obj[key] = {};
      else continue;
    }
    fillDefaults(obj[key], c, root);
  }
  if (typeof n.additionalProperties === "object") {
    for (const [key, child] of Object.entries(obj)) {
      if (!(key in (n.properties ?? {}))) fillDefaults(child, n.additionalProperties, root);
    }
  }
  return value;
}

/**
 * Spec validation: the JSON Schema check (Ajv, strict, draft 2020-12) turned into messages that
 * name the file, the key path and what was expected, then the checks a schema cannot express
 * (budget, milestones, splits, pins, policy versus input size, protocols, gate metrics, reference).
 *
 * @module
 */
import type { ErrorObject } from "ajv";
import { BenchError } from "../util/errors.ts";
import { formatKeyPath, type PathSegment, pointerToPath } from "./key_path.ts";
import {
  describeExpected,
  knownKeys,
  type SchemaNode,
  SPEC_SCHEMA,
  specValidator,
} from "./schema.ts";
import { didYouMean } from "./suggest.ts";
import { metricProtocol, type Spec } from "./types.ts";

/** Tells which file (or `--set` override) a key path came from. */
export type Locator = (path: readonly PathSegment[]) => string;

/** What a dataset looks like, from `datasets/manifest.json`. */
export interface DatasetFacts {
  splits: string[];
  /** Source file names (archives or files) that a spec must pin. */
  sources: string[];
  /** Every file name a pin may use (sources and archive members). */
  files: string[];
  /** sha256 the manifest knows, by file name. */
  sha256: Record<string, string>;
  height?: number;
  width?: number;
  channels?: number;
}

/** Facts the semantic checks need from outside the spec. */
export interface ValidationContext {
  /** Datasets by id (from the manifest); a dataset not listed here is not checked further. */
  datasets?: Record<string, DatasetFacts>;
  /** Keys of `results/published.json`; undefined skips the reference check. */
  publishedIds?: readonly string[];
  /** Expected spec id (the file name without `.jsonc`); undefined skips the check. */
  expectedId?: string;
}

/** Throws the `spec_invalid` error for `path`. */
export function specError(
  locate: Locator,
  path: readonly PathSegment[],
  message: string,
  hint?: string,
): never {
  throw new BenchError("spec_invalid", message, {
    location: `${locate(path)}: ${formatKeyPath(path)}`,
    hint,
  });
}

/** A value as shown in messages: JSON, cut at 60 characters. */
export function showValue(value: unknown): string {
  const text = value === undefined ? "nothing" : JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function ajvErrorToBenchError(error: ErrorObject, locate: Locator): never {
  const path = pointerToPath(error.instancePath);
  const parent = (error.parentSchema ?? {}) as SchemaNode;
  switch (error.keyword) {
    case "additionalProperties": {
      const key = String(error.params.additionalProperty);
      const known = knownKeys(parent);
      specError(
        locate,
        [...path, key],
        `unknown key "${key}"${didYouMean(key, known)}`,
        `known keys in ${formatKeyPath(path)}: ${known.join(", ")}`,
      );
      break;
    }
    case "required": {
      const key = String(error.params.missingProperty);
      const child = parent.properties?.[key];
      specError(
        locate,
        [...path, key],
        `missing required key "${key}"${child ? ` (expected ${describeExpected(child)})` : ""}`,
      );
      break;
    }
    case "propertyNames": {
      const key = String(error.params.propertyName);
      specError(
        locate,
        [...path, key],
        `invalid key "${key}"; expected ${describeExpected(parent.propertyNames ?? {})}`,
      );
      break;
    }
    case "discriminator": {
      const tag = error.params.tag as string;
      specError(locate, [...path, tag], `expected ${describeExpected(parent)}`);
      break;
    }
    case "items": {
      const max = (parent.prefixItems ?? []).length;
      specError(locate, path, `expected ${describeExpected(parent)}, got ${max}+ items`);
      break;
    }
  }
  // A constraint on the value at `path` (type, range, enum, pattern, minItems...).
  const words = describeExpected(parent);
  const known = parent.enum?.filter((v): v is string => typeof v === "string") ?? [];
  const suggestion = typeof error.data === "string" && known.length
    ? didYouMean(error.data, known)
    : "";
  specError(locate, path, `expected ${words}, got ${showValue(error.data)}${suggestion}`);
}

/**
 * Checks a merged (not yet defaulted) spec against `benchmarks/schema.json`; the first problem
 * is thrown as a `spec_invalid` {@linkcode BenchError}.
 *
 * @example
 * ```ts
 * validateAgainstSchema({ id: "x", pretrian: {} }, () => "x.jsonc");
 * // throws: x.jsonc: pretrian: unknown key "pretrian"; did you mean "pretrain"?
 * ```
 */
export function validateAgainstSchema(value: unknown, locate: Locator): void {
  const validate = specValidator();
  if (validate(value)) return;
  const errors = validate.errors!;
  // The most telling error: a key-name error, else one that is not about a nullable union's null
  // branch or the union itself.
  const specific = errors.filter((e) => e.keyword !== "anyOf" && e.params?.type !== "null");
  ajvErrorToBenchError(
    errors.find((e) => e.keyword === "propertyNames") ?? specific[0] ?? errors[0],
    locate,
  );
}

function checkIncreasing(
  values: readonly number[],
  path: PathSegment[],
  locate: Locator,
  budget?: { limit: number; unit: string },
): void {
  for (let i = 1; i < values.length; i++) {
    if (!(values[i] > values[i - 1])) {
      specError(locate, path, `expected strictly increasing milestones, got ${showValue(values)}`);
    }
  }
  if (budget) {
    const last = values[values.length - 1];
    if (last !== undefined && last >= budget.limit) {
      specError(
        locate,
        path,
        `milestone ${last} is not below the budget of ${budget.limit} ${budget.unit}`,
      );
    }
  }
}

const POLICY_IMAGES: Record<string, { size?: number; channels: number }> = {
  cifar: { size: 32, channels: 3 },
  fmnist: { size: 28, channels: 1 },
  stl10: { channels: 3 },
  imagenet: { channels: 3 },
};
const POLICY_INPUT: Record<string, number> = { cifar: 32, fmnist: 32, stl10: 64, imagenet: 128 };

/**
 * The checks a schema cannot express, on a resolved (defaulted) spec.
 *
 * @example
 * ```ts
 * checkSemantics(spec, () => "smoke.jsonc", { publishedIds: ["amdim-cifar10-linear"] });
 * ```
 */
export function checkSemantics(spec: Spec, locate: Locator, context: ValidationContext): void {
  if (context.expectedId !== undefined && spec.id !== context.expectedId) {
    specError(
      locate,
      ["id"],
      `id "${spec.id}" does not match the file name "${context.expectedId}.jsonc"`,
      "a spec's id is its file name, so that ids and files name the same thing",
    );
  }
  const p = spec.pretrain;
  if (p.epochs !== null && p.steps !== null) {
    specError(locate, ["pretrain"], "set either pretrain.epochs or pretrain.steps, not both");
  }
  if (p.epochs === null && p.steps === null) {
    specError(locate, ["pretrain"], "set one of pretrain.epochs or pretrain.steps");
  }
  const s = p.schedule;
  const budget = s.unit === "epoch"
    ? (p.epochs !== null ? { limit: p.epochs, unit: "epochs" } : undefined)
    : (p.steps !== null ? { limit: p.steps, unit: "steps" } : undefined);
  checkIncreasing(s.milestones, ["pretrain", "schedule", "milestones"], locate, budget);

  // Dataset: splits, synthetic parameters, pins.
  const d = spec.dataset;
  const facts = context.datasets?.[d.id];
  if (d.id === "synthetic") {
    if (d.synthetic === null) {
      specError(
        locate,
        ["dataset", "synthetic"],
        'dataset "synthetic" needs dataset.synthetic {n, testN, height, width, channels, numClasses, seed}',
      );
    }
  } else if (d.synthetic !== null) {
    specError(locate, ["dataset", "synthetic"], `expected null for dataset "${d.id}"`);
  }
  if (facts) {
    for (const key of ["trainSplit", "testSplit"] as const) {
      const split = d[key];
      const ok = facts.splits.some((known) =>
        known === split ||
        (known.endsWith("-N") && new RegExp(`^${known.slice(0, -1)}\\d$`).test(split))
      );
      if (!ok) {
        specError(
          locate,
          ["dataset", key],
          `unknown split "${split}" of dataset "${d.id}"${didYouMean(split, facts.splits)}`,
          `splits of ${d.id}: ${facts.splits.join(", ")}`,
        );
      }
    }
    for (const [file, pin] of Object.entries(d.pins)) {
      if (!facts.files.includes(file)) {
        specError(
          locate,
          ["dataset", "pins", file],
          `unknown file "${file}" of dataset "${d.id}"${didYouMean(file, facts.files)}`,
          `files of ${d.id}: ${facts.files.join(", ") || "(none)"}`,
        );
      }
      const known = facts.sha256[file];
      if (pin !== null && known && known !== pin) {
        specError(
          locate,
          ["dataset", "pins", file],
          `pin ${pin} disagrees with datasets/manifest.json (${known})`,
        );
      }
    }
    for (const source of facts.sources) {
      if (!(source in d.pins)) {
        specError(
          locate,
          ["dataset", "pins"],
          `missing a pin for "${source}" (a sha256, or null when none is known)`,
        );
      }
    }
  }
  const image = d.synthetic
    ? { height: d.synthetic.height, width: d.synthetic.width, channels: d.synthetic.channels }
    : facts;
  const policy = spec.augment.policy;
  const wantInput = POLICY_INPUT[policy];
  if (wantInput !== undefined && spec.encoder.inputSize !== wantInput) {
    specError(
      locate,
      ["encoder", "inputSize"],
      `augment.policy "${policy}" makes ${wantInput} px views; expected ${wantInput}, got ${spec.encoder.inputSize}`,
    );
  }
  const want = POLICY_IMAGES[policy] ??
    { size: spec.encoder.inputSize, channels: image?.channels ?? 3 };
  if (image?.height !== undefined && image.width !== undefined && image.channels !== undefined) {
    const sizeOk = want.size === undefined ||
      (image.height === want.size && image.width === want.size);
    if (!sizeOk || image.channels !== want.channels) {
      const wantText = `${want.size ?? "HxW"}${want.size ? `x${want.size}` : ""}x${want.channels}`;
      specError(
        locate,
        ["augment", "policy"],
        `policy "${policy}" expects ${wantText} images; dataset "${d.id}" has ${image.height}x${image.width}x${image.channels}`,
      );
    }
  }

  // Evaluation protocols.
  const seen = new Map<string, number>();
  spec.eval.forEach((e, i) => {
    const before = seen.get(e.protocol);
    if (before !== undefined) {
      specError(
        locate,
        ["eval", i, "protocol"],
        `protocol "${e.protocol}" appears twice in eval (entries ${before} and ${i})`,
      );
    }
    seen.set(e.protocol, i);
    if (e.protocol === "amdim-online" && !p.onlineHeads) {
      specError(locate, ["eval", i, "protocol"], "amdim-online needs pretrain.onlineHeads = true");
    }
    if (e.protocol === "amdim-offline") {
      checkIncreasing(e.milestones, ["eval", i, "milestones"], locate, {
        limit: e.epochs,
        unit: "epochs",
      });
    }
  });
  for (const metric of Object.keys(spec.gate.metrics)) {
    const protocol = metricProtocol(metric)!;
    if (!seen.has(protocol)) {
      specError(
        locate,
        ["gate", "metrics", metric],
        `metric "${metric}" belongs to protocol "${protocol}", which eval does not run`,
      );
    }
  }
  if (spec.reference !== null && context.publishedIds !== undefined) {
    const id = spec.reference.id;
    if (!context.publishedIds.includes(id)) {
      specError(
        locate,
        ["reference", "id"],
        `unknown published reference "${id}"${didYouMean(id, context.publishedIds)}`,
        "references are keys of results/published.json",
      );
    }
  }
}

/** The default schema root, re-exported for callers that walk it. */
export { SPEC_SCHEMA };

/**
 * The published-numbers registry (`results/published.json`) and the comparison of a spec with a
 * published number: which of our metrics it corresponds to, and whether the protocol matches.
 *
 * @module
 */
import type { ValidateFunction } from "ajv";
import { BenchError } from "../util/errors.ts";
import { createAjv } from "../spec/schema.ts";
import { DEFAULT_PUBLISHED } from "../spec/context.ts";
import type { Spec } from "../spec/types.ts";
import publishedSchema from "../../results/published.schema.json" with { type: "json" };
import type { ReferenceComparison } from "./record_types.ts";

/** One published number with its provenance. */
export interface PublishedEntry {
  dataset: string;
  testSplit: string;
  inputSize: 32 | 64 | 128;
  value: number;
  bound: "exact" | "lower";
  metric: string;
  protocol: string;
  protocolVerified: boolean;
  protocolNote: string;
  protocolOptions: Record<string, unknown>;
  encoder:
    | Partial<Record<"inputSize" | "ndf" | "nRkhs" | "nDepth" | "useBn", number | boolean>>
    | null;
  encoderNote?: string;
  pretrainEpochs: number | null;
  pretrainEpochsNote?: string;
  batchSize: number | null;
  augmentation: string;
  status: "verified" | "third-party";
  source: string;
}

/** `results/published.json`. */
export interface Published {
  schemaVersion: 1;
  entries: Record<string, PublishedEntry>;
}

let validator: ValidateFunction | undefined;

/**
 * Reads and validates the registry.
 *
 * @example
 * ```ts
 * (await readPublished()).entries["amdim-imagenet-linear"].value; // 0.681
 * ```
 */
export async function readPublished(path: string = DEFAULT_PUBLISHED): Promise<Published> {
  const value = JSON.parse(await Deno.readTextFile(path));
  validator ??= createAjv().compile(publishedSchema as Record<string, unknown>);
  if (!validator(value)) {
    const e = validator.errors![0];
    throw new BenchError("published_invalid", `${e.instancePath || "(root)"} ${e.message}`, {
      location: path,
    });
  }
  return value as Published;
}

/**
 * Compares a spec with a published entry: our metric, the value, and every difference in dataset,
 * input size, protocol and its options, encoder, epochs and batch. `protocolMatch` is true only
 * when the source states the protocol and nothing differs or is unknown.
 *
 * @example
 * ```ts
 * const ref = compareWithPublished(spec, "amdim-cifar10-linear", published.entries["amdim-cifar10-linear"]);
 * ref.mismatches; // ["encoder.ndf 128 != 256", ...]
 * ```
 */
export function compareWithPublished(
  spec: Spec,
  id: string,
  entry: PublishedEntry,
): ReferenceComparison {
  const mismatches: string[] = [];
  const unknowns: string[] = [];
  const differ = (what: string, ours: unknown, theirs: unknown) => {
    if (ours !== theirs) {
      mismatches.push(`${what} ${JSON.stringify(ours)} != ${JSON.stringify(theirs)}`);
    }
  };
  differ("dataset.id", spec.dataset.id, entry.dataset);
  differ("dataset.testSplit", spec.dataset.testSplit, entry.testSplit);
  differ("encoder.inputSize", spec.encoder.inputSize, entry.inputSize);
  const evalEntry = spec.eval.find((e) => e.protocol === entry.protocol) as
    | Record<string, unknown>
    | undefined;
  if (!evalEntry) mismatches.push(`protocol ${entry.protocol} is not run`);
  else {
    for (const [key, theirs] of Object.entries(entry.protocolOptions)) {
      differ(`${entry.protocol}.${key}`, evalEntry[key], theirs);
    }
  }
  if (!entry.protocolVerified) unknowns.push("protocol (not stated by the source)");
  if (entry.encoder === null) unknowns.push("encoder");
  else {
    for (const [key, theirs] of Object.entries(entry.encoder)) {
      differ(`encoder.${key}`, (spec.encoder as unknown as Record<string, unknown>)[key], theirs);
    }
  }
  if (entry.pretrainEpochs === null) unknowns.push("pretrain.epochs");
  else differ("pretrain.epochs", spec.pretrain.epochs, entry.pretrainEpochs);
  if (entry.batchSize === null) unknowns.push("pretrain.batchSize");
  else differ("pretrain.batchSize", spec.pretrain.batchSize, entry.batchSize);
  return {
    id,
    value: entry.value,
    bound: entry.bound,
    metric: entry.metric,
    protocol: entry.protocol,
    status: entry.status,
    protocolMatch: mismatches.length === 0 && unknowns.length === 0,
    mismatches,
    unknowns,
  };
}

/**
 * The reference block of a record for a spec (null when the spec has no reference).
 *
 * @example
 * ```ts
 * record.reference = referenceFor(spec, await readPublished());
 * ```
 */
export function referenceFor(spec: Spec, published: Published): ReferenceComparison | null {
  if (spec.reference === null) return null;
  const entry = published.entries[spec.reference.id];
  if (!entry) {
    throw new BenchError("published_missing", `no published entry "${spec.reference.id}"`, {
      location: "results/published.json",
    });
  }
  return compareWithPublished(spec, spec.reference.id, entry);
}

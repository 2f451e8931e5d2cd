/**
 * Training checkpoints as safetensors files: the encoder's parameters and BatchNorm state, the
 * online heads, the optimiser state, and the counters needed to continue, in `__metadata__`.
 *
 * Tensor names are `<group>/<variable name>`, e.g. `encoder/stem.conv.weight`,
 * `encoderState/final.bn.running_mean`, `heads/mlp.fc1.weight`, `optimizer/adam.m/stem.conv.weight`,
 * `optimizer/adam.step`. Metadata (all strings, as the format requires): `format`
 * (`amdim-bench-checkpoint/1`), `runId`, `specHash`, `step` (updates done), `epoch` and
 * `stepInEpoch` (where the next update starts), `stepsPerEpoch`, `rng` (JSON: every random stream is
 * keyed by `(seed, purpose, epoch/step, index)`, so the position is the next step and epoch; no
 * generator state has to be saved), and `status` (`running` or `final`).
 *
 * Files are written atomically ({@linkcode writeFileAtomic}): a crash leaves the previous file.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { writeFileAtomic } from "../util/atomic_write.ts";
import { BenchError } from "../util/errors.ts";
import {
  decodeSafetensors,
  encodeSafetensors,
  type SafetensorsDtype,
  type StoredTensor,
} from "./safetensors.ts";

/** The format tag written to `__metadata__.format`. */
export const CHECKPOINT_FORMAT = "amdim-bench-checkpoint/1";

/** Counters and identity stored with a checkpoint. */
export interface CheckpointMeta {
  /** Run the checkpoint belongs to. */
  runId: string;
  /** Hash of the resolved spec that produced it. */
  specHash: string;
  /** Optimiser updates done. */
  step: number;
  /** Epoch of the next update. */
  epoch: number;
  /** Index of the next update within its epoch. */
  stepInEpoch: number;
  /** Updates per epoch (drop_last). */
  stepsPerEpoch: number;
  /** `running` for periodic checkpoints, `final` at the end of training. */
  status: "running" | "final";
  /** Free-form extra metadata (strings). */
  extra?: Record<string, string>;
}

/** A variable or tensor with a name (encoder params, state, heads, optimiser moments). */
export interface NamedTensorLike {
  /** Stable name. */
  name: string;
  /** A `tf.Variable` or plain tensor. */
  tensor: tf.Tensor;
}

/** Decoded checkpoint: its tensors by full name and its counters. */
export interface Checkpoint {
  /** Tensors by `<group>/<name>`. */
  tensors: Map<string, StoredTensor>;
  /** Counters and identity. */
  meta: CheckpointMeta;
}

async function storedOf(t: tf.Tensor): Promise<StoredTensor> {
  const data = await t.data();
  if (t.dtype === "float32") {
    return { dtype: "F32", shape: [...t.shape], data: Float32Array.from(data as Float32Array) };
  }
  if (t.dtype === "int32") {
    return { dtype: "I32", shape: [...t.shape], data: Int32Array.from(data as Int32Array) };
  }
  throw new RangeError(`cannot checkpoint a ${t.dtype} tensor`);
}

/**
 * Copies named tensors (or variables) to host memory under `<group>/<name>`.
 *
 * @example
 * ```ts
 * const tensors = new Map();
 * await addGroup(tensors, "encoder", encoder.params.map((p) => ({ name: p.name, tensor: p.variable })));
 * ```
 */
export async function addGroup(
  into: Map<string, StoredTensor>,
  group: string,
  items: readonly NamedTensorLike[],
): Promise<Map<string, StoredTensor>> {
  for (const { name, tensor } of items) {
    const key = `${group}/${name}`;
    if (into.has(key)) throw new RangeError(`duplicate checkpoint tensor ${key}`);
    into.set(key, await storedOf(tensor));
  }
  return into;
}

/**
 * Variables as {@linkcode NamedTensorLike} items.
 *
 * @example
 * ```ts
 * addGroup(tensors, "encoder", variablesOf(encoder.params));
 * ```
 */
export function variablesOf(
  vars: readonly { name: string; variable: tf.Variable }[],
): NamedTensorLike[] {
  return vars.map((v) => ({ name: v.name, tensor: v.variable }));
}

function metaToStrings(meta: CheckpointMeta): Record<string, string> {
  return {
    ...(meta.extra ?? {}),
    format: CHECKPOINT_FORMAT,
    runId: meta.runId,
    specHash: meta.specHash,
    step: String(meta.step),
    epoch: String(meta.epoch),
    stepInEpoch: String(meta.stepInEpoch),
    stepsPerEpoch: String(meta.stepsPerEpoch),
    status: meta.status,
    rng: JSON.stringify({
      keyed: "(seed, purpose, epoch|step, index)",
      nextStep: meta.step,
      nextEpoch: meta.epoch,
      nextStepInEpoch: meta.stepInEpoch,
    }),
  };
}

const META_KEYS = new Set([
  "format",
  "runId",
  "specHash",
  "step",
  "epoch",
  "stepInEpoch",
  "stepsPerEpoch",
  "status",
  "rng",
]);

function metaFromStrings(m: Record<string, string>, location: string): CheckpointMeta {
  const bad = (message: string) =>
    new BenchError("checkpoint_corrupt", message, {
      location,
      hint: "this file was not written by the amdim-bench trainer, or it was edited",
    });
  if (m.format !== CHECKPOINT_FORMAT) {
    throw bad(`metadata format is ${JSON.stringify(m.format)}, expected ${CHECKPOINT_FORMAT}`);
  }
  const int = (key: string) => {
    const v = Number(m[key]);
    if (!Number.isSafeInteger(v) || v < 0) throw bad(`metadata ${key} is not a count: ${m[key]}`);
    return v;
  };
  if (m.status !== "running" && m.status !== "final") throw bad(`metadata status ${m.status}`);
  if (typeof m.runId !== "string" || typeof m.specHash !== "string") {
    throw bad("metadata lacks runId or specHash");
  }
  const extra: Record<string, string> = {};
  for (const [k, v] of Object.entries(m)) if (!META_KEYS.has(k)) extra[k] = v;
  return {
    runId: m.runId,
    specHash: m.specHash,
    step: int("step"),
    epoch: int("epoch"),
    stepInEpoch: int("stepInEpoch"),
    stepsPerEpoch: int("stepsPerEpoch"),
    status: m.status,
    extra,
  };
}

/**
 * Encodes a checkpoint to safetensors bytes (deterministic: the same tensors and counters give the
 * same bytes).
 *
 * @example
 * ```ts
 * const bytes = encodeCheckpoint({ tensors, meta });
 * ```
 */
export function encodeCheckpoint(checkpoint: Checkpoint): Uint8Array {
  return encodeSafetensors(checkpoint.tensors, metaToStrings(checkpoint.meta));
}

/**
 * Writes a checkpoint atomically to `path`.
 *
 * @example
 * ```ts
 * await writeCheckpoint("results/runs/x/checkpoints/last.safetensors", { tensors, meta });
 * ```
 */
export async function writeCheckpoint(path: string, checkpoint: Checkpoint): Promise<void> {
  await writeFileAtomic(path, encodeCheckpoint(checkpoint));
}

/**
 * Reads and validates a checkpoint; a missing, truncated or corrupt file is a clear `BenchError`.
 *
 * @example
 * ```ts
 * const { tensors, meta } = await readCheckpoint("results/runs/x/checkpoints/last.safetensors");
 * ```
 */
export async function readCheckpoint(path: string): Promise<Checkpoint> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new BenchError("checkpoint_missing", "checkpoint file not found", {
        location: path,
        hint: "a run writes checkpoints/last.safetensors after its first checkpointEvery steps",
      });
    }
    throw error;
  }
  return decodeCheckpoint(bytes, path);
}

/**
 * Decodes checkpoint bytes (see {@linkcode readCheckpoint}).
 *
 * @example
 * ```ts
 * const ckpt = decodeCheckpoint(bytes, "last.safetensors");
 * ```
 */
export function decodeCheckpoint(bytes: Uint8Array, location = "<bytes>"): Checkpoint {
  const { tensors, metadata } = decodeSafetensors(bytes, location);
  return { tensors, meta: metaFromStrings(metadata, location) };
}

/**
 * The tensors of one group, as `tf.Tensor`s named without the group prefix (the caller disposes
 * them), e.g. to hand to `AdamL2.importState`.
 *
 * @example
 * ```ts
 * const state = groupTensors(ckpt, "optimizer");
 * optimizer.importState(state.map(({ name, tensor }) => ({ name, tensor })));
 * tf.dispose(state.map((s) => s.tensor));
 * ```
 */
export function groupTensors(checkpoint: Checkpoint, group: string): NamedTensorLike[] {
  const out: NamedTensorLike[] = [];
  const prefix = `${group}/`;
  for (const [key, t] of checkpoint.tensors) {
    if (!key.startsWith(prefix)) continue;
    const dtype = t.dtype === "I32" ? "int32" : "float32";
    const data = t.dtype === "F64" ? Float32Array.from(t.data as Float64Array) : t.data;
    out.push({
      name: key.slice(prefix.length),
      tensor: tf.tensor(data as Float32Array, t.shape, dtype),
    });
  }
  return out;
}

/**
 * Assigns the stored values of group `group` to `vars`, strictly: a variable without a stored
 * tensor, a shape mismatch, or a stored tensor of the group that matches no variable is an error
 * (never a silently half-loaded model).
 *
 * @example
 * ```ts
 * restoreVariables(ckpt, "encoder", encoder.params, path);
 * ```
 */
export function restoreVariables(
  checkpoint: Checkpoint,
  group: string,
  vars: readonly { name: string; variable: tf.Variable }[],
  location = "<checkpoint>",
): void {
  const prefix = `${group}/`;
  const wanted = new Set(vars.map((v) => `${prefix}${v.name}`));
  for (const key of checkpoint.tensors.keys()) {
    if (key.startsWith(prefix) && !wanted.has(key)) {
      throw new BenchError("checkpoint_mismatch", `unexpected tensor ${key}`, {
        location,
        hint: "the checkpoint was written for a different model configuration",
      });
    }
  }
  const pending: [tf.Variable, StoredTensor][] = [];
  for (const v of vars) {
    const key = `${prefix}${v.name}`;
    const t = checkpoint.tensors.get(key);
    if (!t) {
      throw new BenchError("checkpoint_mismatch", `missing tensor ${key}`, {
        location,
        hint: "the checkpoint was written for a different model configuration",
      });
    }
    if (!tf.util.arraysEqual(t.shape, v.variable.shape)) {
      throw new BenchError(
        "checkpoint_mismatch",
        `tensor ${key} has shape [${t.shape}], the model expects [${v.variable.shape}]`,
        { location },
      );
    }
    pending.push([v.variable, t]);
  }
  for (const [variable, t] of pending) {
    const dtype: tf.DataType = (t.dtype as SafetensorsDtype) === "I32" ? "int32" : "float32";
    tf.tidy(() => variable.assign(tf.tensor(t.data as Float32Array, t.shape, dtype)));
  }
}

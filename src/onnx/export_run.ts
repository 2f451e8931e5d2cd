/**
 * Exporting a trained encoder (a run folder or a checkpoint file) to ONNX, with the run's facts
 * in `metadata_props`, and checking the export: ONNX Runtime's outputs against the tfjs forward
 * (eval mode) of the same weights on the same seeded images.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { basename, dirname, join } from "node:path";
import { getPolicy, type PolicyName } from "../augment/policy.ts";
import { type EncoderConfig, validateEncoderConfig } from "../model/config.ts";
import { createEncoder, type Encoder } from "../model/encoder.ts";
import { type Checkpoint, readCheckpoint, restoreVariables } from "../train/checkpoint.ts";
import { FINAL_CHECKPOINT, LAST_CHECKPOINT } from "../train/pretrain.ts";
import type { Spec } from "../spec/types.ts";
import { BenchError } from "../util/errors.ts";
import { sha256Hex } from "../util/hash.ts";
import { Rng } from "../util/rng.ts";
import {
  type EncoderOutputName,
  exportEncoderOnnx,
  type HostTensor,
  type OnnxLayout,
  type WeightLookup,
} from "./export_encoder.ts";
import { openOnnxEncoder } from "./ort_session.ts";

/** A trained encoder's weights and what is known about the run that made them. */
export interface TrainedWeights {
  /** Encoder shape (from the run's spec, or inferred from the tensor shapes). */
  config: EncoderConfig;
  /** Weights and running statistics by variable name. */
  tensors: Map<string, HostTensor>;
  /** The checkpoint read. */
  checkpointPath: string;
  /** sha256 of the checkpoint file. */
  checkpointSha256: string;
  /** The decoded checkpoint. */
  checkpoint: Checkpoint;
  /** The run's resolved spec when found (`<run>/spec.json` with a matching spec hash). */
  spec: Spec | null;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * The encoder config a set of variable names and shapes belongs to (checkpoints store no config):
 * 128 px has `stem.conv0`, 32 px has `block0.unit0`, otherwise 64 px; `ndf` from the stem,
 * `nRkhs` from `final.bn`, `nDepth` from the units of block1, `useBn` from a trunk BatchNorm.
 *
 * @example
 * ```ts
 * const cfg = inferEncoderConfig(new Map([["stem.conv.weight", [3, 3, 3, 32]], ...]));
 * ```
 */
export function inferEncoderConfig(
  shapes: ReadonlyMap<string, readonly number[]>,
  location = "<checkpoint>",
): EncoderConfig {
  const stem = shapes.get("stem.conv0.weight") ?? shapes.get("stem.conv.weight");
  const rkhs = shapes.get("final.bn.weight");
  if (!stem || !rkhs) {
    throw new BenchError(
      "onnx_export_weights",
      "the checkpoint has no AMDIM encoder (no encoder/stem.conv*.weight or encoder/final.bn.weight)",
      {
        location,
        hint: "pass a checkpoint written by `deno task bench` (checkpoints/*.safetensors)",
      },
    );
  }
  const inputSize = shapes.has("stem.conv0.weight")
    ? 128
    : shapes.has("block0.unit0.conv_a.weight")
    ? 32
    : 64;
  let nDepth = 0;
  while (shapes.has(`block1.unit${nDepth}.conv_a.weight`)) nDepth++;
  return validateEncoderConfig({
    inputSize,
    ndf: stem[3],
    nRkhs: rkhs[0],
    nDepth,
    useBn: shapes.has("block1.unit0.bn.weight"),
  }, location);
}

/**
 * Reads the encoder weights of a run folder (its final checkpoint, else its last) or of a
 * checkpoint file, through the safetensors checkpoint reader.
 *
 * @example
 * ```ts
 * const w = await readTrainedWeights("results/runs/smoke-20250101T000000-abcdef");
 * ```
 */
export async function readTrainedWeights(path: string): Promise<TrainedWeights> {
  let ckptPath = path;
  let runDir: string | null = null;
  let stat: Deno.FileInfo;
  try {
    stat = await Deno.stat(path);
  } catch (cause) {
    throw new BenchError("onnx_export_input", "no such run folder or checkpoint", {
      location: path,
      hint: "pass results/runs/<run-id> or a checkpoints/*.safetensors file",
      cause,
    });
  }
  if (stat.isDirectory) {
    runDir = path;
    const final = join(path, "checkpoints", FINAL_CHECKPOINT);
    const last = join(path, "checkpoints", LAST_CHECKPOINT);
    ckptPath = (await exists(final)) ? final : last;
  } else if (basename(dirname(path)) === "checkpoints") {
    runDir = dirname(dirname(path));
  }
  const bytes = await Deno.readFile(ckptPath).catch((cause) => {
    throw new BenchError("checkpoint_missing", "checkpoint file not found", {
      location: ckptPath,
      hint: "the run has not written a checkpoint yet (checkpointEvery steps, or the end)",
      cause,
    });
  });
  const checkpoint = await readCheckpoint(ckptPath);
  const tensors = new Map<string, HostTensor>();
  for (const [key, t] of checkpoint.tensors) {
    const m = /^(encoder|encoderState)\/(.+)$/.exec(key);
    if (!m) continue;
    const data = t.data instanceof Float32Array
      ? t.data
      : Float32Array.from(t.data as Float64Array);
    tensors.set(m[2], { shape: t.shape, data });
  }
  let spec: Spec | null = null;
  if (runDir && await exists(join(runDir, "spec.json"))) {
    const saved = JSON.parse(await Deno.readTextFile(join(runDir, "spec.json")));
    if (saved?.specHash === checkpoint.meta.specHash && saved.spec) spec = saved.spec as Spec;
  }
  const shapes = new Map([...tensors].map(([k, v]) => [k, v.shape]));
  const config = spec ? validateEncoderConfig(spec.encoder) : inferEncoderConfig(shapes, ckptPath);
  return {
    config,
    tensors,
    checkpointPath: ckptPath,
    checkpointSha256: sha256Hex(bytes),
    checkpoint,
    spec,
  };
}

/** Options of {@linkcode exportTrainedEncoder}. */
export interface ExportTrainedOptions {
  layout?: OnnxLayout;
  outputs?: readonly EncoderOutputName[];
  /** Normalisation policy when the run's spec is not found. */
  policy?: PolicyName;
}

/**
 * ONNX bytes of trained weights, with the run's metadata: `runId`, `specHash`, `specId`, `step`,
 * `checkpointSha256`, `policy`, `normalization` (JSON `{mean, std}`), plus the exporter's
 * `format`, `layout`, `inputName`, `inputSize`, `outputs`, `encoderConfig`. Every encoder tensor
 * of the checkpoint must be used (a `BenchError` otherwise).
 *
 * @example
 * ```ts
 * const { bytes, metadata } = exportTrainedEncoder(await readTrainedWeights(runDir), {});
 * ```
 */
export function exportTrainedEncoder(
  w: TrainedWeights,
  options: ExportTrainedOptions = {},
): { bytes: Uint8Array; metadata: Record<string, string> } {
  const used = new Set<string>();
  const lookup: WeightLookup = (name) => {
    used.add(name);
    return w.tensors.get(name);
  };
  const policy = w.spec?.augment.policy ?? options.policy;
  const metadata: Record<string, string> = {
    runId: w.checkpoint.meta.runId,
    specHash: w.checkpoint.meta.specHash,
    step: String(w.checkpoint.meta.step),
    checkpointSha256: w.checkpointSha256,
  };
  if (w.spec) metadata.specId = w.spec.id;
  if (policy) {
    const norm = getPolicy(policy).normalization;
    metadata.policy = policy;
    metadata.normalization = JSON.stringify({ mean: norm.mean, std: norm.std });
  }
  const bytes = exportEncoderOnnx(w.config, lookup, {
    layout: options.layout,
    outputs: options.outputs,
    metadata,
  });
  const unused = [...w.tensors.keys()].filter((k) => !used.has(k));
  // Head weights are only read when r5/r7 are exported; the rest must all be used.
  const unexpected = unused.filter((k) => !/^head[57]\./.test(k));
  if (unexpected.length > 0) {
    throw new BenchError(
      "onnx_export_weights",
      `the checkpoint has encoder tensors the ${JSON.stringify(w.config)} plan does not use: ${
        unexpected.slice(0, 5).join(", ")
      }`,
      { location: w.checkpointPath, hint: "the checkpoint belongs to another encoder config" },
    );
  }
  return { bytes, metadata };
}

/**
 * A tfjs encoder holding the given weights (for parity checks).
 *
 * @example
 * ```ts
 * const enc = encoderFromWeights(await readTrainedWeights(runDir));
 * ```
 */
export function encoderFromWeights(w: Pick<TrainedWeights, "config" | "checkpoint">): Encoder {
  const enc = createEncoder(w.config, 0);
  try {
    restoreVariables(w.checkpoint, "encoder", enc.params, "encoder");
    restoreVariables(w.checkpoint, "encoderState", enc.state, "encoderState");
  } catch (e) {
    enc.dispose();
    throw e;
  }
  return enc;
}

/** Per-output result of {@linkcode checkOnnxParity}. */
export interface ParityReport {
  /** Largest |tfjs − ort| / max(1, |tfjs|) per output. */
  maxRelDiff: Record<string, number>;
  /** Largest |tfjs − ort| per output. */
  maxAbsDiff: Record<string, number>;
  /** Images compared. */
  n: number;
}

/**
 * Runs `bytes` with ONNX Runtime and `encoder` with tfjs (eval mode) on the same `n` seeded
 * U(−1, 1) images and reports the largest differences of every output of the model.
 *
 * @example
 * ```ts
 * const r = await checkOnnxParity(encoder, bytes, { outputs: ["r1"], layout: "nhwc" });
 * if (r.maxRelDiff.r1 > 1e-4) throw new Error("export mismatch");
 * ```
 */
export async function checkOnnxParity(
  encoder: Encoder,
  bytes: Uint8Array,
  options: { outputs: readonly EncoderOutputName[]; layout: OnnxLayout; n?: number; seed?: number },
): Promise<ParityReport> {
  const n = options.n ?? 4;
  const s = encoder.config.inputSize;
  const x = new Rng(options.seed ?? 0, "onnx-parity", n, s).fillUniform(
    new Float32Array(n * s * s * 3),
    -1,
    1,
  );
  const session = await openOnnxEncoder(bytes, { inputSize: s, layout: options.layout });
  try {
    const got = await session.runOutputs(x, n, options.outputs);
    const refTensors = tf.tidy(() => {
      const { outputs } = encoder.apply(tf.tensor4d(x, [n, s, s, 3]), { training: false });
      const out: Record<string, tf.Tensor> = {};
      for (const name of options.outputs) {
        let t: tf.Tensor = outputs[name];
        if (options.layout === "nchw" && name !== "r1") t = tf.transpose(t, [0, 3, 1, 2]);
        out[name] = t;
      }
      return out;
    });
    const ref: Record<string, Float32Array> = {};
    try {
      const names = Object.keys(refTensors);
      const values = await Promise.all(names.map((name) => refTensors[name].data()));
      names.forEach((name, i) => ref[name] = values[i] as Float32Array);
    } finally {
      tf.dispose(Object.values(refTensors));
    }
    const maxRelDiff: Record<string, number> = {};
    const maxAbsDiff: Record<string, number> = {};
    for (const name of options.outputs) {
      const a = ref[name];
      const b = got[name].data;
      let rel = a.length === b.length ? 0 : Infinity;
      let abs = rel;
      for (let i = 0; i < Math.min(a.length, b.length); i++) {
        const d = Math.abs(a[i] - b[i]);
        if (!(d <= abs)) abs = Number.isNaN(d) ? Infinity : d;
        const r = d / Math.max(1, Math.abs(a[i]));
        if (!(r <= rel)) rel = Number.isNaN(r) ? Infinity : r;
      }
      maxRelDiff[name] = rel;
      maxAbsDiff[name] = abs;
    }
    return { maxRelDiff, maxAbsDiff, n };
  } finally {
    await session.release();
  }
}

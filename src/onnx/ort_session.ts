/**
 * ONNX image encoders run with ONNX Runtime (`onnxruntime-node`, CPU execution provider): loading
 * with clear errors, checking that the model's input and output fit the benchmark (one float32
 * image input `[N, S, S, 3]` or `[N, 3, S, S]`, a float32 feature output), and batched forward
 * passes of NHWC float32 images.
 *
 * @module
 */
import type * as Ort from "onnxruntime-node";
import { BenchError } from "../util/errors.ts";
import { sha256Hex } from "../util/hash.ts";
import type { OnnxLayout } from "./export_encoder.ts";
import { readOnnxMetadata } from "./onnx_graph.ts";

type OrtModule = typeof Ort;
let ortModule: Promise<OrtModule> | undefined;

/**
 * Imports `onnxruntime-node` once; a missing or unloadable native binding is a `BenchError`
 * (`onnxruntime_unavailable`).
 *
 * @example
 * ```ts
 * const ort = await loadOnnxRuntime();
 * console.log(ort.env.versions.node);
 * ```
 */
export function loadOnnxRuntime(): Promise<OrtModule> {
  ortModule ??= import("onnxruntime-node").then(
    (m) => m as unknown as OrtModule,
    (cause) => {
      ortModule = undefined;
      throw new BenchError(
        "onnxruntime_unavailable",
        `onnxruntime-node cannot be loaded: ${cause instanceof Error ? cause.message : cause}`,
        {
          location: "npm:onnxruntime-node",
          hint: "run `deno install` (the CPU binding ships in the package; FFI needs --allow-ffi)",
          cause,
        },
      );
    },
  );
  return ortModule;
}

/** What the benchmark expects of an image encoder. */
export interface EncoderExpectation {
  /** Square input side in pixels (the spec's `encoder.inputSize`). */
  inputSize: number;
  /** Layout of the input; inferred from the model (metadata, then shape) when omitted. */
  layout?: OnnxLayout;
  /** Output to read; default `r1` when present, else the model's only output. */
  outputName?: string;
}

/** Options of {@linkcode openOnnxEncoder}. */
export interface OpenOnnxEncoderOptions extends EncoderExpectation {
  /** ONNX Runtime intra-op threads (default: ONNX Runtime's choice, all cores). */
  threads?: number;
  /** Where the bytes came from, for messages (default `<bytes>`). */
  location?: string;
}

/** An ONNX encoder ready to run. */
export interface OnnxEncoder {
  /** Where the model came from. */
  readonly location: string;
  /** sha256 of the model bytes. */
  readonly sha256: string;
  /** The image input. */
  readonly inputName: string;
  /** The feature output read. */
  readonly outputName: string;
  /** Input layout. */
  readonly layout: OnnxLayout;
  /** Input side. */
  readonly inputSize: number;
  /** A batch size the model is fixed to (its input's first dim), or null when symbolic. */
  readonly fixedBatch: number | null;
  /** The model's `metadata_props`. */
  readonly metadata: Record<string, string>;
  /** ONNX Runtime version. */
  readonly runtimeVersion: string;
  /**
   * Features of `n` NHWC float32 images (normalised): `n * dim` values, each image's output
   * flattened row-major.
   */
  run(x: Float32Array, n: number): Promise<{ features: Float32Array; dim: number }>;
  /** Runs and returns every requested output by name, with its shape (for parity checks). */
  runOutputs(
    x: Float32Array,
    n: number,
    names: readonly string[],
  ): Promise<Record<string, { data: Float32Array; dims: number[] }>>;
  /** Releases the session. */
  release(): Promise<void>;
}

function shapeText(type: string, shape: readonly (number | string)[]): string {
  return `${type} [${shape.join(",")}]`;
}

/**
 * Loads an ONNX model (path or bytes) into an ONNX Runtime session and checks it is an image
 * encoder the benchmark can feed. Every misfit is a `BenchError` (`onnx_model_invalid`,
 * `onnx_model_mismatch`) naming what was expected and what the model declares, e.g.
 * `input "x": expected [N,32,32,3] float32, got uint8 [N,32,32,3]`.
 *
 * @example
 * ```ts
 * const enc = await openOnnxEncoder("model.onnx", { inputSize: 32 });
 * const { features, dim } = await enc.run(images, 16);
 * await enc.release();
 * ```
 */
export async function openOnnxEncoder(
  model: string | Uint8Array,
  options: OpenOnnxEncoderOptions,
): Promise<OnnxEncoder> {
  const location = typeof model === "string" ? model : options.location ?? "<bytes>";
  let bytes: Uint8Array;
  if (typeof model === "string") {
    try {
      bytes = await Deno.readFile(model);
    } catch (cause) {
      throw new BenchError("onnx_model_missing", "cannot read the ONNX model", {
        location,
        hint: "pass the path of a .onnx file (e.g. one written by `deno task export`)",
        cause,
      });
    }
  } else {
    bytes = model;
  }
  const invalid = (message: string, hint: string, cause?: unknown): never => {
    throw new BenchError("onnx_model_invalid", message, { location, hint, cause });
  };
  if (bytes.length === 0) invalid("the ONNX file is empty", "re-export or re-download the model");
  const ort = await loadOnnxRuntime();
  let session: Ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(bytes, {
      executionProviders: ["cpu"],
      graphOptimizationLevel: "all",
      ...(options.threads ? { intraOpNumThreads: options.threads } : {}),
    });
  } catch (cause) {
    const msg = cause instanceof Error ? cause.message : String(cause);
    return invalid(
      `ONNX Runtime cannot load the model: ${msg.split("\n")[0]}`,
      "the file is truncated, corrupt or not an ONNX model; re-export or re-download it",
      cause,
    );
  }
  let metadata: Record<string, string> = {};
  try {
    metadata = readOnnxMetadata(bytes);
  } catch {
    metadata = {};
  }
  try {
    return checkSession(ort, session, bytes, metadata, location, options);
  } catch (error) {
    await session.release();
    throw error;
  }
}

function checkSession(
  ort: OrtModule,
  session: Ort.InferenceSession,
  bytes: Uint8Array,
  metadata: Record<string, string>,
  location: string,
  options: OpenOnnxEncoderOptions,
): OnnxEncoder {
  const s = options.inputSize;
  const mismatch = (message: string, hint: string): never => {
    throw new BenchError("onnx_model_mismatch", message, { location, hint });
  };
  if (session.outputNames.length === 0) {
    throw new BenchError("onnx_model_invalid", "the model declares no outputs", {
      location,
      hint: "an encoder must output a feature tensor, e.g. r1 [N, D]",
    });
  }
  if (session.inputNames.length !== 1) {
    mismatch(
      `expected exactly one image input, got ${session.inputNames.length}: ` +
        `[${session.inputNames.join(", ")}]`,
      "export the encoder with a single float32 image input",
    );
  }
  const inMeta = session.inputMetadata[0];
  const declaredLayout = metadata.layout === "nhwc" || metadata.layout === "nchw"
    ? metadata.layout as OnnxLayout
    : undefined;
  const shape = inMeta.isTensor ? inMeta.shape : [];
  const type = inMeta.isTensor ? inMeta.type : "non-tensor";
  const fits = (l: OnnxLayout) => {
    if (shape.length !== 4) return false;
    const want = l === "nhwc" ? [null, s, s, 3] : [null, 3, s, s];
    return want.every((d, i) => d === null || typeof shape[i] === "string" || shape[i] === d);
  };
  let layout = options.layout ?? declaredLayout;
  if (layout === undefined) {
    // Inferred from the declared shape; a fully symbolic input defaults to NHWC.
    layout = fits("nhwc") ? "nhwc" : fits("nchw") ? "nchw" : "nhwc";
  }
  const expected = layout === "nhwc" ? `[N,${s},${s},3]` : `[N,3,${s},${s}]`;
  const flag = "--encoder-layout nhwc|nchw, --set encoder.inputSize=...";
  if (type !== "float32" || !fits(layout)) {
    mismatch(
      `input "${inMeta.name}": expected ${expected} float32 (${layout}), got ${
        shapeText(type, shape)
      }`,
      type !== "float32"
        ? "the benchmark feeds normalised float32 pixels; export the model with a float32 input"
        : `the spec's input size is ${s}; check the model's resolution and layout (${flag})`,
    );
  }
  const fixedBatch = typeof shape[0] === "number" && shape[0] > 0 ? shape[0] : null;
  let outputName = options.outputName;
  if (outputName === undefined) {
    outputName = session.outputNames.includes("r1")
      ? "r1"
      : session.outputNames.length === 1
      ? session.outputNames[0]
      : mismatch(
        `the model has ${session.outputNames.length} outputs [${session.outputNames.join(", ")}]` +
          " and none is named r1",
        "choose one with --encoder-output NAME",
      );
  }
  const outIndex = session.outputNames.indexOf(outputName);
  if (outIndex < 0) {
    mismatch(
      `the model has no output "${outputName}" (outputs: ${session.outputNames.join(", ")})`,
      "choose one of the listed outputs with --encoder-output NAME",
    );
  }
  const outMeta = session.outputMetadata[outIndex];
  if (outMeta.isTensor && outMeta.type !== "float32") {
    mismatch(
      `output "${outputName}": expected a float32 feature tensor [N, ...], got ${
        shapeText(outMeta.type, outMeta.shape)
      }`,
      "the protocols need float32 features",
    );
  }
  const inputName = inMeta.name;
  const sha = sha256Hex(bytes);
  const toInput = (x: Float32Array, n: number): Ort.Tensor => {
    const size = n * s * s * 3;
    if (x.length !== size) {
      throw new RangeError(
        `expected ${size} values for ${n} images of ${s}x${s}x3, got ${x.length}`,
      );
    }
    if (layout === "nhwc") return new ort.Tensor("float32", x, [n, s, s, 3]);
    const out = new Float32Array(size);
    const hw = s * s;
    for (let b = 0; b < n; b++) {
      const base = b * hw * 3;
      for (let p = 0; p < hw; p++) {
        out[base + p] = x[base + p * 3];
        out[base + hw + p] = x[base + p * 3 + 1];
        out[base + 2 * hw + p] = x[base + p * 3 + 2];
      }
    }
    return new ort.Tensor("float32", out, [n, 3, s, s]);
  };
  const runOutputs = async (x: Float32Array, n: number, names: readonly string[]) => {
    const chunk = fixedBatch ?? n;
    const per = s * s * 3;
    const parts: Record<string, { data: Float32Array; dims: number[] }[]> = {};
    for (let start = 0; start < n; start += chunk) {
      const m = Math.min(chunk, n - start);
      let input = x.subarray(start * per, (start + m) * per);
      if (m < chunk) {
        const padded = new Float32Array(chunk * per);
        padded.set(input);
        input = padded;
      }
      const feeds = { [inputName]: toInput(input, chunk) };
      const result = await session.run(feeds, [...names]);
      for (const name of names) {
        const t = result[name];
        if (t.type !== "float32") {
          throw new BenchError(
            "onnx_model_mismatch",
            `output "${name}" is ${t.type}, not float32`,
            {
              location,
            },
          );
        }
        const dims = [...t.dims].map(Number);
        const data = t.data as Float32Array;
        if (dims[0] !== chunk) {
          throw new BenchError(
            "onnx_model_mismatch",
            `output "${name}": first dim ${dims[0]} is not the batch size ${chunk}`,
            { location, hint: "the output must be [N, ...], one row per image" },
          );
        }
        const rows = m === chunk ? data : data.slice(0, (data.length / chunk) * m);
        (parts[name] ??= []).push({ data: new Float32Array(rows), dims: [m, ...dims.slice(1)] });
        t.dispose();
      }
    }
    const out: Record<string, { data: Float32Array; dims: number[] }> = {};
    for (const name of names) {
      const list = parts[name] ?? [];
      const total = list.reduce((a, p) => a + p.data.length, 0);
      const data = new Float32Array(total);
      let o = 0;
      for (const p of list) {
        data.set(p.data, o);
        o += p.data.length;
      }
      out[name] = { data, dims: [n, ...(list[0]?.dims.slice(1) ?? [])] };
    }
    return out;
  };
  return {
    location,
    sha256: sha,
    inputName,
    outputName,
    layout,
    inputSize: s,
    fixedBatch,
    metadata,
    runtimeVersion: ort.env.versions.node ?? ort.env.versions.common ?? "unknown",
    async run(x, n) {
      const { data } = (await runOutputs(x, n, [outputName!]))[outputName!];
      return { features: data, dim: n > 0 ? data.length / n : 0 };
    },
    runOutputs,
    release: () => session.release(),
  };
}

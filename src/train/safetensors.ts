/**
 * The safetensors file format, read and written by hand (no npm package offers a maintained local
 * reader and writer: the `safetensors` package is a single 0.0.1 release, and `@huggingface/hub`
 * only parses headers of files hosted on the Hub).
 *
 * Layout: an 8-byte little-endian unsigned header length `N`; `N` bytes of UTF-8 JSON
 * `{ "<name>": { "dtype": "F32", "shape": [..], "data_offsets": [begin, end] }, ...,
 * "__metadata__": { "<key>": "<string>" } }` padded with spaces so the data starts 8-byte aligned;
 * then the raw little-endian tensor bytes, where `data_offsets` are relative to the start of the
 * data and the tensors cover it exactly, without gaps or overlaps.
 *
 * @module
 */
import { BenchError } from "../util/errors.ts";

/** Element types this project stores. */
export type SafetensorsDtype = "F32" | "I32" | "U8" | "F64";

/** One stored tensor. */
export interface StoredTensor {
  /** Element type. */
  dtype: SafetensorsDtype;
  /** Shape (empty for a scalar). */
  shape: number[];
  /** Values, row-major. */
  data: Float32Array | Int32Array | Uint8Array | Float64Array;
}

/** The decoded contents of a safetensors file. */
export interface SafetensorsContents {
  /** Tensors by name. */
  tensors: Map<string, StoredTensor>;
  /** The `__metadata__` string map. */
  metadata: Record<string, string>;
}

const BYTES: Record<SafetensorsDtype, number> = { F32: 4, I32: 4, U8: 1, F64: 8 };
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
const MAX_HEADER = 100_000_000;

function ctorOf(dtype: SafetensorsDtype) {
  return dtype === "F32"
    ? Float32Array
    : dtype === "I32"
    ? Int32Array
    : dtype === "F64"
    ? Float64Array
    : Uint8Array;
}

function count(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * Encodes tensors (stored in name order) and string metadata as safetensors bytes.
 *
 * @example
 * ```ts
 * const bytes = encodeSafetensors(
 *   new Map([["w", { dtype: "F32", shape: [2], data: new Float32Array([1, 2]) }]]),
 *   { step: "10" },
 * );
 * ```
 */
export function encodeSafetensors(
  tensors: Map<string, StoredTensor>,
  metadata: Record<string, string> = {},
): Uint8Array {
  if (!LITTLE_ENDIAN) throw new Error("safetensors writing needs a little-endian host");
  const names = [...tensors.keys()].sort();
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const name of names) {
    if (name === "__metadata__") throw new RangeError("tensor name __metadata__ is reserved");
    const t = tensors.get(name)!;
    const n = count(t.shape);
    if (t.data.length !== n) {
      throw new RangeError(`tensor ${name}: ${t.data.length} values for shape [${t.shape}]`);
    }
    if (!(t.data instanceof ctorOf(t.dtype))) {
      throw new RangeError(`tensor ${name}: data does not match dtype ${t.dtype}`);
    }
    const size = n * BYTES[t.dtype];
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + size] };
    offset += size;
  }
  let json = JSON.stringify(header);
  const raw = new TextEncoder().encode(json);
  json += " ".repeat((8 - ((8 + raw.length) % 8)) % 8);
  const head = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + head.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  let at = 8 + head.length;
  for (const name of names) {
    const t = tensors.get(name)!;
    const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    out.set(bytes, at);
    at += bytes.length;
  }
  return out;
}

/**
 * Decodes and validates safetensors bytes; any inconsistency (truncation, bad JSON, overlapping or
 * missing data, unknown dtype) is a `BenchError("checkpoint_corrupt")` naming `location`.
 *
 * @example
 * ```ts
 * const { tensors, metadata } = decodeSafetensors(await Deno.readFile("last.safetensors"));
 * ```
 */
export function decodeSafetensors(bytes: Uint8Array, location = "<bytes>"): SafetensorsContents {
  const corrupt = (message: string) =>
    new BenchError("checkpoint_corrupt", message, {
      location,
      hint: "the file is truncated or not a safetensors file; resume from another checkpoint " +
        "or start the run again",
    });
  if (bytes.length < 8) throw corrupt(`file has ${bytes.length} bytes, shorter than the header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  if (headerLength > MAX_HEADER || 8 + headerLength > bytes.length) {
    throw corrupt(`header length ${headerLength} does not fit in a ${bytes.length}-byte file`);
  }
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(
      bytes.subarray(8, 8 + headerLength),
    ));
  } catch (error) {
    throw corrupt(`header is not valid JSON (${(error as Error).message})`);
  }
  if (header === null || typeof header !== "object" || Array.isArray(header)) {
    throw corrupt("header is not a JSON object");
  }
  const dataStart = 8 + headerLength;
  const dataLength = bytes.length - dataStart;
  const metadata: Record<string, string> = {};
  const entries: [string, StoredTensor & { begin: number; end: number }][] = [];
  for (const [name, value] of Object.entries(header)) {
    if (name === "__metadata__") {
      if (value === null || typeof value !== "object") {
        throw corrupt("__metadata__ is not an object");
      }
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        if (typeof v !== "string") throw corrupt(`metadata ${k} is not a string`);
        metadata[k] = v;
      }
      continue;
    }
    const e = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof e?.dtype !== "string" || !(e.dtype in BYTES)) {
      throw corrupt(`tensor ${name}: unsupported dtype ${JSON.stringify(e?.dtype)}`);
    }
    const dtype = e.dtype as SafetensorsDtype;
    const shape = e.shape;
    const offsets = e.data_offsets;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw corrupt(`tensor ${name}: bad shape`);
    }
    if (
      !Array.isArray(offsets) || offsets.length !== 2 ||
      !offsets.every((d) => Number.isSafeInteger(d) && d >= 0) || offsets[1] < offsets[0]
    ) {
      throw corrupt(`tensor ${name}: bad data_offsets`);
    }
    if (offsets[1] - offsets[0] !== count(shape) * BYTES[dtype]) {
      throw corrupt(`tensor ${name}: ${offsets[1] - offsets[0]} bytes for shape [${shape}]`);
    }
    entries.push([name, {
      dtype,
      shape,
      data: new Uint8Array(0),
      begin: offsets[0],
      end: offsets[1],
    }]);
  }
  entries.sort((a, b) => a[1].begin - b[1].begin || a[1].end - b[1].end);
  let expected = 0;
  for (const [name, e] of entries) {
    if (e.begin !== expected) throw corrupt(`tensor ${name}: data is not contiguous at ${e.begin}`);
    expected = e.end;
  }
  if (expected !== dataLength) {
    throw corrupt(`data section has ${dataLength} bytes, the header describes ${expected}`);
  }
  const tensors = new Map<string, StoredTensor>();
  for (const [name, e] of entries) {
    const copy = bytes.slice(dataStart + e.begin, dataStart + e.end);
    const Ctor = ctorOf(e.dtype);
    tensors.set(name, {
      dtype: e.dtype,
      shape: e.shape,
      data: new Ctor(copy.buffer, 0, copy.length / BYTES[e.dtype]),
    });
  }
  return { tensors, metadata };
}

/**
 * Finds oneDNN 2.x (`libdnnl.so.2`, Debian package `libdnnl2`) at run time and opens the part of
 * its C API the convolution kernels use, through Deno's FFI. oneDNN is optional: without it the
 * native backend runs its convolutions as im2col + BLAS. Each thread that calls it gets its own
 * engine and stream ({@linkcode dnnlThreadContext}) and runs oneDNN single-threaded there, so
 * the work split stays the native backend's own (shape-determined, thread-count invariant).
 *
 * @module
 */
import { openFirst, readEnv } from "./env.ts";

/** The Debian package that provides the library. */
export const DNNL_DEBIAN_PACKAGE = "libdnnl2";

/** What to install when oneDNN is not found. */
export const DNNL_INSTALL_HINT =
  `install oneDNN 2.x for faster convolutions: on Debian/Ubuntu \`apt-get install ` +
  `${DNNL_DEBIAN_PACKAGE}\`, or point AMDIM_DNNL_LIB at a libdnnl.so.2`;

const SYMBOLS = {
  dnnl_version: { parameters: [], result: "pointer" },
  dnnl_engine_create: { parameters: ["buffer", "i32", "usize"], result: "i32" },
  dnnl_stream_create: { parameters: ["buffer", "pointer", "u32"], result: "i32" },
  dnnl_memory_desc_init_by_tag: {
    parameters: ["buffer", "i32", "buffer", "i32", "i32"],
    result: "i32",
  },
  dnnl_memory_desc_init_by_strides: {
    parameters: ["buffer", "i32", "buffer", "i32", "buffer"],
    result: "i32",
  },
  dnnl_memory_desc_get_size: { parameters: ["pointer"], result: "usize" },
  dnnl_memory_desc_equal: { parameters: ["pointer", "pointer"], result: "i32" },
  dnnl_convolution_forward_desc_init: {
    // desc, prop, alg, src, weights, bias (nullable), dst, strides, pad_l, pad_r
    parameters: [
      "buffer",
      "i32",
      "i32",
      "buffer",
      "buffer",
      "pointer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
    ],
    result: "i32",
  },
  dnnl_convolution_backward_data_desc_init: {
    // desc, alg, diff_src, weights, diff_dst, strides, pad_l, pad_r
    parameters: ["buffer", "i32", "buffer", "buffer", "buffer", "buffer", "buffer", "buffer"],
    result: "i32",
  },
  dnnl_convolution_backward_weights_desc_init: {
    // desc, alg, src, diff_weights, diff_bias (nullable), diff_dst, strides, pad_l, pad_r
    parameters: [
      "buffer",
      "i32",
      "buffer",
      "buffer",
      "pointer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
    ],
    result: "i32",
  },
  dnnl_primitive_attr_create: { parameters: ["buffer"], result: "i32" },
  dnnl_primitive_attr_set_scratchpad_mode: { parameters: ["pointer", "i32"], result: "i32" },
  dnnl_primitive_attr_destroy: { parameters: ["pointer"], result: "i32" },
  dnnl_binary_desc_init: {
    parameters: ["buffer", "i32", "buffer", "buffer", "buffer"],
    result: "i32",
  },
  dnnl_eltwise_forward_desc_init: {
    parameters: ["buffer", "i32", "i32", "buffer", "f32", "f32"],
    result: "i32",
  },
  dnnl_eltwise_backward_desc_init: {
    parameters: ["buffer", "i32", "buffer", "buffer", "f32", "f32"],
    result: "i32",
  },
  dnnl_pooling_v2_forward_desc_init: {
    // desc, prop, alg, src, dst, strides, kernel, dilation, pad_l, pad_r
    parameters: [
      "buffer",
      "i32",
      "i32",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
    ],
    result: "i32",
  },
  dnnl_pooling_v2_backward_desc_init: {
    // desc, alg, diff_src, diff_dst, strides, kernel, dilation, pad_l, pad_r
    parameters: [
      "buffer",
      "i32",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
    ],
    result: "i32",
  },
  dnnl_post_ops_create: { parameters: ["buffer"], result: "i32" },
  dnnl_post_ops_append_binary: { parameters: ["pointer", "i32", "buffer"], result: "i32" },
  dnnl_post_ops_append_eltwise: {
    parameters: ["pointer", "f32", "i32", "f32", "f32"],
    result: "i32",
  },
  dnnl_post_ops_destroy: { parameters: ["pointer"], result: "i32" },
  dnnl_primitive_attr_set_post_ops: { parameters: ["pointer", "pointer"], result: "i32" },
  dnnl_primitive_desc_create: {
    parameters: ["buffer", "buffer", "pointer", "pointer", "pointer"],
    result: "i32",
  },
  dnnl_primitive_desc_query_md: { parameters: ["pointer", "i32", "i32"], result: "pointer" },
  dnnl_primitive_desc_query: { parameters: ["pointer", "i32", "i32", "buffer"], result: "i32" },
  dnnl_primitive_desc_destroy: { parameters: ["pointer"], result: "i32" },
  dnnl_reorder_primitive_desc_create: {
    parameters: ["buffer", "pointer", "pointer", "pointer", "pointer", "pointer"],
    result: "i32",
  },
  dnnl_primitive_create: { parameters: ["buffer", "pointer"], result: "i32" },
  dnnl_primitive_destroy: { parameters: ["pointer"], result: "i32" },
  dnnl_memory_create: { parameters: ["buffer", "pointer", "pointer", "pointer"], result: "i32" },
  dnnl_memory_set_data_handle: { parameters: ["pointer", "pointer"], result: "i32" },
  dnnl_memory_destroy: { parameters: ["pointer"], result: "i32" },
  dnnl_primitive_execute: { parameters: ["pointer", "pointer", "i32", "buffer"], result: "i32" },
  dnnl_stream_wait: { parameters: ["pointer"], result: "i32" },
  // Resolved through oneDNN's own dependencies: the OpenMP runtime it was linked with.
  omp_set_num_threads: { parameters: ["i32"], result: "void", optional: true },
} as const;

/** The opened oneDNN symbol table. */
export type DnnlSymbols = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

/** oneDNN 2.x enum values used here (from `dnnl_types.h`; stable across 2.x). */
export const DNNL = {
  f32: 3,
  tagAny: 1,
  /** `dnnl_x` = `dnnl_a`: a plain 1-D array. */
  tagX: 2,
  /** `dnnl_ab`: a plain row-major 2-D array. */
  tagAb: 3,
  nhwc: 20,
  nchw: 5,
  hwio: 30,
  cpu: 1,
  streamDefault: 1,
  forwardTraining: 64,
  backwardData: 160,
  backwardWeights: 192,
  convolutionDirect: 1,
  eltwiseRelu: 31,
  eltwiseReluUseDst: 256,
  binaryAdd: 131056,
  binaryMul: 131057,
  binarySub: 131061,
  poolingAvg: 1023,
  scratchpadUser: 1,
  queryImplInfo: 8,
  queryWeightsMd: 131,
  queryDiffWeightsMd: 132,
  queryScratchpadMd: 136,
  argSrc: 1,
  argSrc1: 2,
  argDst: 17,
  argWeights: 33,
  argScratchpad: 80,
  argDiffSrc: 129,
  argDiffDst: 145,
  argDiffWeights: 161,
  /** `DNNL_ARG_ATTR_MULTIPLE_POST_OP(i) | DNNL_ARG_SRC_1`: post-op `i`'s second input. */
  argPostOpSrc1: (i: number) => 16384 * (i + 1) | 2,
  /** `sizeof(dnnl_memory_desc_t)` in 2.6 is 696; padded for safety. */
  memoryDescBytes: 1024,
  /** Room for any operation descriptor (`dnnl_convolution_desc_t`, the largest, is 5976 in 2.6). */
  opDescBytes: 8192,
} as const;

/** `DNNL_RUNTIME_SEQ` and `DNNL_RUNTIME_OMP`: the CPU runtimes whose threads this code controls. */
const RUNTIME = { sequential: 1, openmp: 2 } as const;

const STATUS = [
  "success",
  "out_of_memory",
  "invalid_arguments",
  "unimplemented",
  "iterator_ends",
  "runtime_error",
  "not_required",
];

/** An opened oneDNN library. */
export interface DnnlLibrary {
  /** The path or name it was opened by. */
  path: string;
  /** `oneDNN 2.6.3`. */
  version: string;
  /** The symbols. */
  symbols: DnnlSymbols;
}

/** The outcome of {@linkcode openDnnl}. */
export type OpenDnnlResult =
  | { ok: true; library: DnnlLibrary }
  | { ok: false; reason: string; hint: string };

/** The default search list, most preferred first (Debian multiarch paths, then the soname). */
export function defaultDnnlSearchList(): string[] {
  return [
    "libdnnl.so.2",
    "/usr/lib/x86_64-linux-gnu/libdnnl.so.2",
    "/usr/lib/aarch64-linux-gnu/libdnnl.so.2",
    "/usr/local/lib/libdnnl.so.2",
  ];
}

/**
 * Opens oneDNN 2.x: `library` (or env `AMDIM_DNNL_LIB`) when given, else the first of
 * {@linkcode defaultDnnlSearchList} that opens. A 3.x library is refused (its C API differs).
 *
 * @example
 * ```ts
 * const r = openDnnl();
 * console.log(r.ok ? r.library.version : r.reason);
 * ```
 */
export function openDnnl(library?: string): OpenDnnlResult {
  const explicit = library ?? readEnv("AMDIM_DNNL_LIB");
  const candidates = explicit ? [explicit] : defaultDnnlSearchList();
  const opened = openFirst(candidates, SYMBOLS, (lib, path): DnnlLibrary | string => {
    const v = lib.symbols.dnnl_version();
    const view = v === null ? null : new Deno.UnsafePointerView(v);
    const major = view ? view.getInt32(0) : 0;
    const version = view ? `oneDNN ${major}.${view.getInt32(4)}.${view.getInt32(8)}` : "oneDNN ?";
    if (major !== 2) return `${version}, expected 2.x`;
    // dnnl_version_t: three ints, the hash pointer at 16, cpu_runtime at 24.
    const runtime = view ? view.getUint32(24) : 0;
    if (runtime !== RUNTIME.sequential && runtime !== RUNTIME.openmp) {
      return `${version} uses CPU runtime ${runtime}; only OpenMP or sequential`;
    }
    if (runtime === RUNTIME.openmp && !lib.symbols.omp_set_num_threads) {
      return "an OpenMP build without a reachable omp_set_num_threads";
    }
    return { path, version, symbols: lib.symbols };
  });
  if (opened.ok) return { ok: true, library: opened.value };
  return {
    ok: false,
    reason: `oneDNN 2.x not found: ${opened.failures.slice(0, 3).join("; ")}`,
    hint: DNNL_INSTALL_HINT,
  };
}

/** Throws a readable error when a oneDNN call did not succeed. */
export function check(status: number, what: string): void {
  if (status !== 0) throw new Error(`oneDNN ${what}: ${STATUS[status] ?? `status ${status}`}`);
}

/** Reads the pointer a oneDNN call wrote into an 8-byte out-parameter. */
export function outPointer(cell: BigUint64Array): Deno.PointerValue {
  return Deno.UnsafePointer.create(cell[0]);
}

/** One thread's oneDNN engine and stream. */
export interface DnnlThreadContext {
  /** The symbols. */
  s: DnnlSymbols;
  /** The CPU engine. */
  engine: Deno.PointerValue;
  /** An in-order stream on it. */
  stream: Deno.PointerValue;
}

let context: DnnlThreadContext | null = null;
let bound: DnnlLibrary | null = null;

/**
 * Binds the library this thread uses (or unbinds with `null`); the engine and stream are made on
 * first use. OpenMP (oneDNN's threading) is limited to one thread for this thread's calls.
 */
export function bindDnnl(library: DnnlLibrary | null): void {
  bound = library;
  context = null;
  limitDnnlThreads();
}

/**
 * Sets this thread's OpenMP thread count to 1 again (call it after anything else that sets it,
 * e.g. an OpenMP build of OpenBLAS): every oneDNN call runs on the calling thread only.
 */
export function limitDnnlThreads(): void {
  bound?.symbols.omp_set_num_threads?.(1);
}

let enabled = false;

/**
 * Turns the oneDNN kernels on or off for the jobs this thread starts (it only takes effect while
 * a library is bound). The choice travels with each job (its task id), so helper threads follow
 * the main thread's.
 */
export function setDnnlEnabled(on: boolean): void {
  enabled = on;
}

/** Whether this thread starts oneDNN jobs (enabled and bound). */
export function dnnlEnabled(): boolean {
  return enabled && bound !== null;
}

/** Whether a oneDNN library is bound on this thread. */
export function dnnlBound(): boolean {
  return bound !== null;
}

/** This thread's engine and stream (made on first use); throws when no library is bound. */
export function dnnlThreadContext(): DnnlThreadContext {
  if (context) return context;
  if (!bound) throw new Error("oneDNN is not bound on this thread");
  const s = bound.symbols;
  const cell = new BigUint64Array(1);
  check(s.dnnl_engine_create(cell, DNNL.cpu, 0n), "engine_create");
  const engine = outPointer(cell);
  check(s.dnnl_stream_create(cell, engine, DNNL.streamDefault), "stream_create");
  context = { s, engine, stream: outPointer(cell) };
  return context;
}

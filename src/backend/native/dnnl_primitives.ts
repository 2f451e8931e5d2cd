/**
 * The pieces every oneDNN-backed kernel shares: memory descriptors, a primitive with one memory
 * object per argument (data pointers are set per call), user-managed scratchpads, and a
 * per-thread cache of built primitives keyed by their shapes.
 *
 * @module
 */
import { check, DNNL, type DnnlSymbols, dnnlThreadContext, outPointer } from "./dnnl_library.ts";

/** A built primitive with its argument memories (in `args` order, scratchpad last). */
export interface Step {
  /** The primitive. */
  prim: Deno.PointerValue;
  /** Packed `dnnl_exec_arg_t` array. */
  args: Uint8Array;
  /** One memory object per argument. */
  mems: Deno.PointerValue[];
  /** Scratchpad bytes (0: none). */
  scratchBytes: number;
}

/** A cached group of steps with what must outlive them. */
export interface Built {
  /** The steps, destroyed with the entry. */
  steps: Step[];
  /** Primitive descriptors, destroyed with the entry. */
  pds: Deno.PointerValue[];
  /** Memory descriptors the memories point at. */
  keep: Uint8Array[];
}

/** Most entries kept per thread (the least recently used are destroyed first). */
export const CACHE_SIZE = 512;

const cache = new Map<string, Built>();
let scratch = new Uint8Array(0);

/** `dnnl_dims_t` holding `values`. */
export function dims(...values: number[]): BigInt64Array {
  const d = new BigInt64Array(12);
  values.forEach((v, i) => d[i] = BigInt(v));
  return d;
}

/** A float32 memory descriptor of `dims` (first `n`) in layout `tag`. */
export function memoryDesc(s: DnnlSymbols, d: BigInt64Array, n: number, tag: number): Uint8Array {
  const md = new Uint8Array(DNNL.memoryDescBytes);
  check(s.dnnl_memory_desc_init_by_tag(md, n, d, DNNL.f32, tag), "memory_desc_init_by_tag");
  return md;
}

/**
 * The trailing padding oneDNN wants for a window of `kernel` at `stride` over `size` inputs with
 * `lead` leading padding and `out` outputs: what the last window reaches past the input (at
 * least 0; the floor in the output-size formula drops any remainder).
 */
export function trailingPad(
  out: number,
  stride: number,
  kernel: number,
  size: number,
  lead: number,
): number {
  return Math.max(0, (out - 1) * stride + kernel - size - lead);
}

/** The address of a descriptor (or any byte buffer). */
export function ptr(a: Uint8Array): Deno.PointerValue {
  return Deno.UnsafePointer.of(a);
}

/** A new attribute with a user-managed scratchpad (the caller destroys it). */
export function userScratchAttr(s: DnnlSymbols): Deno.PointerValue {
  const cell = new BigUint64Array(1);
  check(s.dnnl_primitive_attr_create(cell), "primitive_attr_create");
  const attr = outPointer(cell);
  check(s.dnnl_primitive_attr_set_scratchpad_mode(attr, DNNL.scratchpadUser), "scratchpad_mode");
  return attr;
}

/**
 * Creates the primitive descriptor of operation descriptor `desc` (pushed onto `pds`), with a
 * user scratchpad and optional `hint` (the forward descriptor of a backward primitive).
 */
export function primitiveDesc(
  desc: Uint8Array,
  pds: Deno.PointerValue[],
  what: string,
  hint: Deno.PointerValue = null,
  attr: Deno.PointerValue = null,
): Deno.PointerValue {
  const { s, engine } = dnnlThreadContext();
  const cell = new BigUint64Array(1);
  const own = attr === null ? userScratchAttr(s) : null;
  try {
    check(s.dnnl_primitive_desc_create(cell, desc, attr ?? own, engine, hint), what);
  } finally {
    if (own !== null) s.dnnl_primitive_attr_destroy(own);
  }
  const pd = outPointer(cell);
  pds.push(pd);
  return pd;
}

/** Builds the primitive of `pd` with one memory per `args` entry (descriptors from `mds`). */
export function makeStep(pd: Deno.PointerValue, args: number[], mds: Deno.PointerValue[]): Step {
  const { s, engine } = dnnlThreadContext();
  const cell = new BigUint64Array(1);
  check(s.dnnl_primitive_create(cell, pd), "primitive_create");
  const prim = outPointer(cell);
  const scratchMd = s.dnnl_primitive_desc_query_md(pd, DNNL.queryScratchpadMd, 0);
  const scratchBytes = scratchMd === null ? 0 : Number(s.dnnl_memory_desc_get_size(scratchMd));
  const all = scratchBytes > 0 ? [...args, DNNL.argScratchpad] : args;
  const allMds = scratchBytes > 0 ? [...mds, scratchMd] : mds;
  const packed = new Uint8Array(16 * all.length);
  const view = new DataView(packed.buffer);
  const mems: Deno.PointerValue[] = [];
  all.forEach((arg, i) => {
    check(s.dnnl_memory_create(cell, allMds[i], engine, null), "memory_create");
    const mem = outPointer(cell);
    mems.push(mem);
    view.setInt32(16 * i, arg, true);
    view.setBigUint64(16 * i + 8, BigInt(Deno.UnsafePointer.value(mem)), true);
  });
  return { prim, args: packed, mems, scratchBytes };
}

/** A reorder from layout `from` to layout `to` (pushed descriptor onto `pds`). */
export function reorderStep(
  from: Deno.PointerValue,
  to: Deno.PointerValue,
  pds: Deno.PointerValue[],
): Step {
  const { s, engine } = dnnlThreadContext();
  const cell = new BigUint64Array(1);
  const attr = userScratchAttr(s);
  try {
    check(s.dnnl_reorder_primitive_desc_create(cell, from, engine, to, engine, attr), "reorder");
  } finally {
    s.dnnl_primitive_attr_destroy(attr);
  }
  const pd = outPointer(cell);
  pds.push(pd);
  return makeStep(pd, [DNNL.argSrc, DNNL.argDst], [from, to]);
}

/** Runs `step` on this thread with its argument memories pointing at `handles` (in order). */
export function runStep(step: Step, handles: Deno.PointerValue[]): void {
  const { s, stream } = dnnlThreadContext();
  for (let i = 0; i < handles.length; i++) {
    check(s.dnnl_memory_set_data_handle(step.mems[i], handles[i]), "memory_set_data_handle");
  }
  if (step.scratchBytes > 0) {
    if (scratch.length < step.scratchBytes) scratch = new Uint8Array(step.scratchBytes);
    check(
      s.dnnl_memory_set_data_handle(step.mems[handles.length], Deno.UnsafePointer.of(scratch)),
      "memory_set_data_handle",
    );
  }
  const count = step.args.length / 16;
  check(s.dnnl_primitive_execute(step.prim, stream, count, step.args), "primitive_execute");
  check(s.dnnl_stream_wait(stream), "stream_wait");
}

/** The address of element `floats` of `a`. */
export function at(a: Float32Array, floats: number): Deno.PointerValue {
  return Deno.UnsafePointer.offset(Deno.UnsafePointer.of(a)!, floats * 4);
}

function destroy(s: DnnlSymbols, built: Built): void {
  for (const step of built.steps) {
    for (const m of step.mems) s.dnnl_memory_destroy(m);
    s.dnnl_primitive_destroy(step.prim);
  }
  for (const pd of built.pds) s.dnnl_primitive_desc_destroy(pd);
}

/** The cached entry for `key`, built by `build` on first use. */
export function cached<T extends Built>(key: string, build: () => T): T {
  const hit = cache.get(key);
  if (hit) {
    // Most recently used last, so eviction takes the least recently used.
    cache.delete(key);
    cache.set(key, hit);
    return hit as T;
  }
  const built = build();
  if (cache.size >= CACHE_SIZE) {
    const [oldest, old] = cache.entries().next().value!;
    cache.delete(oldest);
    destroy(dnnlThreadContext().s, old);
  }
  cache.set(key, built);
  return built;
}

/** Destroys this thread's cached primitives and frees its scratchpad. */
export function releaseDnnlPrimitives(): void {
  if (cache.size > 0) {
    const { s } = dnnlThreadContext();
    for (const built of cache.values()) destroy(s, built);
    cache.clear();
  }
  scratch = new Uint8Array(0);
}

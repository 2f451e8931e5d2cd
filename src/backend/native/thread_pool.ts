/**
 * The native backend's helper threads: persistent workers that run chunks of large kernels on
 * the same `SharedArrayBuffer`-backed float32 buffers as the main thread, synchronised through a
 * small shared control block with `Atomics` (no message per kernel).
 *
 * A kernel calls {@linkcode parallelRun} with a task id (a chunk function every thread has, see
 * `parallel_tasks.ts`), its arrays, numeric parameters and a chunk count. The chunk count and
 * each chunk's work depend only on the shapes, never on the thread count, and every chunk is
 * computed by the same code whichever thread claims it, so results are bit-identical with 1 or
 * N threads. Chunks are claimed dynamically (a compare-and-swap on a ticket counter): the main
 * thread works too and takes every chunk a busy or descheduled worker has not claimed, so a
 * loaded machine degrades to about the one-thread speed instead of waiting.
 *
 * Control block (Int32): a seqlock-protected job descriptor (task, ticket range, array ids,
 * offsets, lengths; Float64 parameters), a monotonic ticket counter and a finished counter.
 * Workers must have seen a buffer before they can read it: new buffers are posted to them in one
 * batch (a "sync" round, where each worker returns to its event loop, takes the message and
 * acknowledges), which after the first training step no longer happens.
 *
 * @module
 */
import { readEnv } from "./env.ts";

/** A chunk function: runs chunk `c` of `n` of a task on `arrays` with parameters `p`. */
export type ChunkFn = (arrays: Float32Array[], p: Float64Array, c: number, n: number) => void;

const TASKS: (ChunkFn | undefined)[] = [];

/**
 * Defines task `id` (every thread defines the same table by importing `parallel_tasks.ts`).
 * `chunkInvariant`: the results do not depend on the chunk count (elementwise work), so one
 * thread runs the whole job in one call (V8 optimises one long loop better than many short
 * entries into it).
 *
 * @example
 * ```ts
 * defineTask(99, (a, p, c, n) => {});
 * ```
 */
export function defineTask(id: number, fn: ChunkFn, chunkInvariant = false): void {
  if (TASKS[id] !== undefined && TASKS[id] !== fn) {
    throw new Error(`native threads: task ${id} is defined twice`);
  }
  TASKS[id] = fn;
  INVARIANT[id] = chunkInvariant;
}

const INVARIANT: boolean[] = [];

/** The chunk function of task `id` (throws if undefined). */
export function taskFn(id: number): ChunkFn {
  const fn = TASKS[id];
  if (!fn) throw new Error(`native threads: no task ${id}`);
  return fn;
}

// Control block layout (Int32 slots).
/** @internal */
export const CTRL = {
  SEQ: 0,
  TICKET: 1,
  FINISHED: 2,
  END: 3,
  BASE: 4,
  TASK: 5,
  NARR: 6,
  CMD: 7,
  ACK: 8,
  NCHUNK: 9,
  NPARAM: 10,
  /** Chunks of the current job whose function threw (they still count as finished). */
  FAILED: 11,
  ARR0: 16,
  MAX_ARRAYS: 10,
  INTS: 64,
  PARAMS: 48,
  CMD_RUN: 0,
  CMD_SYNC: 1,
  CMD_EXIT: 2,
} as const;

interface WorkerHandle {
  worker: { postMessage(m: unknown): void; terminate(): unknown; unref?(): void };
}

let ctrlI: Int32Array | null = null;
let ctrlF: Float64Array | null = null;
let workers: WorkerHandle[] = [];
let active = 1;
let seq = 0;
let ticket = 0;
let syncs = 0;
const P = new Float64Array(CTRL.PARAMS);

let nextId = 1;
let ids = new WeakMap<SharedArrayBuffer, number>();
let pending: [number, SharedArrayBuffer][] = [];
const pendingIds = new Set<number>();
let forget: number[] = [];
const finalizer = new FinalizationRegistry<number>((id) => forget.push(id));

/** The first error a chunk function threw on this thread since the last job started. */
let chunkError: unknown = undefined;

/** Counters for tests and reports. */
export const threadStats = {
  jobs: 0,
  inline: 0,
  syncs: 0,
  chunks: 0,
  threadedChunks: 0,
  chunksByWorkers: 0,
};

let mainClaims = true;

/**
 * Test hook: with `false` the main thread leaves every chunk of a threaded job to the workers
 * (so a test can check that worker-computed results equal the main thread's). Default true.
 *
 * @example
 * ```ts
 * setMainClaims(false);
 * ```
 */
export function setMainClaims(on: boolean): void {
  mainClaims = on;
}

/** Threads used for parallel kernels now (1 = the main thread only). */
export function activeThreads(): number {
  return workers.length === 0 ? 1 : active;
}

/** Helper workers started (whether or not in use). */
export function startedWorkers(): number {
  return workers.length;
}

/**
 * Sets how many threads (main included) run parallel kernels; at most 1 + the workers started.
 * Returns the count in effect.
 *
 * @example
 * ```ts
 * setActiveThreads(1); // main thread only (results are the same)
 * ```
 */
export function setActiveThreads(n: number): number {
  active = Math.max(1, Math.min(Math.floor(n), 1 + workers.length));
  return active;
}

/** Whether `a` lives in shared memory (workers can read it). */
export function isShared(a: Float32Array): boolean {
  return typeof SharedArrayBuffer !== "undefined" && a.buffer instanceof SharedArrayBuffer;
}

/**
 * Starts `count` workers (once; later calls add workers up to `count`) that bind `cblas_sgemm`
 * from `libraryPath` (and oneDNN from `dnnlPath` when given). Resolves to the number of workers
 * running; 0 if workers or shared memory are unavailable (the caller then keeps everything on the
 * main thread). {@linkcode workersHaveDnnl} then says whether every worker bound oneDNN.
 */
export async function startWorkers(
  count: number,
  libraryPath: string,
  dnnlPath?: string,
): Promise<number> {
  // Workers are started once: one started later would miss buffers sent before it existed.
  if (workers.length > 0 || count <= 0) return workers.length;
  if (typeof SharedArrayBuffer === "undefined" || typeof Atomics === "undefined") return 0;
  let WorkerCtor: new (url: URL, opts: unknown) => {
    postMessage(m: unknown): void;
    terminate(): unknown;
    unref?(): void;
    once(ev: string, fn: (m: unknown) => void): void;
  };
  try {
    WorkerCtor = (await import("node:worker_threads")).Worker as unknown as typeof WorkerCtor;
  } catch {
    return workers.length;
  }
  if (!ctrlI) {
    const sab = new SharedArrayBuffer(CTRL.INTS * 4 + CTRL.PARAMS * 8);
    ctrlI = new Int32Array(sab, 0, CTRL.INTS);
    ctrlF = new Float64Array(sab, CTRL.INTS * 4, CTRL.PARAMS);
  }
  const url = new URL("./native_worker.ts", import.meta.url);
  const starting: Promise<WorkerHandle | null>[] = [];
  for (let i = workers.length; i < count; i++) {
    starting.push(
      new Promise((resolve) => {
        let worker: InstanceType<typeof WorkerCtor>;
        try {
          worker = new WorkerCtor(url, {});
        } catch {
          resolve(null);
          return;
        }
        const timer = setTimeout(() => {
          worker.terminate();
          resolve(null);
        }, 30_000);
        worker.once("message", (m) => {
          clearTimeout(timer);
          if ((m as { ready?: boolean })?.ready) {
            if (!(m as { dnnl?: boolean }).dnnl) dnnlEverywhere = false;
            worker.unref?.();
            resolve({ worker });
          } else {
            worker.terminate();
            resolve(null);
          }
        });
        worker.once("error", () => {
          clearTimeout(timer);
          resolve(null);
        });
        worker.postMessage({
          init: true,
          ctrl: ctrlI!.buffer,
          library: libraryPath,
          dnnl: dnnlPath,
          // Every buffer known so far, so a late worker can read them too.
          buffers: knownBuffers(),
        });
      }),
    );
  }
  for (const w of await Promise.all(starting)) if (w) workers.push(w);
  return workers.length;
}

let dnnlEverywhere = true;

/** False when a started worker could not bind oneDNN (or was not asked to). */
export function workersHaveDnnl(): boolean {
  return dnnlEverywhere;
}

const known = new Map<number, WeakRef<SharedArrayBuffer>>();

function knownBuffers(): [number, SharedArrayBuffer][] {
  const out: [number, SharedArrayBuffer][] = [];
  for (const [id, ref] of known) {
    const sab = ref.deref();
    if (sab) out.push([id, sab]);
  }
  return out;
}

/** Stops every worker (the next {@linkcode startWorkers} starts fresh ones). */
export function stopWorkers(): void {
  if (ctrlI && workers.length) {
    postJob(CTRL.CMD_EXIT, 0, [], 0, 0);
  }
  for (const w of workers) w.worker.terminate();
  workers = [];
  active = 1;
  known.clear();
  ids = new WeakMap();
  pending = [];
  pendingIds.clear();
  forget = [];
}

function idOf(sab: SharedArrayBuffer): number {
  let id = ids.get(sab);
  if (id === undefined) {
    id = nextId++;
    ids.set(sab, id);
    known.set(id, new WeakRef(sab));
    finalizer.register(sab, id);
    pending.push([id, sab]);
    pendingIds.add(id);
  }
  return id;
}

/**
 * Announces a shared buffer to the workers ahead of use (it is sent with the next sync, in one
 * batch with every other new buffer), so jobs on it later need no sync of their own.
 *
 * @example
 * ```ts
 * registerShared(new SharedArrayBuffer(1024));
 * ```
 */
export function registerShared(sab: SharedArrayBuffer): void {
  if (workers.length > 0) idOf(sab);
}

/** Posts new buffers (and forgotten ids) to every worker and waits until all have them. */
function sync(): void {
  const I = ctrlI!;
  const add = pending, drop = forget;
  pending = [];
  pendingIds.clear();
  forget = [];
  for (const id of drop) known.delete(id);
  for (const w of workers) w.worker.postMessage({ add, drop });
  syncs++;
  threadStats.syncs++;
  const want = syncs * workers.length;
  postJob(CTRL.CMD_SYNC, 0, [], 0, 0);
  for (;;) {
    const a = Atomics.load(I, CTRL.ACK);
    if (a >= want) break;
    Atomics.wait(I, CTRL.ACK, a, 1000);
  }
  if (ticket > 2 ** 30) {
    // Every worker is idle (just acknowledged): the counters can restart.
    ticket = 0;
    Atomics.store(I, CTRL.TICKET, 0);
    Atomics.store(I, CTRL.FINISHED, 0);
  }
}

function postJob(
  cmd: number,
  task: number,
  arrays: readonly Float32Array[],
  nParams: number,
  chunks: number,
): void {
  const I = ctrlI!;
  Atomics.store(I, CTRL.SEQ, seq + 1); // odd: being written
  I[CTRL.CMD] = cmd;
  I[CTRL.TASK] = task;
  I[CTRL.NARR] = arrays.length;
  for (let i = 0; i < arrays.length; i++) {
    const a = arrays[i];
    const o = CTRL.ARR0 + 3 * i;
    I[o] = ids.get(a.buffer as SharedArrayBuffer)!;
    I[o + 1] = a.byteOffset >> 2;
    I[o + 2] = a.length;
  }
  I[CTRL.NPARAM] = nParams;
  for (let i = 0; i < nParams; i++) ctrlF![i] = P[i];
  I[CTRL.NCHUNK] = chunks;
  I[CTRL.BASE] = ticket;
  I[CTRL.END] = ticket + chunks;
  seq += 2;
  Atomics.store(I, CTRL.SEQ, seq);
  Atomics.notify(I, CTRL.SEQ);
}

/**
 * Claims and runs chunks of the job whose tickets are `[base, end)` until none is left; returns
 * how many this thread ran. Shared by the main thread and the workers.
 */
export function claimChunks(
  I: Int32Array,
  fn: ChunkFn,
  arrays: Float32Array[],
  p: Float64Array,
  base: number,
  end: number,
): number {
  const n = end - base;
  let ran = 0;
  for (;;) {
    const cur = Atomics.load(I, CTRL.TICKET);
    if (cur >= end || cur < base) return ran;
    if (Atomics.compareExchange(I, CTRL.TICKET, cur, cur + 1) !== cur) continue;
    try {
      fn(arrays, p, cur - base, n);
    } catch (error) {
      // Count it finished anyway, so that no thread waits forever; the job's caller throws.
      Atomics.add(I, CTRL.FAILED, 1);
      chunkError ??= error;
      console.error(
        `native threads: a chunk failed: ${error instanceof Error ? error.message : error}`,
      );
    }
    ran++;
    if (Atomics.add(I, CTRL.FINISHED, 1) + 1 === end) Atomics.notify(I, CTRL.FINISHED);
  }
}

/**
 * Runs chunks `0 .. chunks-1` of task `task` over `arrays` with parameters `params`: on the
 * calling thread alone when threads are off, `chunks < 2`, or an array is not in shared memory;
 * otherwise on the calling thread and the workers. Returns when every chunk is done.
 *
 * @example
 * ```ts
 * parallelRun(TASK.unary, [x, out], [loopId, 0, x.length, 1], 4);
 * ```
 */
export function parallelRun(
  task: number,
  arrays: Float32Array[],
  params: ArrayLike<number>,
  chunks: number,
): void {
  const fn = taskFn(task);
  const np = params.length;
  for (let i = 0; i < np; i++) P[i] = params[i];
  threadStats.jobs++;
  threadStats.chunks += chunks;
  let threaded = chunks >= 2 && activeThreads() > 1;
  if (threaded) {
    for (const a of arrays) {
      if (!isShared(a)) {
        threaded = false;
        break;
      }
    }
  }
  if (!threaded) {
    threadStats.inline++;
    if (INVARIANT[task]) fn(arrays, P, 0, 1);
    else for (let c = 0; c < chunks; c++) fn(arrays, P, c, chunks);
    return;
  }
  if (arrays.length > CTRL.MAX_ARRAYS || np > CTRL.PARAMS) {
    throw new Error("native threads: too many arrays or parameters for one job");
  }
  let unsent = false;
  for (const a of arrays) {
    const id = idOf(a.buffer as SharedArrayBuffer);
    if (!unsent && pendingIds.has(id)) unsent = true;
  }
  if (unsent) sync();
  const I = ctrlI!;
  postJob(CTRL.CMD_RUN, task, arrays, np, chunks);
  const base = ticket, end = ticket + chunks;
  ticket = end;
  threadStats.threadedChunks += chunks;
  const mine = mainClaims ? claimChunks(I, fn, arrays, P, base, end) : 0;
  threadStats.chunksByWorkers += chunks - mine;
  for (;;) {
    const f = Atomics.load(I, CTRL.FINISHED);
    if (f === end) break;
    Atomics.wait(I, CTRL.FINISHED, f, 1000);
  }
  if (Atomics.load(I, CTRL.FAILED) !== 0) {
    Atomics.store(I, CTRL.FAILED, 0);
    const own = chunkError;
    chunkError = undefined;
    if (own instanceof Error) throw own;
    throw new Error(`native threads: a chunk of task ${task} failed on a helper thread`);
  }
}

/**
 * `[start, end)` of chunk `c` of `n` over `total` items (balanced, depends only on the numbers).
 *
 * @example
 * ```ts
 * span(10, 1, 3); // [3, 6]
 * ```
 */
export function span(total: number, c: number, n: number): [number, number] {
  // Small integers (int32): loops indexed by them stay on V8's integer fast path.
  return [Math.floor(total * c / n) | 0, Math.floor(total * (c + 1) / n) | 0];
}

const staging: Float32Array[] = [];

/**
 * `a` itself when it is in shared memory or threads are off; otherwise a copy of it in a shared
 * staging buffer (slot `slot`, reused by the next call with that slot), so a kernel whose input
 * came from outside the pool (e.g. a batch of images) can still use every thread.
 *
 * @example
 * ```ts
 * const xs = shareable(x, 0);
 * ```
 */
export function shareable(a: Float32Array, slot: number): Float32Array {
  if (activeThreads() <= 1 || isShared(a)) return a;
  let s = staging[slot];
  if (!s || s.length < a.length) {
    s = staging[slot] = new Float32Array(new SharedArrayBuffer(Math.max(a.length, 1) * 4));
  }
  const view = s.length === a.length ? s : s.subarray(0, a.length);
  view.set(a);
  return view;
}

/**
 * A float32 array of `n` elements in shared memory when workers exist (else a plain array).
 *
 * @example
 * ```ts
 * const out = sharedF32(1024);
 * ```
 */
export function sharedF32(n: number): Float32Array {
  return workers.length > 0 ? new Float32Array(new SharedArrayBuffer(n * 4)) : new Float32Array(n);
}

/** Elements from which an elementwise kernel is split over threads (env `AMDIM_NATIVE_PAR_MIN`). */
export let PAR_MIN_ELEMENTS = 1 << 16;
/** Target elements per chunk of a split elementwise kernel. */
export const CHUNK_ELEMENTS = 1 << 16;
/** Most chunks one elementwise kernel is split into. */
export const MAX_CHUNKS = 4;

{
  const env = readEnv("AMDIM_NATIVE_PAR_MIN");
  const v = env ? Number.parseInt(env, 10) : NaN;
  if (Number.isFinite(v) && v > 0) PAR_MIN_ELEMENTS = v;
}

/**
 * How many chunks an elementwise job over `total` elements is split into (1 below
 * {@linkcode PAR_MIN_ELEMENTS}); depends only on `total`, never on the thread count.
 *
 * @example
 * ```ts
 * chunksFor(1 << 20); // 4
 * ```
 */
export function chunksFor(total: number): number {
  if (total < PAR_MIN_ELEMENTS) return 1;
  return Math.min(MAX_CHUNKS, Math.ceil(total / CHUNK_ELEMENTS));
}

/**
 * How many pieces a GEMM of `m·n·k` multiply-adds is split into (1 when small; at most 4);
 * depends only on the shape.
 *
 * @example
 * ```ts
 * gemmPieces(3136, 128, 128); // 4
 * ```
 */
export function gemmPieces(m: number, n: number, k: number): number {
  return Math.max(1, Math.min(4, Math.floor(m * n * k / (1 << 21))));
}

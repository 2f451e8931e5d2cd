/**
 * A `MathBackendCPU` that recycles the float32 buffers its own kernels allocate. Fresh large
 * allocations are zero-filled and page-faulted in on first touch, which costs more than many of
 * the kernels themselves; a training step allocates the same sizes every time, so reusing the
 * freed buffers removes that cost.
 *
 * Safety rules: only buffers handed out by {@linkcode PooledCpuBackend.alloc} are ever recycled
 * (never arrays a user passed to `tf.tensor`); a buffer is recycled only when every tensor that
 * refers to it (including views made by `subarray`) has been disposed; and `readSync`/`read`
 * return copies of pooled buffers, so values returned by `dataSync()` never change afterwards.
 * The pool is capped in bytes ({@linkcode PooledCpuBackend.maxPoolBytes}). While the backend's
 * helper threads run, new buffers are `SharedArrayBuffer`-backed so the threads can share them.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import { MathBackendCPU } from "@tensorflow/tfjs-backend-cpu";
import { registerShared, startedWorkers } from "./thread_pool.ts";

/** Buffers smaller than this many floats are left to the JavaScript allocator. */
export const MIN_POOLED_FLOATS = 4096;

interface Ownership {
  refs: number;
}

/** The cpu backend with a recycling pool for kernel outputs. */
export class PooledCpuBackend extends MathBackendCPU {
  /** Upper bound on the bytes the pool keeps (free buffers only). */
  maxPoolBytes: number;
  private readonly free = new Map<number, Float32Array[]>();
  private readonly owned = new WeakMap<ArrayBufferLike, Ownership>();
  private freeBytes = 0;
  /** Counters for tests and reports. */
  readonly stats = { allocated: 0, reused: 0, recycled: 0, dropped: 0 };

  constructor(maxPoolBytes: number) {
    super();
    this.maxPoolBytes = maxPoolBytes;
  }

  /** Bytes held in free buffers now. */
  get pooledBytes(): number {
    return this.freeBytes;
  }

  /**
   * A float32 array of `n` elements for a kernel output. Its contents are arbitrary: the kernel
   * must write every element.
   */
  alloc(n: number): Float32Array {
    if (n < MIN_POOLED_FLOATS) return new Float32Array(n);
    const list = this.free.get(n);
    const reused = list?.pop();
    if (reused) {
      this.freeBytes -= reused.byteLength;
      this.stats.reused++;
      return reused;
    }
    // In shared memory once helper threads exist, so they can compute parts of kernels on it.
    const fresh = startedWorkers() > 0
      ? new Float32Array(new SharedArrayBuffer(n * 4))
      : new Float32Array(n);
    this.owned.set(fresh.buffer, { refs: 0 });
    if (fresh.buffer instanceof SharedArrayBuffer) registerShared(fresh.buffer);
    this.stats.allocated++;
    return fresh;
  }

  /** Drops every free buffer. */
  clearPool(): void {
    this.free.clear();
    this.freeBytes = 0;
  }

  private track(values: unknown): void {
    if (!ArrayBuffer.isView(values)) return;
    const own = this.owned.get(values.buffer);
    if (own) own.refs++;
  }

  private release(values: unknown): void {
    if (!(values instanceof Float32Array)) return;
    const own = this.owned.get(values.buffer);
    if (!own || --own.refs > 0) return;
    const whole = values.byteOffset === 0 && values.byteLength === values.buffer.byteLength
      ? values
      : new Float32Array(values.buffer);
    if (this.freeBytes + whole.byteLength > this.maxPoolBytes) {
      this.stats.dropped++;
      return;
    }
    let list = this.free.get(whole.length);
    if (!list) this.free.set(whole.length, list = []);
    list.push(whole);
    this.freeBytes += whole.byteLength;
    this.stats.recycled++;
  }

  override write(values: tf.backend_util.BackendValues, shape: number[], dtype: tf.DataType) {
    this.track(values);
    return super.write(values, shape, dtype);
  }

  override move(
    dataId: tf.DataId,
    values: tf.backend_util.BackendValues,
    shape: number[],
    dtype: tf.DataType,
    refCount: number,
  ): void {
    this.track(values);
    super.move(dataId, values, shape, dtype, refCount);
  }

  override disposeData(dataId: tf.DataId, force = false): boolean {
    const entry = this.data.get(dataId);
    const values = entry?.values;
    const disposed = super.disposeData(dataId, force);
    if (disposed && entry && !this.data.has(dataId)) this.release(values);
    return disposed;
  }

  override readSync(dataId: tf.DataId): tf.backend_util.BackendValues {
    const values = super.readSync(dataId);
    if (ArrayBuffer.isView(values) && this.owned.has(values.buffer)) {
      return (values as Float32Array).slice();
    }
    return values;
  }

  override dispose(): void {
    this.clearPool();
    super.dispose();
  }
}

/**
 * A float32 output buffer from the backend's pool when it has one (contents arbitrary), else a
 * fresh zeroed array.
 *
 * @example
 * ```ts
 * const out = allocF32(undefined, 16); // plain Float32Array(16)
 * ```
 */
export function allocF32(backend: unknown, n: number): Float32Array {
  return backend instanceof PooledCpuBackend ? backend.alloc(n) : new Float32Array(n);
}

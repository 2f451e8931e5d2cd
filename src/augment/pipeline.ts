/**
 * The batched augmentation pipeline: read a batch of images from a dataset-like source, build the
 * two normalised train views of every sample (or the test transform) as NHWC float32 arrays,
 * optionally spread over a pool of Web Workers. Every random choice is keyed by (seed, epoch,
 * sample index, view), so the output is identical for any batch size and worker count.
 *
 * @module
 */
import { BenchError } from "../util/errors.ts";
import { type PackedShape, testBatchInto, trainBatchInto } from "./batch.ts";
import {
  getPolicy,
  type PolicyName,
  preparedSize,
  testOutputSize,
  trainOutputSize,
} from "./policy.ts";
import type { WorkerRequest, WorkerResponse } from "./worker_protocol.ts";

/** What the pipeline needs from a dataset (a subset of `ImageDataset`). */
export interface ImageSource {
  /** Rows per image. */
  readonly height: number;
  /** Columns per image. */
  readonly width: number;
  /** Channels per image (1 or 3). */
  readonly channels: number;
  /** Packed `N*H*W*C` uint8 HWC pixels of the images at `indices` (called with a `number[]`). */
  readImages(indices: ArrayLike<number>): Promise<Uint8Array>;
}

/** Two batches of views, NHWC float32, normalised. */
export interface ViewBatch {
  /** First views, `n * height * width * 3`. */
  x1: Float32Array;
  /** Second views, same shape. */
  x2: Float32Array;
  /** Samples. */
  n: number;
  /** Rows per view. */
  height: number;
  /** Columns per view. */
  width: number;
  /** Channels per view (always 3). */
  channels: 3;
}

/** One batch of test-transformed images, NHWC float32, normalised. */
export interface TestBatch {
  /** Images, `n * height * width * 3`. */
  x: Float32Array;
  /** Samples. */
  n: number;
  /** Rows. */
  height: number;
  /** Columns. */
  width: number;
  /** Channels (always 3). */
  channels: 3;
}

interface Pending {
  resolve: (r: WorkerResponse) => void;
  reject: (e: Error) => void;
}

/**
 * A pool of augmentation workers. `workers = 0` runs everything on the calling thread. Reuse one
 * pool for a whole run (starting a worker costs tens of milliseconds) and `close()` it at the end.
 *
 * @example
 * ```ts
 * const pool = new AugmentPool(2);
 * try {
 *   const { x1, x2 } = await trainViews(dataset, { policy: "cifar", seed: 1, epoch: 0, indices: [0, 1], pool });
 * } finally {
 *   pool.close();
 * }
 * ```
 */
export class AugmentPool {
  /** Number of workers (0 = in-thread). */
  readonly size: number;
  #workers: Worker[] = [];
  #pending = new Map<number, Pending>();
  #nextId = 1;
  #closed = false;

  constructor(workers: number) {
    if (!Number.isInteger(workers) || workers < 0 || workers > 64) {
      throw new BenchError("usage", `worker count must be an integer in 0..64, got ${workers}`, {
        location: "--workers",
      });
    }
    this.size = workers;
    for (let i = 0; i < workers; i++) {
      const w = new Worker(new URL("./augment_worker.ts", import.meta.url), { type: "module" });
      w.onmessage = (e: MessageEvent<WorkerResponse>) => {
        const p = this.#pending.get(e.data.id);
        if (!p) return;
        this.#pending.delete(e.data.id);
        if (e.data.error) p.reject(new BenchError("augment_worker", e.data.error));
        else p.resolve(e.data);
      };
      w.onerror = (e: ErrorEvent) => {
        e.preventDefault();
        const err = new BenchError("augment_worker", `augmentation worker failed: ${e.message}`);
        for (const p of this.#pending.values()) p.reject(err);
        this.#pending.clear();
      };
      this.#workers.push(w);
    }
  }

  /** Sends one chunk to worker `k`. */
  run(k: number, req: Omit<WorkerRequest, "id">): Promise<WorkerResponse> {
    if (this.#closed) throw new BenchError("augment_worker", "the augmentation pool is closed");
    const id = this.#nextId++;
    const full: WorkerRequest = { ...req, id };
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#workers[k % this.#workers.length].postMessage(full, [
        full.images.buffer as ArrayBuffer,
      ]);
    });
  }

  /** Terminates the workers. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const w of this.#workers) w.terminate();
    const err = new BenchError("augment_worker", "the augmentation pool was closed");
    for (const p of this.#pending.values()) p.reject(err);
    this.#pending.clear();
  }

  /** `using pool = new AugmentPool(2)` support. */
  [Symbol.dispose](): void {
    this.close();
  }
}

/** Options of {@linkcode trainViews}. */
export interface TrainViewsOptions {
  /** Policy name. */
  policy: PolicyName;
  /** Augmentation seed. */
  seed: number;
  /** Epoch (keys the draws). */
  epoch: number;
  /** Dataset indices of the batch, in batch order. */
  indices: ArrayLike<number>;
  /** Worker pool; omitted or size 0 = in-thread. */
  pool?: AugmentPool;
}

/** Options of {@linkcode testViews}. */
export interface TestViewsOptions {
  /** Policy name. */
  policy: PolicyName;
  /** Dataset indices of the batch. */
  indices: ArrayLike<number>;
  /** Worker pool; omitted or size 0 = in-thread. */
  pool?: AugmentPool;
}

function checkIndices(indices: ArrayLike<number>): number[] {
  const out = Array.from(indices);
  for (const i of out) {
    if (!Number.isSafeInteger(i) || i < 0) {
      throw new BenchError("augment_param", `sample indices must be integers >= 0, got ${i}`);
    }
  }
  return out;
}

/** Splits `n` samples into at most `parts` contiguous chunks `[start, end)`. */
function chunks(n: number, parts: number): [number, number][] {
  const k = Math.max(1, Math.min(parts, n));
  const out: [number, number][] = [];
  for (let i = 0; i < k; i++) out.push([Math.floor(i * n / k), Math.floor((i + 1) * n / k)]);
  return out;
}

async function runChunks(
  pool: AugmentPool,
  kind: "train" | "test",
  policy: PolicyName,
  seed: number,
  epoch: number,
  indices: number[],
  images: Uint8Array,
  shape: PackedShape,
  per: number,
  x1: Float32Array,
  x2: Float32Array | null,
): Promise<void> {
  const n = indices.length;
  const perIn = shape.height * shape.width * shape.channels;
  await Promise.all(
    chunks(n, pool.size).map(async ([a, b], k) => {
      const res = await pool.run(k, {
        kind,
        policy,
        seed,
        epoch,
        indices: Int32Array.from(indices.slice(a, b)),
        images: images.slice(a * perIn, b * perIn),
        ...shape,
        outPerSample: per,
      });
      x1.set(res.x1!, a * per);
      if (x2) x2.set(res.x2!, a * per);
    }),
  );
}

function sourceShape(source: ImageSource): PackedShape {
  const { height, width, channels } = source;
  for (const [k, v] of [["height", height], ["width", width], ["channels", channels]] as const) {
    if (!Number.isInteger(v) || v < 1) {
      throw new BenchError("augment_shape", `dataset ${k} must be a positive integer, got ${v}`);
    }
  }
  return { height, width, channels };
}

/**
 * Reads the batch and returns the two normalised views of every sample (NHWC float32, ready for
 * `tf.tensor4d(x1, [n, height, width, 3])`). The result depends only on (policy, seed, epoch,
 * indices) and the images, never on the pool size.
 *
 * @example
 * ```ts
 * const batch = await trainViews(dataset, { policy: "cifar", seed: 1, epoch: 0, indices: [4, 8, 15] });
 * batch.x1.length; // 3 * 32 * 32 * 3
 * ```
 */
export async function trainViews(source: ImageSource, opts: TrainViewsOptions): Promise<ViewBatch> {
  const spec = getPolicy(opts.policy);
  const indices = checkIndices(opts.indices);
  const shape = sourceShape(source);
  const [ph, pw] = preparedSize(spec, shape.height, shape.width);
  const [oh, ow] = trainOutputSize(spec, ph, pw);
  const per = oh * ow * 3;
  const n = indices.length;
  const x1 = new Float32Array(n * per), x2 = new Float32Array(n * per);
  if (n > 0) {
    const images = await source.readImages(indices);
    if (opts.pool && opts.pool.size > 0) {
      await runChunks(
        opts.pool,
        "train",
        spec.name,
        opts.seed,
        opts.epoch,
        indices,
        images,
        shape,
        per,
        x1,
        x2,
      );
    } else {
      trainBatchInto(spec, opts.seed, opts.epoch, indices, images, shape, x1, x2, 0);
    }
  }
  return { x1, x2, n, height: oh, width: ow, channels: 3 };
}

/**
 * Reads the batch and returns the policy's deterministic test transform, normalised (NHWC
 * float32): cifar/fmnist as is (32 px), stl10 resize 70 + centre crop 64, imagenet resize 146 +
 * centre crop 128.
 *
 * @example
 * ```ts
 * const { x, height } = await testViews(dataset, { policy: "stl10", indices: [0, 1, 2] });
 * ```
 */
export async function testViews(source: ImageSource, opts: TestViewsOptions): Promise<TestBatch> {
  const spec = getPolicy(opts.policy);
  const indices = checkIndices(opts.indices);
  const shape = sourceShape(source);
  const [oh, ow] = testOutputSize(spec, shape.height, shape.width);
  const per = oh * ow * 3;
  const n = indices.length;
  const x = new Float32Array(n * per);
  if (n > 0) {
    const images = await source.readImages(indices);
    if (opts.pool && opts.pool.size > 0) {
      await runChunks(opts.pool, "test", spec.name, 0, 0, indices, images, shape, per, x, null);
    } else {
      testBatchInto(spec, images, shape, n, x, 0);
    }
  }
  return { x, n, height: oh, width: ow, channels: 3 };
}

/**
 * An in-memory {@linkcode ImageSource} over packed images (for tests, benchmarks and callers that
 * already hold the pixels).
 *
 * @example
 * ```ts
 * const src = memorySource(new Uint8Array(10 * 32 * 32 * 3), 32, 32, 3);
 * ```
 */
export function memorySource(
  images: Uint8Array,
  height: number,
  width: number,
  channels: number,
): ImageSource & { readonly length: number } {
  const per = height * width * channels;
  if (per < 1 || images.length % per !== 0) {
    throw new BenchError(
      "augment_shape",
      `${images.length} values are not whole ${height}x${width}x${channels} images`,
    );
  }
  const length = images.length / per;
  return {
    height,
    width,
    channels,
    length,
    readImages(indices: ArrayLike<number>): Promise<Uint8Array> {
      const out = new Uint8Array(indices.length * per);
      for (let k = 0; k < indices.length; k++) {
        const i = indices[k];
        if (!(i >= 0 && i < length)) {
          return Promise.reject(
            new BenchError("augment_param", `image index ${i} out of range 0..${length - 1}`),
          );
        }
        out.set(images.subarray(i * per, (i + 1) * per), k * per);
      }
      return Promise.resolve(out);
    },
  };
}

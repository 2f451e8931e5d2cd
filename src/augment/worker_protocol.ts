/**
 * Messages between the augmentation pool and its workers.
 *
 * @module
 */
import type { PolicyName } from "./policy.ts";

/** A chunk of work sent to a worker. */
export interface WorkerRequest {
  /** Request id (echoed back). */
  id: number;
  /** Train views (two per sample) or the test transform (one). */
  kind: "train" | "test";
  /** Policy name. */
  policy: PolicyName;
  /** Augmentation seed. */
  seed: number;
  /** Epoch. */
  epoch: number;
  /** Dataset indices of the chunk's images. */
  indices: Int32Array;
  /** Packed HWC uint8 images of the chunk. */
  images: Uint8Array;
  /** Rows per source image. */
  height: number;
  /** Columns per source image. */
  width: number;
  /** Channels per source image. */
  channels: number;
  /** Float32 values per output sample (`oh * ow * 3`). */
  outPerSample: number;
}

/** A worker's answer. */
export interface WorkerResponse {
  /** The request id. */
  id: number;
  /** First views (train) or test images. */
  x1?: Float32Array;
  /** Second views (train only). */
  x2?: Float32Array;
  /** Error text when the chunk failed. */
  error?: string;
}

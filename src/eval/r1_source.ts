/**
 * Where the protocols that run the encoder per batch (`amdim-offline`, and the head scoring it
 * shares) get r1 from: a batch of views in, r1 and — in training mode — the encoder's BatchNorm
 * running-statistics updates out. The tfjs encoder is one source; an ONNX Runtime graph of the
 * same weights plus the final BatchNorm in tfjs is another (`src/onnx/ort_r1_source.ts`).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Encoder } from "../model/encoder.ts";
import type { StateUpdate } from "../model/types.ts";

/** A batch of NHWC float32 views (normalised), as the augmentation pipeline returns them. */
export interface ViewBatch {
  /** `n * height * width * 3` values. */
  x: Float32Array;
  /** Images in the batch. */
  n: number;
  /** Image height. */
  height: number;
  /** Image width. */
  width: number;
}

/** What {@linkcode R1Source.r1} returns; the caller owns the tensor and the update values. */
export interface R1Result {
  /** The global feature `[n, nRkhs]`. */
  r1: tf.Tensor2D;
  /**
   * Running-statistics updates of the BatchNorms in training mode (empty in eval mode). They are
   * never assigned by the source: apply them (`applyStateUpdates`) or discard them.
   */
  stateUpdates: StateUpdate[];
}

/** Computes r1 of a frozen encoder, batch by batch. */
export interface R1Source {
  /** Which path computes the encoder: `tfjs` or `onnxruntime`. */
  readonly name: "tfjs" | "onnxruntime";
  /**
   * r1 of a batch. Training mode: BatchNorms normalise with the batch statistics and their
   * running-statistics updates come back; eval mode: the current running statistics are used.
   */
  r1(batch: ViewBatch, options: { training: boolean }): Promise<R1Result>;
}

/**
 * The tfjs encoder as an {@linkcode R1Source}: `encoder.apply` on the batch, r5/r7 freed.
 *
 * @example
 * ```ts
 * const { r1, stateUpdates } = await tfjsR1Source(encoder).r1(views, { training: true });
 * applyStateUpdates(stateUpdates);
 * ```
 */
export function tfjsR1Source(encoder: Encoder): R1Source {
  return {
    name: "tfjs",
    r1(batch, { training }) {
      let stateUpdates: StateUpdate[] = [];
      const r1 = tf.tidy(() => {
        const x = tf.tensor4d(batch.x, [batch.n, batch.height, batch.width, 3]);
        const out = encoder.apply(x, { training });
        stateUpdates = out.stateUpdates;
        return out.outputs.r1;
      });
      return Promise.resolve({ r1, stateUpdates });
    },
  };
}

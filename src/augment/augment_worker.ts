/**
 * Web Worker entry of the augmentation pool: runs {@linkcode trainBatchInto} /
 * {@linkcode testBatchInto} on the chunk it is sent and transfers the float32 views back.
 *
 * @module
 */
import { testBatchInto, trainBatchInto } from "./batch.ts";
import type { WorkerRequest, WorkerResponse } from "./worker_protocol.ts";

// deno-lint-ignore no-explicit-any
const scope = self as any;

scope.onmessage = (event: MessageEvent<WorkerRequest>) => {
  const req = event.data;
  try {
    const shape = { height: req.height, width: req.width, channels: req.channels };
    if (req.kind === "train") {
      const x1 = new Float32Array(req.indices.length * req.outPerSample);
      const x2 = new Float32Array(x1.length);
      trainBatchInto(req.policy, req.seed, req.epoch, req.indices, req.images, shape, x1, x2, 0);
      const res: WorkerResponse = { id: req.id, x1, x2 };
      scope.postMessage(res, [x1.buffer, x2.buffer]);
    } else {
      const x = new Float32Array(req.indices.length * req.outPerSample);
      testBatchInto(req.policy, req.images, shape, req.indices.length, x, 0);
      const res: WorkerResponse = { id: req.id, x1: x };
      scope.postMessage(res, [x.buffer]);
    }
  } catch (error) {
    const res: WorkerResponse = {
      id: req.id,
      error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
    };
    scope.postMessage(res);
  }
};

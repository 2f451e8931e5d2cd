/**
 * A helper thread of the native backend (started by `thread_pool.ts`): it binds `cblas_sgemm`
 * (and oneDNN, when the main thread uses it) from the same libraries, keeps the shared buffers it
 * has been sent, and serves jobs from the shared control block until told to sync (take new
 * buffers from its message queue) or exit.
 *
 * @module
 */
import { parentPort } from "node:worker_threads";
import { claimChunks, CTRL, taskFn } from "./thread_pool.ts";
import { openBlas } from "./blas_library.ts";
import { bindSgemm } from "./gemm.ts";
import { bindDnnl, openDnnl } from "./dnnl_library.ts";
import "./parallel_tasks.ts";

const buffers = new Map<number, SharedArrayBuffer>();
let I: Int32Array;
let F: Float64Array;
const P = new Float64Array(CTRL.PARAMS);

function addBuffers(add: [number, SharedArrayBuffer][] | undefined, drop: number[] | undefined) {
  if (drop) { for (const id of drop) buffers.delete(id); }
  if (add) { for (const [id, sab] of add) buffers.set(id, sab); }
}

/** Serves jobs until a sync or exit command; `seen` is the last sequence number handled. */
function serve(seen: number): void {
  for (;;) {
    Atomics.wait(I, CTRL.SEQ, seen);
    const s = Atomics.load(I, CTRL.SEQ);
    if (s === seen || (s & 1) === 1) {
      if ((s & 1) === 1) Atomics.wait(I, CTRL.SEQ, s, 1);
      continue;
    }
    const cmd = I[CTRL.CMD], task = I[CTRL.TASK], narr = I[CTRL.NARR];
    const base = I[CTRL.BASE], end = I[CTRL.END], np = I[CTRL.NPARAM];
    const meta: number[] = [];
    for (let i = 0; i < 3 * Math.min(narr, CTRL.MAX_ARRAYS); i++) meta.push(I[CTRL.ARR0 + i]);
    for (let i = 0; i < Math.min(np, CTRL.PARAMS); i++) P[i] = F[i];
    if (Atomics.load(I, CTRL.SEQ) !== s) continue; // rewritten while reading: read again
    seen = s;
    if (cmd === CTRL.CMD_SYNC) {
      // Back to the event loop: the message with the new buffers is next in the queue.
      return;
    }
    if (cmd === CTRL.CMD_EXIT) {
      parentPort?.close();
      return;
    }
    const arrays: Float32Array[] = [];
    for (let i = 0; i < narr; i++) {
      const sab = buffers.get(meta[3 * i]);
      if (!sab) break; // never sent here: leave every chunk to the other threads
      arrays.push(new Float32Array(sab, meta[3 * i + 1] * 4, meta[3 * i + 2]));
    }
    if (arrays.length === narr) claimChunks(I, taskFn(task), arrays, P, base, end);
  }
}

parentPort!.on("message", (m: {
  init?: boolean;
  ctrl?: SharedArrayBuffer;
  library?: string;
  dnnl?: string;
  buffers?: [number, SharedArrayBuffer][];
  add?: [number, SharedArrayBuffer][];
  drop?: number[];
}) => {
  if (m.init) {
    I = new Int32Array(m.ctrl!, 0, CTRL.INTS);
    F = new Float64Array(m.ctrl!, CTRL.INTS * 4, CTRL.PARAMS);
    const r = openBlas({ library: m.library });
    if (!r.ok) {
      parentPort!.postMessage({ ready: false, reason: r.reason });
      return;
    }
    r.library.setThreads(1);
    bindSgemm(r.library.symbols);
    let dnnl = false;
    if (m.dnnl) {
      const d = openDnnl(m.dnnl);
      if (d.ok) bindDnnl(d.library);
      dnnl = d.ok;
    }
    addBuffers(m.buffers, undefined);
    const seen = Atomics.load(I, CTRL.SEQ) & ~1;
    parentPort!.postMessage({ ready: true, dnnl });
    serve(seen);
    return;
  }
  addBuffers(m.add, m.drop);
  const seen = Atomics.load(I, CTRL.SEQ);
  Atomics.add(I, CTRL.ACK, 1);
  Atomics.notify(I, CTRL.ACK);
  serve(seen);
});

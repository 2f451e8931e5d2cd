/**
 * Convolution gradient kernels for the wasm backend. `@tensorflow/tfjs-backend-wasm` 4.22 has no
 * `Conv2DBackpropFilter` (the encoder's backward pass fails with `Kernel 'Conv2DBackpropFilter'
 * not registered for backend 'wasm'`), and its `Conv2DBackpropInput` is a direct loop that
 * dominates a training step; both are provided here.
 *
 * `Conv2DBackpropFilter` (NHWC, dilation 1): the input patches are gathered in JS into the
 * transposed im2col matrix `[KH*KW*Cin, N*OH*OW]` (zeros where the window covers padding), then
 * one call of the wasm backend's own `BatchMatMul` kernel computes `im2col^T . dy = dW` as
 * `[KH*KW*Cin, Cout]`, which is exactly the filter layout `[KH, KW, Cin, Cout]`. (The matrix is
 * built transposed because wasm's BatchMatMul leaves its fast XNNPACK path when asked to
 * transpose an operand: about 15x slower.) The arithmetic is float32 like every wasm kernel;
 * results are deterministic.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { BenchError } from "../util/errors.ts";

interface WasmBackendLike {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array;
  disposeData(dataId: unknown): boolean;
}

type KernelArgs = Parameters<tf.KernelFunc>[0];

function conv2dBackpropFilterWasm(args: KernelArgs): tf.TensorInfo {
  const backend = args.backend as unknown as WasmBackendLike;
  const { x, dy } = args.inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  const attrs = args.attrs as unknown as {
    strides: [number, number] | number;
    pad: "valid" | "same" | number | tf.backend_util.ExplicitPadding;
    dataFormat: "NHWC" | "NCHW";
    dimRoundingMode?: "floor" | "round" | "ceil";
    filterShape: [number, number, number, number];
  };
  if (attrs.dataFormat === "NCHW" || x.dtype !== "float32" || dy.dtype !== "float32") {
    throw new BenchError("wasm_kernel", "Conv2DBackpropFilter on wasm supports float32 NHWC only");
  }
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    attrs.filterShape,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    "channelsLast",
  );
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: ci, outChannels: co } = info;
  const { outHeight: oh, outWidth: ow, strideHeight: sh, strideWidth: sw } = info;
  const { filterHeight: kh, filterWidth: kw } = info;
  const top = info.padInfo.top, left = info.padInfo.left;
  const rows = n * oh * ow;
  const cols = kh * kw * ci;
  // The transposed im2col matrix [cols, rows]: wasm's BatchMatMul is fast only without transposes.
  const a = backend.makeOutput([1, cols, rows], "float32");
  // views taken after the allocation (the heap may have grown)
  const xv = backend.typedArrayFromHeap(x);
  const av = backend.typedArrayFromHeap(a);
  let r = 0;
  for (let b = 0; b < n; b++) {
    for (let y = 0; y < oh; y++) {
      for (let xo = 0; xo < ow; xo++, r++) {
        let c = 0;
        for (let i = 0; i < kh; i++) {
          const yi = y * sh + i - top;
          for (let j = 0; j < kw; j++) {
            const xj = xo * sw + j - left;
            if (yi < 0 || yi >= h || xj < 0 || xj >= w) {
              for (let k = 0; k < ci; k++, c++) av[c * rows + r] = 0;
            } else {
              const src = ((b * h + yi) * w + xj) * ci;
              for (let k = 0; k < ci; k++, c++) av[c * rows + r] = xv[src + k];
            }
          }
        }
      }
    }
  }
  const matMul = tf.getKernel("BatchMatMul", "wasm");
  if (!matMul) throw new BenchError("wasm_kernel", "wasm BatchMatMul kernel not registered");
  const out = matMul.kernelFunc({
    inputs: { a, b: { dataId: dy.dataId, shape: [1, rows, co], dtype: "float32" } },
    backend: args.backend,
    attrs: { transposeA: false, transposeB: false },
  }) as tf.TensorInfo;
  backend.disposeData(a.dataId);
  return { dataId: out.dataId, shape: [kh, kw, ci, co], dtype: "float32" };
}

function conv2dBackpropInputWasm(args: KernelArgs): tf.TensorInfo {
  const backend = args.backend as unknown as WasmBackendLike;
  const { dy, filter } = args.inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
  const attrs = args.attrs as unknown as {
    inputShape: [number, number, number, number];
    strides: [number, number] | number;
    pad: "valid" | "same" | number | tf.backend_util.ExplicitPadding;
    dataFormat: "NHWC" | "NCHW";
    dimRoundingMode?: "floor" | "round" | "ceil";
  };
  if (attrs.dataFormat === "NCHW" || dy.dtype !== "float32" || filter.dtype !== "float32") {
    throw new BenchError("wasm_kernel", "Conv2DBackpropInput on wasm supports float32 NHWC only");
  }
  const info = tf.backend_util.computeConv2DInfo(
    attrs.inputShape,
    filter.shape as [number, number, number, number],
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    "channelsLast",
  );
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: ci, outChannels: co } = info;
  const { outHeight: oh, outWidth: ow, strideHeight: sh, strideWidth: sw } = info;
  const { filterHeight: kh, filterWidth: kw } = info;
  const top = info.padInfo.top, left = info.padInfo.left;
  const rows = n * oh * ow;
  const cols = kh * kw * ci;
  // W^T [Cout, KH*KW*Cin], so that dcol = dy . W^T is a plain (fast) matmul
  const wt = backend.makeOutput([1, co, cols], "float32");
  {
    const fv = backend.typedArrayFromHeap(filter);
    const tv = backend.typedArrayFromHeap(wt);
    for (let c = 0; c < cols; c++) {
      for (let o = 0; o < co; o++) tv[o * cols + c] = fv[c * co + o];
    }
  }
  const matMul = tf.getKernel("BatchMatMul", "wasm");
  if (!matMul) throw new BenchError("wasm_kernel", "wasm BatchMatMul kernel not registered");
  const dcol = matMul.kernelFunc({
    inputs: { a: { dataId: dy.dataId, shape: [1, rows, co], dtype: "float32" }, b: wt },
    backend: args.backend,
    attrs: { transposeA: false, transposeB: false },
  }) as tf.TensorInfo;
  backend.disposeData(wt.dataId);
  const direct = kh === 1 && kw === 1 && sh === 1 && sw === 1 && top === 0 && left === 0 &&
    oh === h && ow === w;
  if (direct) return { dataId: dcol.dataId, shape: [...attrs.inputShape], dtype: "float32" };
  const dx = backend.makeOutput([...attrs.inputShape], "float32");
  const dv = backend.typedArrayFromHeap(dcol);
  const xv = backend.typedArrayFromHeap(dx);
  xv.fill(0);
  let r = 0;
  for (let b = 0; b < n; b++) {
    for (let y = 0; y < oh; y++) {
      for (let xo = 0; xo < ow; xo++, r++) {
        let c = r * cols;
        for (let i = 0; i < kh; i++) {
          const yi = y * sh + i - top;
          for (let j = 0; j < kw; j++) {
            const xj = xo * sw + j - left;
            if (yi < 0 || yi >= h || xj < 0 || xj >= w) {
              c += ci;
              continue;
            }
            const dst = ((b * h + yi) * w + xj) * ci;
            for (let k = 0; k < ci; k++, c++) xv[dst + k] += dv[c];
          }
        }
      }
    }
  }
  backend.disposeData(dcol.dataId);
  return dx;
}

/** Marks kernels registered here, so a second call leaves them alone. */
const OURS = new WeakSet<object>();

/**
 * Registers the training kernels for the wasm backend (idempotent). When a
 * `Conv2DBackpropFilter` is already registered by other code (the backend module's kernel
 * fixes), nothing is changed. Otherwise both kernels are registered here, `Conv2DBackpropInput`
 * replacing wasm's direct loop with `dx = col2im(dy . W^T)`. Returns the names registered.
 *
 * @example
 * ```ts
 * await tf.setBackend("wasm");
 * ensureWasmTrainingKernels(); // both names the first time, [] after
 * ```
 */
export function ensureWasmTrainingKernels(): string[] {
  const filter = tf.getKernel("Conv2DBackpropFilter", "wasm");
  // Registered by someone else (the backend module's kernel fixes): leave both kernels alone.
  if (filter && !OURS.has(filter.kernelFunc)) return [];
  const added: string[] = [];
  if (!filter) {
    const k = conv2dBackpropFilterWasm as unknown as tf.KernelFunc;
    tf.registerKernel({ kernelName: "Conv2DBackpropFilter", backendName: "wasm", kernelFunc: k });
    OURS.add(k);
    added.push("Conv2DBackpropFilter");
  }
  // wasm's own Conv2DBackpropInput is a direct loop (~250 MFLOP/s); replace it with im2col-matmul
  const input = tf.getKernel("Conv2DBackpropInput", "wasm");
  if (!input || !OURS.has(input.kernelFunc)) {
    const k = conv2dBackpropInputWasm as unknown as tf.KernelFunc;
    if (input) tf.unregisterKernel("Conv2DBackpropInput", "wasm");
    tf.registerKernel({ kernelName: "Conv2DBackpropInput", backendName: "wasm", kernelFunc: k });
    OURS.add(k);
    added.push("Conv2DBackpropInput");
  }
  return added;
}

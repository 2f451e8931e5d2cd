/**
 * Convolution filter-gradient kernel (`Conv2DBackpropFilter`) built from the slicing and matrix
 * product kernels every backend has: for each filter tap `(i, j)` the strided window of the input
 * that tap sees is multiplied with the output gradient, `dW[i, j] = X_ij^T · dY`, where `X_ij` is
 * `[N·OH·OW, Cin]` and `dY` is `[N·OH·OW, Cout]`. One matrix product per tap keeps the extra memory
 * to one input-sized window at a time (an im2col of all taps would need `KH·KW` copies of the
 * input).
 *
 * The `wasm` backend has no `Conv2DBackpropFilter` kernel at all and the `cpu` backend's is a
 * direct six-deep loop; both get this one (see {@linkcode registerConvGradKernels}).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** Attributes of the `Conv2DBackpropFilter` kernel, as tfjs passes them. */
interface BackpropFilterAttrs {
  strides: [number, number] | number;
  pad: "valid" | "same" | number | tf.backend_util.ExplicitPadding;
  dataFormat: "NHWC" | "NCHW";
  dimRoundingMode?: "floor" | "round" | "ceil";
  filterShape: [number, number, number, number];
}

/**
 * How {@linkcode conv2dFilterGrad} computes: `conv` runs one dilated stride-1 convolution of the
 * transposed input with the output gradient as filter (fastest where `Conv2D` is fast: `wasm`);
 * `matmul` runs one matrix product per filter tap. The default is `matmul` for 1×1 filters (a
 * single product) and `conv` otherwise.
 */
export type FilterGradStrategy = "conv" | "matmul";

/** The undilated NHWC convolution geometry both gradients work from, in short names. */
function nhwcGeometry(
  xShape: [number, number, number, number],
  filterShape: [number, number, number, number],
  strides: [number, number] | number,
  pad: BackpropFilterAttrs["pad"],
  dimRoundingMode?: "floor" | "round" | "ceil",
) {
  const info = tf.backend_util.computeConv2DInfo(
    xShape,
    filterShape,
    strides,
    1,
    pad,
    dimRoundingMode,
    false,
    "channelsLast",
  );
  return {
    n: info.batchSize,
    inHeight: info.inHeight,
    inWidth: info.inWidth,
    ci: info.inChannels,
    co: info.outChannels,
    oh: info.outHeight,
    ow: info.outWidth,
    sh: info.strideHeight,
    sw: info.strideWidth,
    kh: info.filterHeight,
    kw: info.filterWidth,
    padInfo: info.padInfo,
  };
}

/**
 * The filter gradient of a 2-D convolution (NHWC input `x`, output gradient `dy`), computed
 * with slices and matrix products on the active backend.
 *
 * @example
 * ```ts
 * const dW = conv2dFilterGrad(x, dy, [3, 3, 16, 32], 2, "valid");
 * ```
 */
export function conv2dFilterGrad(
  x: tf.Tensor4D,
  dy: tf.Tensor4D,
  filterShape: [number, number, number, number],
  strides: [number, number] | number,
  pad: BackpropFilterAttrs["pad"],
  dimRoundingMode?: "floor" | "round" | "ceil",
  strategy?: FilterGradStrategy,
): tf.Tensor4D {
  return tf.tidy(() => {
    const { n, inHeight, inWidth, ci, co, oh, ow, sh, sw, kh, kw, padInfo } = nhwcGeometry(
      x.shape,
      filterShape,
      strides,
      pad,
      dimRoundingMode,
    );
    if (dy.shape[1] !== oh || dy.shape[2] !== ow || dy.shape[3] !== co) {
      throw new Error(
        `Conv2DBackpropFilter: dy shape ${dy.shape} does not match the convolution output ` +
          `[${n},${oh},${ow},${co}]`,
      );
    }
    // Rows/columns of the (zero-padded) input that some window reaches.
    const needH = (oh - 1) * sh + kh;
    const needW = (ow - 1) * sw + kw;
    const top = padInfo.top, left = padInfo.left;
    const bottom = Math.max(0, needH - top - inHeight);
    const right = Math.max(0, needW - left - inWidth);
    let xp = top || left || bottom || right
      ? tf.pad(x, [[0, 0], [top, bottom], [left, right], [0, 0]])
      : x;
    if (xp.shape[1] > needH || xp.shape[2] > needW) {
      xp = tf.slice(xp, [0, 0, 0, 0], [n, needH, needW, ci]);
    }
    if ((strategy ?? (kh === 1 && kw === 1 ? "matmul" : "conv")) === "conv") {
      // dW[i,j,c,o] = sum_{b,y,x} xp[b, i + s*y, j + s*x, c] * dy[b,y,x,o]: a stride-1 convolution
      // of xp (channels as batch, batch as channels) with dy as the filter, dilated by the stride.
      const xc = tf.transpose(xp, [3, 1, 2, 0]); // [ci, H, W, n]
      const f = tf.transpose(dy, [1, 2, 0, 3]); // [oh, ow, n, co]
      const out = tf.conv2d(xc, f, 1, "valid", "NHWC", [sh, sw]); // [ci, kh, kw, co]
      return tf.transpose(out, [1, 2, 0, 3]);
    }
    // "matmul": one product per filter tap, on phase-split copies of the input so that every tap
    // window is a plain (unstrided) slice.
    const m = n * oh * ow;
    const dyMat = tf.reshape(dy, [m, co]);
    const hs = Math.ceil(needH / sh), ws = Math.ceil(needW / sw);
    const xq = hs * sh > needH || ws * sw > needW
      ? tf.pad(xp, [[0, 0], [0, hs * sh - needH], [0, ws * sw - needW], [0, 0]])
      : xp;
    let phases = tf.transpose(xq, [3, 0, 1, 2]); // [ci, n, H, W]
    if (sh > 1 || sw > 1) {
      phases = tf.reshape(
        tf.transpose(tf.reshape(phases, [ci * n * hs, sh, ws, sw]), [1, 3, 0, 2]),
        [sh * sw * ci, n, hs, ws],
      ); // [(p, q, c), n, hs, ws]
    }
    const taps: tf.Tensor2D[] = [];
    for (let i = 0; i < kh; i++) {
      for (let j = 0; j < kw; j++) {
        const p = i % sh, q = j % sw;
        const win = tf.slice(
          phases,
          [(p * sw + q) * ci, 0, (i - p) / sh, (j - q) / sw],
          [ci, n, oh, ow],
        );
        taps.push(tf.matMul(tf.reshape(win, [ci, m]), dyMat));
      }
    }
    const stacked = taps.length === 1 ? taps[0] : tf.stack(taps);
    return tf.reshape(stacked, [kh, kw, ci, co]) as tf.Tensor4D;
  });
}

/**
 * The input gradient of a 2-D convolution (NHWC): for stride `s` the input rows split into `s`
 * phases (`h = s·u + p`); each phase is a stride-1 "full" convolution of the zero-padded output
 * gradient with the flipped taps `W[p + s·t]`, and the phases are interleaved back. Total work
 * equals the forward convolution's, on the backend's `Conv2D` kernel.
 *
 * @example
 * ```ts
 * const dx = conv2dInputGrad([8, 30, 30, 32], dy, w, 2, "valid");
 * ```
 */
export function conv2dInputGrad(
  xShape: [number, number, number, number],
  dy: tf.Tensor4D,
  filter: tf.Tensor4D,
  strides: [number, number] | number,
  pad: BackpropFilterAttrs["pad"],
  dimRoundingMode?: "floor" | "round" | "ceil",
): tf.Tensor4D {
  return tf.tidy(() => {
    const { n, inHeight, inWidth, ci, co, oh, ow, sh, sw, kh, kw, padInfo } = nhwcGeometry(
      xShape,
      filter.shape,
      strides,
      pad,
      dimRoundingMode,
    );
    // Gradient of the padded input xp (rows 0..hp), then cropped to x.
    const hp = padInfo.top + inHeight + padInfo.bottom;
    const wp = padInfo.left + inWidth + padInfo.right;
    const uMax = Math.ceil(hp / sh), vMax = Math.ceil(wp / sw);
    const rows: tf.Tensor4D[] = [];
    for (let p = 0; p < sh; p++) {
      const cols: tf.Tensor4D[] = [];
      for (let q = 0; q < sw; q++) {
        const tp = Math.max(0, Math.ceil((kh - p) / sh));
        const tq = Math.max(0, Math.ceil((kw - q) / sw));
        if (tp === 0 || tq === 0) {
          cols.push(tf.zeros([n, uMax, vMax, ci]) as tf.Tensor4D);
          continue;
        }
        // Taps W[p + s*t, q + s*r], flipped, as a [tp, tq, co, ci] filter.
        let sub = sh === 1 && sw === 1 ? filter : tf.stridedSlice(
          filter,
          [p, q, 0, 0],
          [p + (tp - 1) * sh + 1, q + (tq - 1) * sw + 1, ci, co],
          [sh, sw, 1, 1],
        ) as tf.Tensor4D;
        if (tp > 1 || tq > 1) sub = tf.reverse(sub, [0, 1]);
        const f = tf.transpose(sub, [0, 1, 3, 2]);
        const dyp = tf.pad(dy, [
          [0, 0],
          [tp - 1, Math.max(0, uMax - oh)],
          [tq - 1, Math.max(0, vMax - ow)],
          [0, 0],
        ]);
        let phase = tf.conv2d(dyp, f, 1, "valid");
        if (phase.shape[1] !== uMax || phase.shape[2] !== vMax) {
          phase = tf.slice(phase, [0, 0, 0, 0], [n, uMax, vMax, ci]);
        }
        cols.push(phase);
      }
      // Interleave the column phases: [n, u, v, sw, ci] -> [n, u, v*sw, ci].
      rows.push(
        sw === 1 ? cols[0] : tf.reshape(tf.stack(cols, 3), [n, uMax, vMax * sw, ci]),
      );
    }
    let dxp = sh === 1
      ? rows[0]
      : tf.reshape(tf.stack(rows, 2), [n, uMax * sh, vMax * sw, ci]) as tf.Tensor4D;
    if (padInfo.top || padInfo.left || dxp.shape[1] !== inHeight || dxp.shape[2] !== inWidth) {
      dxp = tf.slice(dxp, [0, padInfo.top, padInfo.left, 0], [n, inHeight, inWidth, ci]);
    }
    return dxp;
  });
}

/** Attributes of the `Conv2DBackpropInput` kernel, as tfjs passes them. */
interface BackpropInputAttrs {
  strides: [number, number] | number;
  pad: BackpropFilterAttrs["pad"];
  dataFormat: "NHWC" | "NCHW";
  dimRoundingMode?: "floor" | "round" | "ceil";
  inputShape: [number, number, number, number];
}

/** Kernels replaced per backend, kept to delegate small problems back to them. */
const replaced = new Map<string, tf.KernelConfig>();

/**
 * The kernel function registered under `Conv2DBackpropInput`. Problems where the phase
 * convolutions would mostly multiply padding (output smaller than the filter) or that are tiny
 * go to the backend's own kernel when it has one.
 */
function backpropInputKernel(
  args: { inputs: tf.NamedTensorInfoMap; attrs?: tf.NamedAttrMap; backend: tf.KernelBackend },
): tf.TensorInfo {
  const attrs = args.attrs as unknown as BackpropInputAttrs;
  const own = replaced.get(`Conv2DBackpropInput/${tf.getBackend()}`);
  const dyShape = args.inputs.dy?.shape ?? [];
  const fShape = args.inputs.filter?.shape ?? [];
  const nhwc = attrs.dataFormat !== "NCHW";
  const oh = nhwc ? dyShape[1] : dyShape[2], ow = nhwc ? dyShape[2] : dyShape[3];
  const macs = dyShape.reduce((a, b) => a * b, 1) * fShape[0] * fShape[1] * fShape[2];
  if (own && (oh < fShape[0] || ow < fShape[1] || macs < 4e6)) {
    return own.kernelFunc(args as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
  }
  return tf.tidy(() => {
    let dy = asTensor(args.inputs.dy) as tf.Tensor4D;
    const filter = asTensor(args.inputs.filter) as tf.Tensor4D;
    let shape = attrs.inputShape;
    const nchw = attrs.dataFormat === "NCHW";
    if (nchw) {
      dy = tf.transpose(dy, [0, 2, 3, 1]);
      shape = [shape[0], shape[2], shape[3], shape[1]];
    }
    const dx = conv2dInputGrad(shape, dy, filter, attrs.strides, attrs.pad, attrs.dimRoundingMode);
    return nchw ? tf.transpose(dx, [0, 3, 1, 2]) : dx;
  });
}

/** The kernel function registered under `Conv2DBackpropFilter`. */
function backpropFilterKernel(
  args: { inputs: tf.NamedTensorInfoMap; attrs?: tf.NamedAttrMap },
): tf.TensorInfo {
  const attrs = args.attrs as unknown as BackpropFilterAttrs;
  return tf.tidy(() => {
    let x = asTensor(args.inputs.x) as tf.Tensor4D;
    let dy = asTensor(args.inputs.dy) as tf.Tensor4D;
    if (attrs.dataFormat === "NCHW") {
      x = tf.transpose(x, [0, 2, 3, 1]);
      dy = tf.transpose(dy, [0, 2, 3, 1]);
    }
    const dW = conv2dFilterGrad(
      x,
      dy,
      attrs.filterShape,
      attrs.strides,
      attrs.pad,
      attrs.dimRoundingMode,
    );
    return dW;
  });
}

/**
 * A kernel input as a tensor: inputs that come from ops already are tensors; bare tensor infos
 * are wrapped (inside the caller's `tidy`, so the wrapper is released again).
 */
export function asTensor(info: tf.TensorInfo | undefined): tf.Tensor {
  if (info === undefined) throw new Error("kernel input missing");
  return info instanceof tf.Tensor ? info : tf.engine().makeTensorFromTensorInfo(info);
}

/** Kernel names this module replaces or adds. */
export const CONV_GRAD_KERNELS = ["Conv2DBackpropFilter", "Conv2DBackpropInput"] as const;

const KERNEL_FUNCS: Record<(typeof CONV_GRAD_KERNELS)[number], unknown> = {
  Conv2DBackpropFilter: backpropFilterKernel,
  Conv2DBackpropInput: backpropInputKernel,
};

/**
 * Registers the convolution-gradient kernels above for `backendName`, replacing existing
 * registrations (by default both `Conv2DBackpropFilter` and `Conv2DBackpropInput`). Idempotent.
 *
 * @example
 * ```ts
 * registerConvGradKernels("wasm");
 * ```
 */
export function registerConvGradKernels(
  backendName: string,
  kernels: readonly (typeof CONV_GRAD_KERNELS)[number][] = CONV_GRAD_KERNELS,
): void {
  for (const kernelName of kernels) {
    const kernelFunc = KERNEL_FUNCS[kernelName] as tf.KernelFunc;
    const existing = tf.getKernel(kernelName, backendName);
    if (existing?.kernelFunc === kernelFunc) continue;
    if (existing) {
      replaced.set(`${kernelName}/${backendName}`, existing);
      tf.unregisterKernel(kernelName, backendName);
    }
    tf.registerKernel({ kernelName, backendName, kernelFunc });
  }
}

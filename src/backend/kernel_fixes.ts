/**
 * Kernels and gradients that tfjs 4.22 lacks or gets wrong, installed per backend by
 * `initBackend`:
 * - `Conv2DBackpropFilter` (missing on `wasm`, ~100× too slow on `cpu`) and
 *   `Conv2DBackpropInput` (slow on `wasm`): see `conv_grad_kernels.ts`;
 * - `UnsortedSegmentSum` (missing on `wasm`; the gradient of `gather` needs it): a one-hot
 *   matrix product;
 * - `OneHot` on `wasm` writes int32 bits into float32 outputs (`tf.oneHot(..., "float32")` gives
 *   denormals); the replacement computes int32 and casts;
 * - the gradient of `MirrorPad`: tfjs only slices the centre out of `dy`, dropping what flowed
 *   into the mirrored border; the replacement folds the border back onto the rows it copies
 *   (`reflect` and `symmetric`), for every backend.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { asTensor, registerConvGradKernels } from "./conv_grad_kernels.ts";

/**
 * `UnsortedSegmentSum` as `oneHot(segmentIds)ᵀ · x`: ids outside `[0, numSegments)` contribute
 * nothing, as in TensorFlow.
 *
 * @example
 * ```ts
 * unsortedSegmentSumByMatMul(tf.tensor2d([[1, 2], [3, 4]]), tf.tensor1d([1, 1], "int32"), 3);
 * ```
 */
export function unsortedSegmentSumByMatMul(
  x: tf.Tensor,
  segmentIds: tf.Tensor,
  numSegments: number,
): tf.Tensor {
  return tf.tidy(() => {
    const rows = segmentIds.size;
    const rest = x.shape.slice(segmentIds.rank);
    const restSize = rest.reduce((a, b) => a * b, 1);
    const ids = tf.reshape(segmentIds, [rows]).toInt();
    const oneHot = tf.cast(tf.oneHot(ids, numSegments), "float32");
    const xs = tf.reshape(x.dtype === "float32" ? x : tf.cast(x, "float32"), [rows, restSize]);
    const out = tf.reshape(tf.matMul(oneHot, xs, true, false), [numSegments, ...rest]);
    return x.dtype === "float32" ? out : tf.cast(out, x.dtype);
  });
}

function unsortedSegmentSumKernel(
  args: { inputs: tf.NamedTensorInfoMap; attrs?: tf.NamedAttrMap },
): tf.TensorInfo {
  const { numSegments } = args.attrs as unknown as { numSegments: number };
  return tf.tidy(() =>
    unsortedSegmentSumByMatMul(
      asTensor(args.inputs.x),
      asTensor(args.inputs.segmentIds),
      numSegments,
    )
  );
}

/** Wraps a backend's `OneHot` so that non-int32 outputs are computed as int32 and cast. */
function oneHotCastingKernel(original: tf.KernelFunc): tf.KernelFunc {
  const kernel = (args: Parameters<tf.KernelFunc>[0]) => {
    const attrs = args.attrs as unknown as { dtype: tf.DataType };
    if (attrs.dtype === "int32") return original(args);
    return tf.tidy(() => {
      const asInt = original({
        ...args,
        attrs: { ...args.attrs, dtype: "int32" },
      }) as tf.TensorInfo;
      return tf.cast(asTensor(asInt), attrs.dtype);
    });
  };
  (kernel as { fixesOneHot?: boolean }).fixesOneHot = true;
  return kernel as tf.KernelFunc;
}

/**
 * The gradient of `MirrorPad` with respect to its input: the centre of `dy` plus the mirrored
 * borders folded back, axis by axis.
 *
 * @example
 * ```ts
 * const dx = mirrorPadGrad(dy, [[0, 0], [2, 2], [2, 2], [0, 0]], "reflect");
 * ```
 */
export function mirrorPadGrad(
  dy: tf.Tensor,
  paddings: Array<[number, number]>,
  mode: "reflect" | "symmetric",
): tf.Tensor {
  const offset = mode === "reflect" ? 1 : 0;
  return tf.tidy(() => {
    let g = dy;
    paddings.forEach(([before, after], axis) => {
      if (before === 0 && after === 0) return;
      const shape = g.shape;
      const len = shape[axis] - before - after;
      const begin = shape.map(() => 0);
      const size = [...shape];
      const part = (start: number, count: number) => {
        const b = [...begin];
        const s = [...size];
        b[axis] = start;
        s[axis] = count;
        return tf.slice(g, b, s);
      };
      const placed = (t: tf.Tensor, lo: number, hi: number) =>
        tf.pad(t, shape.map((_, a) => (a === axis ? [lo, hi] : [0, 0]) as [number, number]));
      let sum = part(before, len);
      if (before > 0) {
        const front = tf.reverse(part(0, before), axis);
        sum = tf.add(sum, placed(front, offset, len - before - offset));
      }
      if (after > 0) {
        const back = tf.reverse(part(before + len, after), axis);
        sum = tf.add(sum, placed(back, len - after - offset, offset));
      }
      g = sum;
    });
    return g;
  });
}

let gradientsInstalled = false;

/** Replaces tfjs's `MirrorPad` gradient (for all backends). Idempotent. */
export function installGradientFixes(): void {
  if (gradientsInstalled) return;
  tf.registerGradient({
    kernelName: "MirrorPad",
    inputsToSave: ["x"],
    gradFunc: (dy, _saved, attrs) => {
      const { paddings, mode } = attrs as unknown as {
        paddings: Array<[number, number]>;
        mode: "reflect" | "symmetric";
      };
      const d = Array.isArray(dy) ? dy[0] : dy;
      return { x: () => mirrorPadGrad(d, paddings, mode) };
    },
  });
  gradientsInstalled = true;
}

/** The original `cpu` filter-gradient kernel, kept to recognise backends that copied it. */
let cpuBackpropFilter: tf.KernelConfig["kernelFunc"] | undefined;

/**
 * Installs the kernel replacements for one backend (and the gradient fixes). Idempotent.
 * `native` gets the filter-gradient kernel only if it still has the slow `cpu` one.
 *
 * @example
 * ```ts
 * await tf.setBackend("wasm");
 * installKernelFixes("wasm");
 * ```
 */
export function installKernelFixes(backendName: string): void {
  installGradientFixes();
  if (cpuBackpropFilter === undefined) {
    cpuBackpropFilter = tf.getKernel("Conv2DBackpropFilter", "cpu")?.kernelFunc;
  }
  if (backendName === "cpu") {
    registerConvGradKernels("cpu", ["Conv2DBackpropFilter"]);
  } else if (backendName === "wasm") {
    registerConvGradKernels("wasm");
    const oneHot = tf.getKernel("OneHot", "wasm");
    if (oneHot && !(oneHot.kernelFunc as { fixesOneHot?: boolean }).fixesOneHot) {
      tf.unregisterKernel("OneHot", "wasm");
      tf.registerKernel({ ...oneHot, kernelFunc: oneHotCastingKernel(oneHot.kernelFunc) });
    }
    if (!tf.getKernel("UnsortedSegmentSum", "wasm")) {
      tf.registerKernel({
        kernelName: "UnsortedSegmentSum",
        backendName: "wasm",
        kernelFunc: unsortedSegmentSumKernel as unknown as tf.KernelFunc,
      });
    }
  } else if (backendName === "native") {
    const own = tf.getKernel("Conv2DBackpropFilter", "native")?.kernelFunc;
    if (own === undefined || own === cpuBackpropFilter) {
      registerConvGradKernels("native", ["Conv2DBackpropFilter"]);
    }
  }
}

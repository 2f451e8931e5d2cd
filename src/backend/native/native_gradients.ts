/**
 * Gradient overrides that let the `native` backend run fused gradient kernels. tfjs gradients are
 * global (one per kernel name, for every backend), so each override checks the active backend:
 * on `native` it runs the fused kernel, on any other backend the original gradient, unchanged.
 *
 * - `Relu`: tfjs builds `dy * cast(step(x))` (Step, Cast, Multiply: two full passes and a
 *   temporary); `native` runs `NativeReluGrad`, one pass, same values.
 * - `NativeBatchNormTrain` (a kernel of the native backend only) gets its gradient here:
 *   `NativeBatchNormTrainGrad`, all three input gradients from one kernel call.
 * - `NativeNceScores` (native only: the NCE loss and regulariser from the score matrix) gets
 *   `NativeNceScoresGrad`, the closed-form gradient of both outputs from one kernel call.
 * - `NativeFusedConv2D` (native only: convolution, optional bias, optional residual, optional
 *   ReLU in one kernel; the residual's gradient is the ReLU's):
 *   the ReLU gradient as `NativeReluGrad` of the output (NaN-free: the fused ReLU maps NaN to 0),
 *   then the two convolution gradient kernels and the bias sum. These are the kernels the unfused
 *   layers' gradients run, on the same values (the output is positive exactly where the
 *   pre-activation is), so results are the same for every finite pre-activation.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** Kernel names that exist only on the native backend (registered by it). */
export const NATIVE_ONLY_KERNELS = [
  "NativeReluGrad",
  "NativeAdamL2",
  "NativeBatchNormTrain",
  "NativeBatchNormTrainGrad",
  "NativeFusedConv2D",
  "NativeNceScores",
  "NativeNceScoresGrad",
] as const;

let installed = false;

/** The attributes of `NativeFusedConv2D` (those of tfjs' `FusedConv2D`). */
interface FusedConvAttrs {
  strides: [number, number] | number;
  pad: "valid" | "same" | number;
  dataFormat: "NHWC";
  dilations: [number, number] | number;
  dimRoundingMode?: "floor" | "round" | "ceil";
  activation: "linear" | "relu";
}

/**
 * Installs the overrides once (later calls do nothing).
 *
 * @example
 * ```ts
 * installNativeGradients("native");
 * ```
 */
export function installNativeGradients(backendName: string): void {
  if (installed) return;
  tf.registerGradient({
    kernelName: "NativeBatchNormTrain",
    inputsToSave: ["x", "gamma"],
    outputsToSave: [false, true, true],
    gradFunc: (dy, saved, attrs) => {
      const [x, gamma, mean, variance] = saved;
      const dyY = Array.isArray(dy) ? dy[0] : dy;
      // One kernel gives all three; the engine asks for them one by one.
      const [dx, dgamma, dbeta] = tf.engine().runKernel(
        "NativeBatchNormTrainGrad",
        { dy: dyY, x, gamma, mean, variance },
        attrs,
      ) as tf.Tensor[];
      return { x: () => dx, gamma: () => dgamma, beta: () => dbeta };
    },
  });
  tf.registerGradient({
    kernelName: "NativeFusedConv2D",
    inputsToSave: ["x", "filter"],
    outputsToSave: [true],
    gradFunc: (dy, saved, attrs) => {
      const [x, filter, y] = saved;
      const g = (Array.isArray(dy) ? dy[0] : dy) as tf.Tensor;
      const a = attrs as unknown as FusedConvAttrs;
      const dyAct = a.activation === "relu"
        ? tf.engine().runKernel("NativeReluGrad", { dy: g, x: y }, { nanFree: true }) as tf.Tensor
        : g;
      const conv: tf.NamedAttrMap = { strides: a.strides, pad: a.pad, dataFormat: a.dataFormat };
      if (a.dimRoundingMode) conv.dimRoundingMode = a.dimRoundingMode;
      const e = tf.engine();
      return {
        x: () =>
          e.runKernel("Conv2DBackpropInput", { dy: dyAct, filter }, {
            ...conv,
            inputShape: x.shape,
          }) as tf.Tensor,
        filter: () =>
          e.runKernel("Conv2DBackpropFilter", { x, dy: dyAct }, {
            ...conv,
            filterShape: filter.shape,
          }) as tf.Tensor,
        bias: () => tf.sum(dyAct, [0, 1, 2]),
        residual: () => dyAct,
      };
    },
  });
  tf.registerGradient({
    kernelName: "NativeNceScores",
    inputsToSave: ["raw"],
    outputsToSave: [false, false, true, true],
    gradFunc: (dy, saved, attrs) => {
      const [raw, sig, aux] = saved;
      const [dyLoss, dyReg] = dy as tf.Tensor[];
      return {
        raw: () =>
          tf.engine().runKernel(
            "NativeNceScoresGrad",
            { raw, sig, aux, dyLoss, dyReg },
            attrs,
          ) as tf.Tensor,
      };
    },
  });
  const relu = tf.getGradient("Relu");
  if (!relu) return;
  const original = relu.gradFunc;
  tf.registerGradient({
    ...relu,
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved;
      const single = dy as tf.Tensor;
      if (
        tf.getBackend() !== backendName || Array.isArray(dy) || single.dtype !== "float32" ||
        x.dtype !== "float32" || !tf.util.arraysEqual(single.shape, x.shape)
      ) {
        return original(dy, saved, attrs);
      }
      return {
        x: () => tf.engine().runKernel("NativeReluGrad", { dy: single, x }) as tf.Tensor,
      };
    },
  });
  installed = true;
}

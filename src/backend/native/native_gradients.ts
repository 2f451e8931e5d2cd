/**
 * Gradient overrides that let the `native` backend run fused gradient kernels. tfjs gradients are
 * global (one per kernel name, for every backend), so each override checks the active backend:
 * on `native` it runs the fused kernel, on any other backend the original gradient, unchanged.
 *
 * - `Relu`: tfjs builds `dy * cast(step(x))` (Step, Cast, Multiply: two full passes and a
 *   temporary); `native` runs `NativeReluGrad`, one pass, same values.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** Kernel names that exist only on the native backend (registered by it). */
export const NATIVE_ONLY_KERNELS = ["NativeReluGrad", "NativeAdamL2"] as const;

let installed = false;

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

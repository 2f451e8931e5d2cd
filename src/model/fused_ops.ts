/**
 * Layer compositions that a backend may run as one fused kernel. Each function picks the fused
 * kernel when the active backend registers it (the `native` backend does) and otherwise composes
 * the tfjs ops, with the same values: the fused forward is bit-identical to the composition.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/**
 * Whether the active backend registers kernel `name`.
 *
 * @example
 * ```ts
 * if (backendHasKernel("NativeFusedConv2D")) console.log("fused convolutions");
 * ```
 */
export function backendHasKernel(name: string): boolean {
  return tf.getKernel(name, tf.getBackend()) !== undefined;
}

/** Options of {@linkcode convBiasRelu}. */
export interface ConvBiasReluOptions {
  /** Stride (both axes). */
  stride: number;
  /** Per-output-channel bias. */
  bias?: tf.Tensor1D;
  /** Apply ReLU after the bias. */
  relu: boolean;
}

/**
 * `relu?(conv2d(x, w, stride, "valid") + bias?)`, NHWC input, HWIO filter.
 *
 * @example
 * ```ts
 * const y = convBiasRelu(x, w, { stride: 1, bias: b, relu: true });
 * ```
 */
export function convBiasRelu(
  x: tf.Tensor4D,
  w: tf.Tensor4D,
  options: ConvBiasReluOptions,
): tf.Tensor4D {
  const { stride, bias, relu } = options;
  if (x.dtype === "float32" && backendHasKernel("NativeFusedConv2D")) {
    const inputs: tf.NamedTensorMap = bias ? { x, filter: w, bias } : { x, filter: w };
    return tf.engine().runKernel("NativeFusedConv2D", inputs, {
      strides: [stride, stride],
      pad: "valid",
      dataFormat: "NHWC",
      dilations: [1, 1],
      activation: relu ? "relu" : "linear",
    }) as tf.Tensor4D;
  }
  let h = tf.conv2d(x, w, stride, "valid");
  if (bias) h = tf.add(h, bias);
  return relu ? tf.relu(h) : h;
}

/**
 * Layer compositions that a backend may run as one fused kernel. Each function picks the fused
 * kernel when the active backend registers it (the `native` backend does) and otherwise composes
 * the tfjs ops, with the same values: the fused forward is bit-identical to the composition
 * (except that the fused ReLU maps a NaN to 0).
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
  /** A tensor of the output's shape added after the bias (a residual connection). */
  add?: tf.Tensor4D;
  /** Apply ReLU after the bias and the residual. */
  relu: boolean;
}

/**
 * `relu?(conv2d(x, w, stride, "valid") + bias? + add?)`, NHWC input, HWIO filter.
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
  const { stride, bias, add, relu } = options;
  if (x.dtype === "float32" && backendHasKernel("NativeFusedConv2D")) {
    const inputs: tf.NamedTensorMap = { x, filter: w };
    if (bias) inputs.bias = bias;
    if (add) inputs.residual = add;
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
  if (add) h = tf.add(h, add);
  return relu ? tf.relu(h) : h;
}

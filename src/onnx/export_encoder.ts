/**
 * The AMDIM encoder as an ONNX graph, built by walking its {@linkcode encoderPlan} with the
 * trained weights: valid `Conv`s (filters `[kh, kw, cin, cout]` transposed to ONNX's
 * `[cout, cin, kh, kw]`), the 128-px stem's reflect `Pad`, residual shortcuts as a valid
 * `AveragePool` plus a constant channel `Pad`, `Relu`, `Add`, `BatchNormalization` in inference mode
 * with the running statistics (PyTorch's eps 1e-5), and the FakeRKHS heads. The graph computes in
 * NCHW; an NHWC input is transposed on entry and the r5/r7 outputs are transposed back, so every
 * tensor at the graph boundary has the declared layout.
 *
 * Besides r1/r5/r7, an export can expose `pre_bn`: the input of the first active BatchNorm on the
 * path to r1 ({@linkcode preBnTap}; `final.bn` for `useBn: false`), a feature map in the declared
 * layout. Nodes and initializers that no requested output depends on are left out of the file.
 *
 * @module
 */
import { BN_EPS } from "../model/batch_norm.ts";
import type { EncoderConfig } from "../model/config.ts";
import { type EncoderPlan, encoderPlan, type PlanLayer, type PlanModule } from "../model/plan.ts";
import { BenchError } from "../util/errors.ts";
import { attr, OnnxGraphBuilder } from "./onnx_graph.ts";
import { PRE_BN_OUTPUT, preBnTap } from "./pre_bn.ts";

/** Tensor layout at the graph boundary. */
export type OnnxLayout = "nhwc" | "nchw";
/** Encoder outputs an export can expose. */
export type EncoderOutputName = "r1" | "r5" | "r7";
/** Every output an export can expose: the encoder outputs and the pre-BatchNorm tap. */
export type ExportOutputName = EncoderOutputName | typeof PRE_BN_OUTPUT;

/** The format tag written to `metadata_props.format`. */
export const ONNX_ENCODER_FORMAT = "amdim-bench-encoder/1";

/** A weight as stored: row-major values with the tfjs shape (`[kh, kw, cin, cout]` for convs). */
export interface HostTensor {
  shape: readonly number[];
  data: Float32Array;
}

/** Looks a weight or running statistic up by its variable name (e.g. `stem.conv.weight`). */
export type WeightLookup = (name: string) => HostTensor | undefined;

/** Options of {@linkcode exportEncoderOnnx}. */
export interface ExportEncoderOptions {
  /** Input (and r5/r7 output) layout; default `nhwc`. */
  layout?: OnnxLayout;
  /**
   * Outputs to expose, in order; default `["r1"]`. `pre_bn` adds the input of the first active
   * BatchNorm on the path to r1 and records that BatchNorm's name as `metadata_props.preBnLayer`.
   */
  outputs?: readonly ExportOutputName[];
  /** Extra `metadata_props` (run id, spec hash, normalisation, ...). */
  metadata?: Record<string, string>;
}

/** The graph input name for a layout: `input_nhwc` or `input_nchw`. */
export function inputNameFor(layout: OnnxLayout): string {
  return `input_${layout}`;
}

/**
 * Builds the ONNX model of an encoder from its config and weights. Every conv weight, bias and
 * active BatchNorm parameter / running statistic of the plan must be present with its exact
 * shape (a `BenchError` `onnx_export_weights` otherwise).
 *
 * @example
 * ```ts
 * const tensors = await exportNamedTensors(encoder);
 * const byName = new Map(tensors.map((t) => [t.name, t]));
 * const bytes = exportEncoderOnnx(encoder.config, (n) => byName.get(n), { outputs: ["r1", "r7"] });
 * ```
 */
export function exportEncoderOnnx(
  config: EncoderConfig,
  weights: WeightLookup,
  options: ExportEncoderOptions = {},
): Uint8Array {
  const plan = encoderPlan(config);
  const layout = options.layout ?? "nhwc";
  const outputs = options.outputs ?? ["r1"];
  if (outputs.length === 0 || new Set(outputs).size !== outputs.length) {
    throw new BenchError("usage", `outputs must be distinct and non-empty, got [${outputs}]`, {
      location: "--outputs",
      hint: "e.g. --outputs r1 or --outputs r1,r5,r7",
    });
  }
  const g = new OnnxGraphBuilder("amdim_encoder");
  const s = plan.config.inputSize;
  const inputName = inputNameFor(layout);
  g.input({
    name: inputName,
    elementType: "float32",
    shape: layout === "nhwc" ? ["N", s, s, 3] : ["N", 3, s, s],
  });
  let x = inputName;
  if (layout === "nhwc") {
    const t = g.fresh("to_nchw");
    g.node("Transpose", [x], [t], { perm: attr.ints([0, 3, 1, 2]) });
    x = t;
  }
  const tap = outputs.includes(PRE_BN_OUTPUT) ? preBnTap(plan) : null;
  const emit = new Emitter(g, plan, weights, tap?.layer.name ?? null);
  const tapped = new Map<string, string>();
  const o = plan.outputs;
  const taps = new Set([o.r1.source, o.r5.source, o.r7.source]);
  for (const m of plan.trunk) {
    x = emit.module(m, x);
    if (taps.has(m.name)) tapped.set(m.name, x);
  }
  const featureMap = (name: string, value: string, size: number, channels: number) => {
    if (layout === "nhwc") {
      g.node("Transpose", [value], [name], { perm: attr.ints([0, 2, 3, 1]) });
      g.output({ name, elementType: "float32", shape: ["N", size, size, channels] });
    } else {
      g.node("Identity", [value], [name]);
      g.output({ name, elementType: "float32", shape: ["N", channels, size, size] });
    }
  };
  for (const name of outputs) {
    if (name === PRE_BN_OUTPUT) {
      featureMap(name, emit.watched!, tap!.layer.inSize, tap!.layer.inChannels);
      continue;
    }
    const out = o[name];
    if (name === "r1") {
      g.node("Flatten", [tapped.get(out.source)!], ["r1"], { axis: attr.int(1) });
      g.output({ name: "r1", elementType: "float32", shape: ["N", out.channels] });
      continue;
    }
    const head = name === "r5" ? plan.heads.r5 : plan.heads.r7;
    featureMap(name, emit.module(head, tapped.get(out.source)!), out.size, out.channels);
  }
  return g.encode({
    metadata: {
      format: ONNX_ENCODER_FORMAT,
      layout,
      inputName,
      inputSize: String(s),
      outputs: outputs.join(","),
      encoderConfig: JSON.stringify(plan.config),
      ...(tap ? { preBnLayer: tap.layer.name } : {}),
      ...options.metadata,
    },
    docString: `AMDIM encoder ${JSON.stringify(plan.config)}; input ${inputName} float32 ` +
      `${layout === "nhwc" ? `[N,${s},${s},3]` : `[N,3,${s},${s}]`}, normalised; outputs ${
        outputs.join(", ")
      }${tap ? ` (${PRE_BN_OUTPUT}: the input of ${tap.layer.name})` : ""}`,
    pruneUnused: true,
  });
}

class Emitter {
  /** The input of the watched BatchNorm, once emitted. */
  watched: string | undefined;

  constructor(
    readonly g: OnnxGraphBuilder,
    readonly plan: EncoderPlan,
    readonly weights: WeightLookup,
    /** Name of the BatchNorm layer whose input is recorded in `watched`. */
    readonly watch: string | null,
  ) {}

  #weight(name: string, shape: readonly number[]): Float32Array {
    const t = this.weights(name);
    const want = shape.join(",");
    if (!t) {
      throw new BenchError("onnx_export_weights", `missing tensor "${name}"`, {
        location: name,
        hint: "the weights do not belong to this encoder configuration",
      });
    }
    if (t.shape.join(",") !== want || t.data.length !== shape.reduce((a, b) => a * b, 1)) {
      throw new BenchError(
        "onnx_export_weights",
        `tensor "${name}" has shape [${t.shape.join(", ")}], expected [${shape.join(", ")}]`,
        { location: name, hint: "the weights do not belong to this encoder configuration" },
      );
    }
    return t.data;
  }

  conv(l: PlanLayer, x: string): string {
    const g = this.g;
    const k = l.kernel;
    const [cin, cout] = [l.inChannels, l.outChannels];
    let h = x;
    if (l.padding > 0) {
      const p = l.padding;
      const pads = g.int64Initializer(`${l.name}.pads`, [0, 0, p, p, 0, 0, p, p]);
      const padded = g.fresh(`${l.name}.reflect_pad`);
      g.node("Pad", [h, pads], [padded], { mode: attr.string("reflect") }, `${l.name}.pad`);
      h = padded;
    }
    const w = this.#weight(`${l.name}.weight`, [k, k, cin, cout]);
    const oihw = new Float32Array(w.length);
    for (let i = 0; i < k; i++) {
      for (let j = 0; j < k; j++) {
        for (let c = 0; c < cin; c++) {
          for (let o = 0; o < cout; o++) {
            oihw[((o * cin + c) * k + i) * k + j] = w[((i * k + j) * cin + c) * cout + o];
          }
        }
      }
    }
    const inputs = [h, g.floatInitializer(`${l.name}.weight`, [cout, cin, k, k], oihw)];
    if (l.bias) {
      inputs.push(
        g.floatInitializer(`${l.name}.bias`, [cout], this.#weight(`${l.name}.bias`, [cout])),
      );
    }
    const y = g.fresh(l.name);
    g.node("Conv", inputs, [y], {
      kernel_shape: attr.ints([k, k]),
      strides: attr.ints([l.stride, l.stride]),
      pads: attr.ints([0, 0, 0, 0]),
      dilations: attr.ints([1, 1]),
      group: attr.int(1),
    }, l.name);
    return y;
  }

  batchNorm(l: PlanLayer, x: string): string {
    if (l.name === this.watch) this.watched = x;
    if (!l.active) return x;
    const g = this.g;
    const c = l.outChannels;
    const inputs = ["weight", "bias", "running_mean", "running_var"].map((p) =>
      g.floatInitializer(`${l.name}.${p}`, [c], this.#weight(`${l.name}.${p}`, [c]))
    );
    const y = g.fresh(l.name);
    g.node("BatchNormalization", [x, ...inputs], [y], { epsilon: attr.float(BN_EPS) }, l.name);
    return y;
  }

  relu(x: string, name: string): string {
    const y = this.g.fresh(name);
    this.g.node("Relu", [x], [y], {}, name);
    return y;
  }

  add(a: string, b: string, name: string): string {
    const y = this.g.fresh(name);
    this.g.node("Add", [a, b], [y], {}, name);
    return y;
  }

  module(m: PlanModule, x: string): string {
    const find = (suffix: string) => m.layers.find((l) => l.name === `${m.name}.${suffix}`)!;
    const g = this.g;
    switch (m.kind) {
      case "stem_conv":
        return this.relu(this.conv(m.layers[0], x), `${m.name}.relu`);
      case "batchnorm":
        return this.batchNorm(m.layers[0], x);
      case "res_unit": {
        let h = this.conv(find("conv_a"), x);
        h = this.batchNorm(find("bn"), h);
        h = this.conv(find("conv_b"), this.relu(h, `${m.name}.relu`));
        let s = x;
        if (m.kernel !== 1 || m.stride !== 1) {
          const pooled = g.fresh(`${m.name}.shortcut_pool`);
          g.node("AveragePool", [s], [pooled], {
            kernel_shape: attr.ints([m.kernel, m.kernel]),
            strides: attr.ints([m.stride, m.stride]),
            pads: attr.ints([0, 0, 0, 0]),
          }, `${m.name}.shortcut_pool`);
          s = pooled;
        }
        if (m.outChannels > m.inChannels) {
          const pads = g.int64Initializer(`${m.name}.shortcut.pads`, [
            0,
            0,
            0,
            0,
            0,
            m.outChannels - m.inChannels,
            0,
            0,
          ]);
          const padded = g.fresh(`${m.name}.shortcut_pad`);
          g.node(
            "Pad",
            [s, pads],
            [padded],
            { mode: attr.string("constant") },
            `${m.name}.shortcut_pad`,
          );
          s = padded;
        }
        return this.add(h, s, `${m.name}.add`);
      }
      case "rkhs_head": {
        let h = this.conv(find("conv_a"), x);
        h = this.batchNorm(find("bn_hid"), h);
        h = this.conv(find("conv_b"), this.relu(h, `${m.name}.relu`));
        h = this.add(h, this.conv(find("shortcut"), x), `${m.name}.add`);
        return this.batchNorm(find("bn_out"), h);
      }
    }
  }
}

/**
 * A {@linkcode WeightLookup} over host tensors named like the encoder's variables.
 *
 * @example
 * ```ts
 * const lookup = weightLookup(await exportNamedTensors(encoder));
 * ```
 */
export function weightLookup(tensors: Iterable<{ name: string } & HostTensor>): WeightLookup {
  const byName = new Map<string, HostTensor>();
  for (const t of tensors) byName.set(t.name, t);
  return (name) => byName.get(name);
}

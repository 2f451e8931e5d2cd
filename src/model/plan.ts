/**
 * The AMDIM encoder as a pure layer plan: every layer with its kernel, stride, padding, channels,
 * spatial size, parameter count, MACs and init rule. The plan is plain data, so parameter and MAC
 * counts never allocate tensors, and the encoder is built by walking the same plan.
 *
 * Layer lists follow the AMDIM reference encoder (model.py): valid convolutions, avg-pool
 * shortcuts with channel zero-padding, a zero-initialised second conv in every residual unit,
 * r7/r5 taken from the last trunk module with spatial size 7/5, r1 from the final BatchNorm.
 *
 * @module
 */

import { type EncoderConfig, validateEncoderConfig } from "./config.ts";

/** What a plan layer does. */
export type PlanLayerKind = "conv" | "batchnorm" | "relu" | "shortcut" | "add";

/**
 * How a layer's parameters start:
 * - `torch-default`: weight and bias U(±1/√fan_in) (PyTorch's Conv2d/Linear default);
 * - `kaiming-uniform`: weight kaiming_uniform(a=√5) = U(±1/√fan_in), no bias;
 * - `zero`: weight 0 (Fixup-style second conv of a residual branch);
 * - `near-identity`: weight U(−0.01, 0.01) with exactly 1 on the diagonal w[i][i], bias U(±1/√fan_in);
 * - `bn`: BatchNorm weight 1, bias 0, running mean 0, running variance 1;
 * - `none`: no parameters.
 */
export type InitKind =
  | "torch-default"
  | "kaiming-uniform"
  | "zero"
  | "near-identity"
  | "bn"
  | "none";

/** One layer of the plan. */
export interface PlanLayer {
  /** Unique layer name; its variables are `<name>.weight`, `<name>.bias`, `<name>.running_mean`, ... */
  name: string;
  /** Name of the module (residual unit, stem conv, head) the layer belongs to. */
  module: string;
  kind: PlanLayerKind;
  /** Square kernel size (convs, shortcut pooling window); 1 otherwise. */
  kernel: number;
  stride: number;
  /** Spatial padding applied before the layer (only the 128-px stem: 2, reflect). */
  padding: number;
  paddingMode: "none" | "reflect";
  inChannels: number;
  outChannels: number;
  /** Spatial input size (height = width). */
  inSize: number;
  /** Spatial output size (height = width). */
  outSize: number;
  /** Whether a conv has a bias. */
  bias: boolean;
  /** False for a BatchNorm that exists in the reference model but is not applied (use_bn off). */
  active: boolean;
  init: InitKind;
  /** Trainable parameters counted for this layer (0 for dormant BatchNorms). */
  params: number;
  /** Running statistics values (BatchNorm running mean + variance; 0 when dormant). */
  stateValues: number;
  /** Multiply-accumulates per image (convs only: k²·Cin·Cout·Hout·Wout). */
  macs: number;
}

/** What a module of the plan is. */
export type PlanModuleKind = "stem_conv" | "res_unit" | "batchnorm" | "rkhs_head";

/** A module: a stem conv, a residual unit, a standalone BatchNorm or a FakeRKHS head. */
export interface PlanModule {
  /** e.g. `stem.conv`, `block1.unit0`, `maybe_bn`, `final.unit0`, `final.bn`, `head5`. */
  name: string;
  kind: PlanModuleKind;
  kernel: number;
  stride: number;
  inChannels: number;
  outChannels: number;
  inSize: number;
  outSize: number;
  layers: PlanLayer[];
  params: number;
  macs: number;
}

/** An encoder output: which module produces it and its shape per image. */
export interface PlanOutput {
  /** Trunk module whose output feeds the output (through the head for r5 and r7). */
  source: string;
  /** Head module (`head5`, `head7`), or null for r1 (the raw post-BN vector). */
  head: string | null;
  size: number;
  channels: number;
}

/** The whole encoder plan. */
export interface EncoderPlan {
  config: EncoderConfig;
  /** Trunk modules in execution order. */
  trunk: PlanModule[];
  /** The FakeRKHS embedding heads. */
  heads: { r5: PlanModule; r7: PlanModule };
  outputs: { r1: PlanOutput; r5: PlanOutput; r7: PlanOutput };
  /** All layers, trunk first, then head5, then head7. */
  layers: PlanLayer[];
  /** Trainable parameters (dormant BatchNorm affine parameters excluded). */
  params: number;
  /** Affine parameters of dormant BatchNorms (present in the reference state_dict, never used). */
  dormantParams: number;
  /** BatchNorm running-statistics values of the active BatchNorms. */
  stateValues: number;
  /** Forward multiply-accumulates per image. */
  macs: number;
}

/** Output size of a valid (or explicitly padded) window op: floor((h + 2p − k)/s) + 1. */
export function outputSize(size: number, kernel: number, stride: number, padding = 0): number {
  return Math.floor((size + 2 * padding - kernel) / stride) + 1;
}

function layer(p: Partial<PlanLayer> & Pick<PlanLayer, "name" | "module" | "kind">): PlanLayer {
  return {
    kernel: 1,
    stride: 1,
    padding: 0,
    paddingMode: "none",
    inChannels: 0,
    outChannels: 0,
    inSize: 0,
    outSize: 0,
    bias: false,
    active: true,
    init: "none",
    params: 0,
    stateValues: 0,
    macs: 0,
    ...p,
  };
}

function conv(
  module: string,
  name: string,
  o: {
    k: number;
    s: number;
    cin: number;
    cout: number;
    size: number;
    bias: boolean;
    init: InitKind;
    pad?: number;
  },
): PlanLayer {
  const pad = o.pad ?? 0;
  const outSize = outputSize(o.size, o.k, o.s, pad);
  const weights = o.k * o.k * o.cin * o.cout;
  return layer({
    name,
    module,
    kind: "conv",
    kernel: o.k,
    stride: o.s,
    padding: pad,
    paddingMode: pad > 0 ? "reflect" : "none",
    inChannels: o.cin,
    outChannels: o.cout,
    inSize: o.size,
    outSize,
    bias: o.bias,
    init: o.init,
    params: weights + (o.bias ? o.cout : 0),
    macs: weights * outSize * outSize,
  });
}

function bn(module: string, name: string, c: number, size: number, active: boolean): PlanLayer {
  return layer({
    name,
    module,
    kind: "batchnorm",
    inChannels: c,
    outChannels: c,
    inSize: size,
    outSize: size,
    active,
    init: "bn",
    params: active ? 2 * c : 0,
    stateValues: active ? 2 * c : 0,
  });
}

function relu(module: string, name: string, c: number, size: number): PlanLayer {
  return layer({
    name,
    module,
    kind: "relu",
    inChannels: c,
    outChannels: c,
    inSize: size,
    outSize: size,
  });
}

function finish(
  m: Omit<PlanModule, "params" | "macs">,
): PlanModule {
  let params = 0;
  let macs = 0;
  for (const l of m.layers) {
    params += l.params;
    macs += l.macs;
  }
  return { ...m, params, macs };
}

/** Conv3x3 of model.py: optional reflect padding, conv with bias, ReLU (no BN at any call site). */
function stemConv(
  name: string,
  cin: number,
  cout: number,
  k: number,
  s: number,
  pad: number,
  size: number,
): PlanModule {
  const c = conv(name, name, { k, s, cin, cout, size, bias: true, init: "torch-default", pad });
  return finish({
    name,
    kind: "stem_conv",
    kernel: k,
    stride: s,
    inChannels: cin,
    outChannels: cout,
    inSize: size,
    outSize: c.outSize,
    layers: [c, relu(name, `${name}.relu`, cout, c.outSize)],
  });
}

/**
 * ConvResNxN: conv_a k×k/s (no bias) → [BN if useBn] → ReLU → conv_b 1×1 (no bias, zero init),
 * plus shortcut avg_pool(k, s, valid) zero-padded to the output channels. No ReLU after the add.
 */
function resUnit(
  name: string,
  cin: number,
  cout: number,
  k: number,
  s: number,
  size: number,
  useBn: boolean,
): PlanModule {
  if (cout < cin) throw new RangeError(`residual unit ${name}: ${cin} -> ${cout} channels`);
  const a = conv(name, `${name}.conv_a`, {
    k,
    s,
    cin,
    cout,
    size,
    bias: false,
    init: "kaiming-uniform",
  });
  const h = a.outSize;
  const b = conv(name, `${name}.conv_b`, {
    k: 1,
    s: 1,
    cin: cout,
    cout,
    size: h,
    bias: false,
    init: "zero",
  });
  const shortcut = layer({
    name: `${name}.shortcut`,
    module: name,
    kind: "shortcut",
    kernel: k,
    stride: s,
    inChannels: cin,
    outChannels: cout,
    inSize: size,
    outSize: outputSize(size, k, s),
  });
  return finish({
    name,
    kind: "res_unit",
    kernel: k,
    stride: s,
    inChannels: cin,
    outChannels: cout,
    inSize: size,
    outSize: h,
    layers: [
      a,
      bn(name, `${name}.bn`, cout, h, useBn),
      relu(name, `${name}.relu`, cout, h),
      b,
      shortcut,
      layer({
        name: `${name}.add`,
        module: name,
        kind: "add",
        inChannels: cout,
        outChannels: cout,
        inSize: h,
        outSize: h,
      }),
    ],
  });
}

/** ConvResBlock: one unit cin→cout (k, s) then depth−1 units cout→cout 1×1. */
function resBlock(
  name: string,
  cin: number,
  cout: number,
  k: number,
  s: number,
  depth: number,
  size: number,
  useBn: boolean,
): PlanModule[] {
  const units = [resUnit(`${name}.unit0`, cin, cout, k, s, size, useBn)];
  for (let i = 1; i < depth; i++) {
    units.push(resUnit(`${name}.unit${i}`, cout, cout, 1, 1, units[i - 1].outSize, useBn));
  }
  return units;
}

function bnModule(name: string, c: number, size: number, active: boolean): PlanModule {
  return finish({
    name,
    kind: "batchnorm",
    kernel: 1,
    stride: 1,
    inChannels: c,
    outChannels: c,
    inSize: size,
    outSize: size,
    layers: [bn(name, name, c, size, active)],
  });
}

/**
 * FakeRKHSConvNet: BN_out( conv_b( ReLU( [BN_hid]( conv_a(x) ) ) ) + shortcut(x) ), all 1×1.
 * conv_a kaiming-uniform, conv_b zero, shortcut with bias and near-identity init when cout ≥ cin.
 */
function rkhsHead(
  name: string,
  cin: number,
  cout: number,
  size: number,
  useBn: boolean,
): PlanModule {
  return finish({
    name,
    kind: "rkhs_head",
    kernel: 1,
    stride: 1,
    inChannels: cin,
    outChannels: cout,
    inSize: size,
    outSize: size,
    layers: [
      conv(name, `${name}.conv_a`, {
        k: 1,
        s: 1,
        cin,
        cout,
        size,
        bias: false,
        init: "kaiming-uniform",
      }),
      bn(name, `${name}.bn_hid`, cout, size, useBn),
      relu(name, `${name}.relu`, cout, size),
      conv(name, `${name}.conv_b`, {
        k: 1,
        s: 1,
        cin: cout,
        cout,
        size,
        bias: false,
        init: "zero",
      }),
      conv(name, `${name}.shortcut`, {
        k: 1,
        s: 1,
        cin,
        cout,
        size,
        bias: true,
        init: cout >= cin ? "near-identity" : "torch-default",
      }),
      layer({
        name: `${name}.add`,
        module: name,
        kind: "add",
        inChannels: cout,
        outChannels: cout,
        inSize: size,
        outSize: size,
      }),
      bn(name, `${name}.bn_out`, cout, size, true),
    ],
  });
}

/**
 * Builds the layer plan of an encoder. Pure: no tensors are allocated.
 *
 * @example
 * ```ts
 * const plan = encoderPlan({ inputSize: 32, ndf: 128, nRkhs: 1024, nDepth: 3, useBn: false });
 * console.log(plan.params, plan.macs, plan.outputs.r7.source); // 20033024 ... "maybe_bn"
 * ```
 */
export function encoderPlan(config: EncoderConfig): EncoderPlan {
  const cfg = validateEncoderConfig(config);
  const { ndf, nRkhs, nDepth, useBn } = cfg;
  const trunk: PlanModule[] = [];
  const last = () => trunk[trunk.length - 1];
  const push = (...m: PlanModule[]) => trunk.push(...m);
  let wide: number;
  if (cfg.inputSize === 32) {
    push(stemConv("stem.conv", 3, ndf, 3, 1, 0, 32));
    push(resUnit("block0.unit0", ndf, ndf, 1, 1, last().outSize, useBn));
    push(...resBlock("block1", ndf, 2 * ndf, 4, 2, nDepth, last().outSize, useBn));
    push(...resBlock("block2", 2 * ndf, 4 * ndf, 2, 2, nDepth, last().outSize, useBn));
    wide = 4 * ndf;
  } else {
    if (cfg.inputSize === 64) {
      push(stemConv("stem.conv", 3, ndf, 3, 1, 0, 64));
    } else {
      push(stemConv("stem.conv0", 3, ndf, 5, 2, 2, 128));
      push(stemConv("stem.conv1", ndf, ndf, 3, 1, 0, last().outSize));
    }
    push(...resBlock("block1", ndf, 2 * ndf, 4, 2, nDepth, last().outSize, useBn));
    push(...resBlock("block2", 2 * ndf, 4 * ndf, 4, 2, nDepth, last().outSize, useBn));
    push(...resBlock("block3", 4 * ndf, 8 * ndf, 2, 2, nDepth, last().outSize, useBn));
    wide = 8 * ndf;
  }
  const firstK3 = cfg.inputSize === 32 ? 3 : 4;
  push(bnModule("maybe_bn", wide, last().outSize, useBn));
  push(...resBlock(`block${firstK3}`, wide, wide, 3, 1, nDepth, last().outSize, useBn));
  push(...resBlock(`block${firstK3 + 1}`, wide, wide, 3, 1, nDepth, last().outSize, useBn));
  push(resUnit("final.unit0", wide, nRkhs, 3, 1, last().outSize, useBn));
  push(bnModule("final.bn", nRkhs, last().outSize, true));

  // model.py keeps, for each of the sizes 1, 5 and 7, the LAST module with that output size.
  const lastWithSize = (size: number): PlanModule => {
    for (let i = trunk.length - 1; i >= 0; i--) if (trunk[i].outSize === size) return trunk[i];
    throw new RangeError(`no trunk module with spatial size ${size} for input ${cfg.inputSize}`);
  };
  const src1 = lastWithSize(1);
  const src5 = lastWithSize(5);
  const src7 = lastWithSize(7);
  const head5 = rkhsHead("head5", src5.outChannels, nRkhs, 5, useBn);
  const head7 = rkhsHead("head7", src7.outChannels, nRkhs, 7, useBn);

  const layers = [...trunk, head5, head7].flatMap((m) => m.layers);
  let params = 0;
  let macs = 0;
  let dormantParams = 0;
  let stateValues = 0;
  for (const l of layers) {
    params += l.params;
    macs += l.macs;
    stateValues += l.stateValues;
    if (l.kind === "batchnorm" && !l.active) dormantParams += 2 * l.inChannels;
  }
  return {
    config: cfg,
    trunk,
    heads: { r5: head5, r7: head7 },
    outputs: {
      r1: { source: src1.name, head: null, size: 1, channels: src1.outChannels },
      r5: { source: src5.name, head: head5.name, size: 5, channels: nRkhs },
      r7: { source: src7.name, head: head7.name, size: 7, channels: nRkhs },
    },
    layers,
    params,
    dormantParams,
    stateValues,
    macs,
  };
}

/**
 * Trainable parameters of the encoder (trunk + both FakeRKHS heads, dormant BatchNorm affine
 * parameters excluded), computed from the plan without allocating.
 *
 * @example
 * ```ts
 * countParameters({ inputSize: 32, ndf: 128, nRkhs: 1024, nDepth: 3, useBn: false }); // 20033024
 * ```
 */
export function countParameters(config: EncoderConfig): number {
  return encoderPlan(config).params;
}

/**
 * Forward multiply-accumulates per image (all convs, residual 1×1 convs and heads included).
 *
 * @example
 * ```ts
 * countMacs({ inputSize: 32, ndf: 128, nRkhs: 1024, nDepth: 3, useBn: false }); // ≈ 0.58e9
 * ```
 */
export function countMacs(config: EncoderConfig): number {
  return encoderPlan(config).macs;
}

/**
 * Renders the plan as a fixed-width text table (one line per layer, then totals).
 *
 * @example
 * ```ts
 * console.log(formatPlan(encoderPlan(NAMED_ENCODERS.tiny)));
 * ```
 */
export function formatPlan(plan: EncoderPlan): string {
  const rows = [["layer", "kind", "k", "s", "pad", "in C", "out C", "in", "out", "params", "MACs"]];
  for (const l of plan.layers) {
    if (l.kind === "relu" || l.kind === "add") continue;
    rows.push([
      l.name + (l.kind === "batchnorm" && !l.active ? " (dormant)" : ""),
      l.kind,
      String(l.kernel),
      String(l.stride),
      l.padding ? `${l.padding} ${l.paddingMode}` : "0",
      String(l.inChannels),
      String(l.outChannels),
      String(l.inSize),
      String(l.outSize),
      String(l.params),
      String(l.macs),
    ]);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const lines = rows.map((r) =>
    r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ")
  );
  const o = plan.outputs;
  lines.push(
    `params ${plan.params} (dormant BN affine ${plan.dormantParams}), running-stat values ${plan.stateValues}, MACs/img ${plan.macs}`,
    `r1 <- ${o.r1.source}; r5 <- ${o.r5.source} -> ${o.r5.head}; r7 <- ${o.r7.source} -> ${o.r7.head}`,
  );
  return lines.join("\n");
}

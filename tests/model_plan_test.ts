import {
  countMacs,
  countParameters,
  type EncoderConfig,
  encoderPlan,
  formatPlan,
  NAMED_ENCODERS,
  resolveEncoderConfig,
  validateEncoderConfig,
} from "../src/model/mod.ts";
import { BenchError } from "../src/util/errors.ts";
import { assert, assertEquals, assertThrows } from "../src/testing/asserts.ts";

const cfg = (
  inputSize: 32 | 64 | 128,
  ndf: number,
  nRkhs: number,
  nDepth: number,
  useBn = false,
): EncoderConfig => ({
  inputSize,
  ndf,
  nRkhs,
  nDepth,
  useBn,
});

/**
 * Closed-form parameter count written independently of the plan: conv weights k²·Cin·Cout,
 * biases only on the stem convs and the FakeRKHS shortcut, BN 2·C for active BNs only.
 */
function closedFormParams(c: EncoderConfig): number {
  const { ndf, nRkhs: R, nDepth: d, useBn } = c;
  const bnP = (ch: number) => (useBn ? 2 * ch : 0);
  const unit = (k: number, cin: number, cout: number) =>
    k * k * cin * cout + cout * cout + bnP(cout);
  const block = (cin: number, cout: number, k: number) =>
    unit(k, cin, cout) + (d - 1) * unit(1, cout, cout);
  const head = (ch: number) => ch * R + bnP(R) + R * R + (ch * R + R) + 2 * R;
  let total = 0;
  let wide: number;
  if (c.inputSize === 32) {
    total += 27 * ndf + ndf + unit(1, ndf, ndf) + block(ndf, 2 * ndf, 4) +
      block(2 * ndf, 4 * ndf, 2);
    wide = 4 * ndf;
  } else {
    total += c.inputSize === 64 ? 27 * ndf + ndf : 75 * ndf + ndf + 9 * ndf * ndf + ndf;
    total += block(ndf, 2 * ndf, 4) + block(2 * ndf, 4 * ndf, 4) + block(4 * ndf, 8 * ndf, 2);
    wide = 8 * ndf;
  }
  total += bnP(wide) + 2 * block(wide, wide, 3) + unit(3, wide, R) + 2 * R + 2 * head(wide);
  return total;
}

/** The reference table (amdim.md §1.3): params in M as printed, MACs in G as printed. */
const TABLE: Array<{ c: EncoderConfig; params: string; macs: string | null }> = [
  { c: cfg(32, 128, 1024, 3), params: "20.0", macs: "0.58" },
  { c: cfg(32, 256, 2048, 10), params: "127.8", macs: "4.2" },
  { c: cfg(64, 192, 1536, 8), params: "208.1", macs: "10.2" },
  { c: cfg(128, 128, 1024, 6), params: "78.7", macs: null },
  { c: cfg(128, 192, 1536, 8), params: "208.4", macs: "11.5" },
  { c: cfg(128, 256, 2048, 10), params: "426.1", macs: null },
  { c: cfg(128, 320, 2560, 10), params: "665.8", macs: "36.8" },
];

/** Millions as the table prints them: to two decimals, then to one (665,747,520 -> 665.75 -> 665.8). */
function tableMillions(n: number): string {
  return (Math.round(n / 1e4) / 100).toFixed(1);
}

Deno.test("model plan: parameter counts reproduce the reference table", () => {
  for (const row of TABLE) {
    const p = countParameters(row.c);
    assertEquals(p, closedFormParams(row.c), `closed form ${JSON.stringify(row.c)}`);
    assertEquals(tableMillions(p), row.params, `params ${JSON.stringify(row.c)}: ${p}`);
  }
  // Exact values for the record (the table rows above, in order).
  assertEquals(TABLE.map((r) => countParameters(r.c)), [
    20033024,
    127818752,
    208078080,
    78743168,
    208419264,
    426085632,
    665747520,
  ]);
});

Deno.test("model plan: MACs per image reproduce the reference table", () => {
  for (const row of TABLE) {
    if (row.macs === null) continue;
    const decimals = row.macs.split(".")[1].length;
    assertEquals((countMacs(row.c) / 1e9).toFixed(decimals), row.macs, JSON.stringify(row.c));
  }
  // MACs of one layer by hand: the 32-px stem is 3·3·3·ndf·30·30.
  const plan = encoderPlan(cfg(32, 128, 1024, 3));
  assertEquals(plan.layers[0].macs, 27 * 128 * 900);
});

Deno.test("model plan: closed form agrees for small, deep and useBn configs", () => {
  for (const s of [32, 64, 128] as const) {
    for (const [ndf, r, d] of [[4, 32, 1], [8, 64, 2], [16, 200, 5]]) {
      for (const useBn of [false, true]) {
        const c = cfg(s, ndf, r, d, useBn);
        assertEquals(countParameters(c), closedFormParams(c), JSON.stringify(c));
      }
    }
  }
});

Deno.test("model plan: spatial sizes, taps and layer fields follow the reference layer lists", () => {
  const sizes = (s: 32 | 64 | 128) =>
    encoderPlan(cfg(s, 8, 64, 2)).trunk.filter((m) => !m.name.includes("unit1")).map((m) =>
      `${m.name}:${m.outSize}`
    );
  assertEquals(sizes(32), [
    "stem.conv:30",
    "block0.unit0:30",
    "block1.unit0:14",
    "block2.unit0:7",
    "maybe_bn:7",
    "block3.unit0:5",
    "block4.unit0:3",
    "final.unit0:1",
    "final.bn:1",
  ]);
  const tail = [
    "block1.unit0:30",
    "block2.unit0:14",
    "block3.unit0:7",
    "maybe_bn:7",
    "block4.unit0:5",
    "block5.unit0:3",
    "final.unit0:1",
    "final.bn:1",
  ];
  assertEquals(sizes(64), ["stem.conv:62", ...tail]);
  assertEquals(sizes(128), ["stem.conv0:64", "stem.conv1:62", ...tail]);

  for (const s of [32, 64, 128] as const) {
    const p = encoderPlan(cfg(s, 8, 64, 3));
    // The last module of a given size: r7 after the MaybeBN, r5 after the last unit of the first k3 block.
    assertEquals(p.outputs.r7.source, "maybe_bn");
    assertEquals(p.outputs.r5.source, s === 32 ? "block3.unit2" : "block4.unit2");
    assertEquals(p.outputs.r1.source, "final.bn");
    assertEquals(p.heads.r5.inChannels, s === 32 ? 32 : 64);
    assertEquals(p.heads.r7.outChannels, 64);
    // Every layer's input size is the output size of what feeds it.
    for (const m of p.trunk) {
      for (const l of m.layers) {
        assert(l.outSize >= 1 && l.inSize >= l.outSize, l.name);
        if (l.kind !== "conv" && l.kind !== "shortcut") assertEquals(l.inSize, l.outSize, l.name);
      }
    }
    const names = p.layers.map((l) => l.name);
    assertEquals(new Set(names).size, names.length, "layer names are unique");
  }
  const p128 = encoderPlan(cfg(128, 8, 64, 1));
  const stem0 = p128.layers.find((l) => l.name === "stem.conv0")!;
  assertEquals([stem0.kernel, stem0.stride, stem0.padding, stem0.paddingMode, stem0.bias], [
    5,
    2,
    2,
    "reflect",
    true,
  ]);
  const unit = p128.trunk.find((m) => m.name === "block1.unit0")!;
  assertEquals(unit.layers.map((l) => `${l.kind}:${l.init}:${l.bias}`), [
    "conv:kaiming-uniform:false",
    "batchnorm:bn:false",
    "relu:none:false",
    "conv:zero:false",
    "shortcut:none:false",
    "add:none:false",
  ]);
  assertEquals(unit.layers[1].active, false);
  assertEquals(p128.heads.r5.layers.map((l) => `${l.kind}:${l.init}:${l.active}`), [
    "conv:kaiming-uniform:true",
    "batchnorm:bn:false",
    "relu:none:true",
    "conv:zero:true",
    "conv:near-identity:true",
    "add:none:true",
    "batchnorm:bn:true",
  ]);
  assert(formatPlan(p128).includes("r7 <- maybe_bn -> head7"));
});

Deno.test("model plan: dormant BN affine params are reported, not counted", () => {
  const off = encoderPlan(cfg(32, 8, 64, 2, false));
  const on = encoderPlan(cfg(32, 8, 64, 2, true));
  assertEquals(on.params, off.params + off.dormantParams);
  assertEquals(on.dormantParams, 0);
  // Active BNs with useBn off: final.bn and the two bn_out (running mean + var each).
  assertEquals(off.stateValues, 3 * 2 * 64);
});

Deno.test("model config: named presets and validation errors", () => {
  assertEquals(NAMED_ENCODERS.tiny, {
    inputSize: 32,
    ndf: 32,
    nRkhs: 256,
    nDepth: 3,
    useBn: false,
  });
  assertEquals(NAMED_ENCODERS.small, {
    inputSize: 32,
    ndf: 64,
    nRkhs: 512,
    nDepth: 3,
    useBn: false,
  });
  for (const name of Object.keys(NAMED_ENCODERS)) {
    const c = resolveEncoderConfig(name);
    assert(countParameters(c) > 0, name);
  }
  assertEquals(countParameters(NAMED_ENCODERS["cifar10-amdim"]), 20033024);
  assertEquals(countParameters(NAMED_ENCODERS["amdim-large"]), 665747520);
  assertEquals(resolveEncoderConfig("tiny", { ndf: 16 }).ndf, 16);

  const bad = (v: unknown, loc: string) => {
    const e = assertThrows(() => validateEncoderConfig(v, "spec.jsonc: encoder"), BenchError);
    assertEquals(e.code, "encoder_config_invalid");
    assertEquals(e.location, loc);
    assert(e.hint, "has a hint");
  };
  const ok = { inputSize: 32, ndf: 8, nRkhs: 32, nDepth: 1, useBn: false };
  bad(null, "spec.jsonc: encoder");
  bad({ ...ok, inputSize: 96 }, "spec.jsonc: encoder.inputSize");
  bad({ ...ok, ndf: 0 }, "spec.jsonc: encoder.ndf");
  bad({ ...ok, ndf: 2.5 }, "spec.jsonc: encoder.ndf");
  bad({ ...ok, nDepth: "3" }, "spec.jsonc: encoder.nDepth");
  bad({ ...ok, useBn: 0 }, "spec.jsonc: encoder.useBn");
  bad({ ...ok, extra: 1 }, "spec.jsonc: encoder.extra");
  bad({ inputSize: 32, ndf: 8, nRkhs: 32, useBn: false }, "spec.jsonc: encoder.nDepth");
  bad({ ...ok, nRkhs: 31 }, "spec.jsonc: encoder.nRkhs"); // 32 px: nRkhs >= 4·ndf
  bad({ ...ok, inputSize: 64 }, "spec.jsonc: encoder.nRkhs"); // 64 px: nRkhs >= 8·ndf
  const e = assertThrows(() => resolveEncoderConfig("huge"), BenchError);
  assertEquals(e.code, "encoder_config_invalid");
});

import * as tf from "@tensorflow/tfjs";
import { exportNamedTensors } from "../src/model/named_tensors.ts";
import { encoderPlan } from "../src/model/plan.ts";
import type { EncoderConfig } from "../src/model/config.ts";
import {
  exportEncoderOnnx,
  ONNX_ENCODER_FORMAT,
  weightLookup,
} from "../src/onnx/export_encoder.ts";
import {
  checkOnnxParity,
  exportTrainedEncoder,
  inferEncoderConfig,
} from "../src/onnx/export_run.ts";
import { onnx, readOnnxMetadata } from "../src/onnx/onnx_graph.ts";
import {
  addGroup,
  decodeCheckpoint,
  encodeCheckpoint,
  variablesOf,
} from "../src/train/checkpoint.ts";
import { BenchError } from "../src/util/errors.ts";
import {
  assert,
  assertEquals,
  assertLess,
  assertStringIncludes,
  assertThrows,
} from "../src/testing/asserts.ts";
import { perturbedEncoder } from "./helpers/onnx_fixtures.ts";

await tf.setBackend("cpu");

const TOL = 1e-4;

const CONFIGS: EncoderConfig[] = [
  { inputSize: 32, ndf: 8, nRkhs: 32, nDepth: 2, useBn: false },
  { inputSize: 64, ndf: 4, nRkhs: 32, nDepth: 1, useBn: true },
  { inputSize: 128, ndf: 4, nRkhs: 32, nDepth: 1, useBn: false },
];

for (const cfg of CONFIGS) {
  Deno.test(`onnx export: ${cfg.inputSize}px (ndf ${cfg.ndf}, useBn ${cfg.useBn}) matches tfjs in both layouts`, async () => {
    const enc = perturbedEncoder(cfg, 11);
    try {
      const lookup = weightLookup(await exportNamedTensors(enc));
      for (const layout of ["nhwc", "nchw"] as const) {
        const bytes = exportEncoderOnnx(cfg, lookup, { layout, outputs: ["r1", "r5", "r7"] });
        const report = await checkOnnxParity(enc, bytes, {
          outputs: ["r1", "r5", "r7"],
          layout,
          n: 3,
        });
        for (const o of ["r1", "r5", "r7"]) {
          assertLess(report.maxRelDiff[o], TOL, `${layout} ${o}: ${report.maxAbsDiff[o]}`);
        }
        // The outputs carry signal: a broken graph that outputs zeros would fail here.
        const model = onnx.ModelProto.decode(bytes);
        assertEquals(model.graph!.input!.map((i) => i.name), [`input_${layout}`]);
        const dims = model.graph!.input![0].type!.tensorType!.shape!.dim!.map((d) =>
          d.dimParam || Number(d.dimValue)
        );
        const s = cfg.inputSize;
        assertEquals(dims, layout === "nhwc" ? ["N", s, s, 3] : ["N", 3, s, s]);
        assertEquals(model.graph!.output!.map((o) => o.name), ["r1", "r5", "r7"]);
        assertEquals(Number(model.opsetImport![0].version), 17);
        const ops = new Set(model.graph!.node!.map((n) => n.opType));
        for (const op of ["Conv", "AveragePool", "Pad", "Relu", "Add", "BatchNormalization"]) {
          assert(ops.has(op), `graph has ${op}`);
        }
        if (cfg.inputSize === 128) {
          const reflect = model.graph!.node!.filter((n) =>
            n.opType === "Pad" &&
            n.attribute!.some((a) => new TextDecoder().decode(a.s!) === "reflect")
          );
          assertEquals(reflect.length, 1, "the 128-px stem has one reflect Pad");
        }
        const meta = readOnnxMetadata(bytes);
        assertEquals(meta.format, ONNX_ENCODER_FORMAT);
        assertEquals(meta.layout, layout);
        assertEquals(JSON.parse(meta.encoderConfig), cfg);
      }
    } finally {
      enc.dispose();
    }
  });
}

Deno.test("onnx export: the check fails on wrong weights (it is not vacuous)", async () => {
  const cfg = CONFIGS[0];
  const enc = perturbedEncoder(cfg, 11);
  const other = perturbedEncoder(cfg, 12);
  try {
    const bytes = exportEncoderOnnx(cfg, weightLookup(await exportNamedTensors(other)), {});
    const report = await checkOnnxParity(enc, bytes, { outputs: ["r1"], layout: "nhwc", n: 2 });
    assert(report.maxRelDiff.r1 > 1e-2, `different weights differ (${report.maxRelDiff.r1})`);
  } finally {
    enc.dispose();
    other.dispose();
  }
});

Deno.test("onnx export: from a safetensors checkpoint, with the run's metadata", async () => {
  const cfg = CONFIGS[0];
  const enc = perturbedEncoder(cfg, 5);
  try {
    const tensors = await addGroup(new Map(), "encoder", variablesOf(enc.params));
    await addGroup(tensors, "encoderState", variablesOf(enc.state));
    const bytes = encodeCheckpoint({
      tensors,
      meta: {
        runId: "smoke-20250101T000000-abcdef",
        specHash: "ab".repeat(32),
        step: 40,
        epoch: 2,
        stepInEpoch: 0,
        stepsPerEpoch: 16,
        status: "final",
      },
    });
    const checkpoint = decodeCheckpoint(bytes, "final.safetensors");
    const hostTensors = new Map(
      [...checkpoint.tensors].map(([k, t]) => [k.replace(/^encoder(State)?\//, ""), {
        shape: t.shape,
        data: t.data as Float32Array,
      }]),
    );
    const config = inferEncoderConfig(new Map([...hostTensors].map(([k, v]) => [k, v.shape])));
    assertEquals(config, cfg);
    const w = {
      config,
      tensors: hostTensors,
      checkpointPath: "final.safetensors",
      checkpointSha256: "cd".repeat(32),
      checkpoint,
      spec: null,
    };
    const out = exportTrainedEncoder(w, { policy: "cifar", outputs: ["r1", "r7"] });
    const meta = readOnnxMetadata(out.bytes);
    assertEquals(meta.runId, "smoke-20250101T000000-abcdef");
    assertEquals(meta.specHash, "ab".repeat(32));
    assertEquals(meta.step, "40");
    assertEquals(meta.inputSize, "32");
    assertEquals(JSON.parse(meta.normalization).mean.length, 3);
    const report = await checkOnnxParity(enc, out.bytes, { outputs: ["r1", "r7"], layout: "nhwc" });
    assertLess(report.maxRelDiff.r1, TOL);
    assertLess(report.maxRelDiff.r7, TOL);
    // A checkpoint of another config is refused with the tensor named.
    const wrong = { ...w, config: { ...cfg, nDepth: 1 } };
    const e = assertThrows(() => exportTrainedEncoder(wrong), BenchError);
    assertStringIncludes(e.message, "block1.unit1");
  } finally {
    enc.dispose();
  }
});

Deno.test("onnx export: a missing or mis-shaped weight is a clear error", () => {
  const cfg = CONFIGS[0];
  const plan = encoderPlan(cfg);
  const e1 = assertThrows(() => exportEncoderOnnx(cfg, () => undefined), BenchError);
  assertStringIncludes(e1.message, `missing tensor "${plan.layers[0].name}.weight"`);
  const e2 = assertThrows(
    () => exportEncoderOnnx(cfg, () => ({ shape: [1], data: new Float32Array(1) })),
    BenchError,
  );
  assertStringIncludes(e2.message, "has shape [1], expected [3, 3, 3, 8]");
});

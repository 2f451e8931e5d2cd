import * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
import { FeatureCache } from "../src/eval/features.ts";
import { runProtocols } from "../src/eval/run_protocols.ts";
import { exportNamedTensors } from "../src/model/named_tensors.ts";
import { exportEncoderOnnx, weightLookup } from "../src/onnx/export_encoder.ts";
import { runOnnxBenchmark } from "../src/onnx/onnx_bench.ts";
import { resolveFeatureExtractor } from "../src/onnx/select_extractor.ts";
import { readRecord } from "../src/report/record.ts";
import type { BackendDescription } from "../src/report/record_types.ts";
import { loadSpec } from "../src/spec/load.ts";
import { openSpecData } from "../src/train/run_benchmark.ts";
import { BenchError } from "../src/util/errors.ts";
import {
  assert,
  assertEquals,
  assertRejects,
  assertStringIncludes,
} from "../src/testing/asserts.ts";
import { perturbedEncoder } from "./helpers/onnx_fixtures.ts";

await tf.setBackend("cpu");

const backend: BackendDescription = {
  name: "cpu",
  requested: "cpu",
  tfjsVersion: tf.version.tfjs,
  device: "test",
  threads: 1,
  details: {},
};

Deno.test("onnx bench: an ONNX encoder scores exactly what tfjs scores with the same weights", async () => {
  const { spec } = await loadSpec("smoke");
  const featureSpec = {
    ...spec,
    eval: spec.eval.filter((e) => e.protocol === "linear-probe" || e.protocol === "knn"),
  };
  const encoder = perturbedEncoder(spec.encoder, 3);
  const { train, test } = await openSpecData(spec, {});
  const tmp = await Deno.makeTempDir({ prefix: "onnx-bench-" });
  try {
    // 1. The same weights through tfjs, the path of a pretrained run.
    const ctx = {
      spec: featureSpec,
      encoder,
      heads: null,
      train,
      test,
      cache: new FeatureCache(),
      modelKey: "tfjs",
    };
    const viaTfjs = await runProtocols(ctx);
    const expected = Object.assign({}, ...viaTfjs.results.map((r) => r.metrics));
    assert(Object.keys(expected).includes("linear-probe.top1"));
    assert(Object.keys(expected).includes("knn.top1"));

    // 2. The run's own extractor switched to ONNX Runtime gives the same metrics.
    const fx = await resolveFeatureExtractor(encoder, { requested: "onnxruntime", backend: "cpu" });
    try {
      assertEquals(fx.extractor.name, "onnxruntime");
      assertEquals(fx.details.featureExtractor, "onnxruntime");
      const viaOrt = await runProtocols({
        ...ctx,
        cache: new FeatureCache(),
        featureExtractor: fx.extractor,
      });
      assertEquals(Object.assign({}, ...viaOrt.results.map((r) => r.metrics)), expected);
    } finally {
      await fx.release();
    }

    // 3. The same weights as an NCHW .onnx file through `bench --encoder`'s library function.
    const path = join(tmp, "encoder.onnx");
    await Deno.writeFile(
      path,
      exportEncoderOnnx(spec.encoder, weightLookup(await exportNamedTensors(encoder)), {
        layout: "nchw",
        outputs: ["r1", "r7"],
      }),
    );
    const { record, recordPath } = await runOnnxBenchmark({
      target: "smoke",
      encoderPath: path,
      resultsDir: tmp,
      backend,
    });
    assertEquals(record.status, "complete");
    assertEquals(record.metrics, expected);
    assertEquals(record.encoder?.source, "onnx");
    assertEquals(record.encoder?.layout, "nchw");
    assertEquals(record.encoder?.inputName, "input_nchw");
    assertEquals(record.encoder?.outputName, "r1");
    assertEquals(record.encoder?.featureDim, spec.encoder.nRkhs);
    assertEquals(record.encoder?.sha256.length, 64);
    assertEquals(record.encoder?.skipped?.map((s) => s.protocol), ["amdim-online"]);
    assertStringIncludes(record.encoder!.skipped![0].reason, "online classifier heads");
    assertEquals(record.environment.backend.details.featureExtractor, "onnxruntime");
    assertEquals(record.phases.pretrain.steps, 0);
    // Written once, valid against the record schema.
    assertEquals((await readRecord(recordPath)).metrics, expected);
  } finally {
    encoder.dispose();
    train.close();
    test.close();
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("onnx bench: auto picks by backend rule (not by timing) and records why", async () => {
  const cfg = { inputSize: 32 as const, ndf: 8, nRkhs: 32, nDepth: 1, useBn: false };
  const encoder = perturbedEncoder(cfg, 4);
  try {
    for (const [backend, expected] of [["cpu", "onnxruntime"], ["webgpu", "tfjs"]] as const) {
      const fx = await resolveFeatureExtractor(encoder, { requested: "auto", backend, batch: 8 });
      try {
        assert(fx.measured !== null);
        assertEquals(fx.extractor.name, expected);
        assertStringIncludes(fx.reason, backend);
        assertStringIncludes(fx.reason, "images/s");
        assert(Number(fx.details.featureTfjsImagesPerSecond) > 0);
        assert(Number(fx.details.featureOrtImagesPerSecond) > 0);
      } finally {
        await fx.release();
      }
    }
  } finally {
    encoder.dispose();
  }
});

Deno.test("onnx bench: a model that does not fit the spec is refused before any run folder", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "onnx-bench-" });
  try {
    const cfg = { inputSize: 64 as const, ndf: 4, nRkhs: 32, nDepth: 1, useBn: false };
    const encoder = perturbedEncoder(cfg, 4);
    const path = join(tmp, "enc64.onnx");
    try {
      await Deno.writeFile(
        path,
        exportEncoderOnnx(cfg, weightLookup(await exportNamedTensors(encoder))),
      );
    } finally {
      encoder.dispose();
    }
    const e = await assertRejects(
      () => runOnnxBenchmark({ target: "smoke", encoderPath: path, resultsDir: tmp, backend }),
      BenchError,
    );
    assertStringIncludes(
      e.message,
      'input "input_nhwc": expected [N,32,32,3] float32 (nhwc), got float32 [N,64,64,3]',
    );
    let runs = 0;
    try {
      for await (const _ of Deno.readDir(join(tmp, "runs"))) runs++;
    } catch {
      runs = 0;
    }
    assertEquals(runs, 0);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

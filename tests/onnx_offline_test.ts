import * as tf from "@tensorflow/tfjs";
import { FeatureCache } from "../src/eval/features.ts";
import { type R1Source, tfjsR1Source } from "../src/eval/r1_source.ts";
import { runProtocols } from "../src/eval/run_protocols.ts";
import type { EncoderConfig } from "../src/model/config.ts";
import { NAMED_ENCODERS } from "../src/model/config.ts";
import type { Encoder } from "../src/model/encoder.ts";
import { exportNamedTensors } from "../src/model/named_tensors.ts";
import { discardStateUpdates } from "../src/model/types.ts";
import { exportEncoderOnnx, weightLookup } from "../src/onnx/export_encoder.ts";
import { onnx, readOnnxMetadata } from "../src/onnx/onnx_graph.ts";
import { openOrtR1Source, ortR1Support } from "../src/onnx/ort_r1_source.ts";
import { openOnnxEncoder } from "../src/onnx/ort_session.ts";
import { PRE_BN_OUTPUT, preBnTap } from "../src/onnx/pre_bn.ts";
import { resolveFeatureExtractor } from "../src/onnx/select_extractor.ts";
import { maxRelativeDifference } from "../src/onnx/throughput.ts";
import { loadSpec } from "../src/spec/load.ts";
import type { Spec } from "../src/spec/types.ts";
import { openSpecData } from "../src/train/run_benchmark.ts";
import { BenchError } from "../src/util/errors.ts";
import { Rng } from "../src/util/rng.ts";
import {
  assert,
  assertEquals,
  assertLess,
  assertRejects,
  assertStringIncludes,
} from "../src/testing/asserts.ts";
import { perturbedEncoder } from "./helpers/onnx_fixtures.ts";

await tf.setBackend("cpu");

const TOL = 1e-4;
const SMALL: EncoderConfig = { inputSize: 32, ndf: 8, nRkhs: 32, nDepth: 2, useBn: false };
const WITH_BN: EncoderConfig = { inputSize: 32, ndf: 4, nRkhs: 16, nDepth: 1, useBn: true };

function images(n: number, size: number, seed: number): Float32Array {
  return new Rng(seed, "onnx-offline-images").fillUniform(
    new Float32Array(n * size * size * 3),
    -1,
    1,
  );
}

function stateOf(encoder: Encoder): number[][] {
  return encoder.state.map((v) => Array.from(v.variable.dataSync()));
}

/** Delegates to `source` and keeps a host copy of every r1 it returns. */
function recording(source: R1Source): { source: R1Source; r1s: Float32Array[] } {
  const r1s: Float32Array[] = [];
  return {
    r1s,
    source: {
      name: source.name,
      async r1(batch, options) {
        const out = await source.r1(batch, options);
        r1s.push((out.r1.dataSync() as Float32Array).slice());
        return out;
      },
    },
  };
}

Deno.test("onnx offline: the pre_bn output is the input of final.bn, named in the metadata", async () => {
  const enc = perturbedEncoder(SMALL, 21);
  try {
    const lookup = weightLookup(await exportNamedTensors(enc));
    const n = 3;
    const x = images(n, 32, 1);
    const want = tf.tidy(() => {
      const out = enc.apply(tf.tensor4d(x, [n, 32, 32, 3]), { training: false, activations: true });
      return out.activations!["final.unit0"].dataSync() as Float32Array;
    });
    for (const layout of ["nhwc", "nchw"] as const) {
      const bytes = exportEncoderOnnx(SMALL, lookup, { layout, outputs: ["r1", PRE_BN_OUTPUT] });
      const meta = readOnnxMetadata(bytes);
      assertEquals(meta.outputs, "r1,pre_bn");
      assertEquals(meta.preBnLayer, "final.bn");
      assertEquals(JSON.parse(meta.encoderConfig), SMALL);
      const model = onnx.ModelProto.decode(bytes);
      const dims = model.graph!.output!.map((o) =>
        o.type!.tensorType!.shape!.dim!.map((d) => d.dimParam || Number(d.dimValue))
      );
      assertEquals(model.graph!.output!.map((o) => o.name), ["r1", "pre_bn"]);
      assertEquals(dims[1], layout === "nhwc" ? ["N", 1, 1, 32] : ["N", 32, 1, 1]);
      const session = await openOnnxEncoder(bytes, { inputSize: 32, layout });
      try {
        const got = await session.runOutputs(x, n, [PRE_BN_OUTPUT]);
        assertEquals(got.pre_bn.dims, layout === "nhwc" ? [n, 1, 1, 32] : [n, 32, 1, 1]);
        assertLess(maxRelativeDifference(want, got.pre_bn.data), TOL, layout);
      } finally {
        await session.release();
      }
    }
    // Alone, pre_bn needs no BatchNorm at all: final.bn and the heads are left out of the file.
    const alone = onnx.ModelProto.decode(exportEncoderOnnx(SMALL, lookup, { outputs: ["pre_bn"] }));
    assertEquals(alone.graph!.node!.filter((nd) => nd.opType === "BatchNormalization").length, 0);
    assert(!alone.graph!.initializer!.some((t) => t.name!.startsWith("final.bn.")));
    assertEquals(readOnnxMetadata(exportEncoderOnnx(SMALL, lookup)).preBnLayer, undefined);
  } finally {
    enc.dispose();
  }
  // With useBn the first active BatchNorm on the path to r1 is inside the first residual unit.
  const withBn = perturbedEncoder(WITH_BN, 1);
  try {
    const tap = preBnTap(withBn.plan);
    assertEquals([tap.layer.name, tap.feedsR1Directly], ["block0.unit0.bn", false]);
    const lookup = weightLookup(await exportNamedTensors(withBn));
    const meta = readOnnxMetadata(exportEncoderOnnx(WITH_BN, lookup, { outputs: ["pre_bn"] }));
    assertEquals(meta.preBnLayer, "block0.unit0.bn");
  } finally {
    withBn.dispose();
  }
});

Deno.test("onnx offline: ORT pre-BN + tfjs final.bn gives tfjs's training-mode r1 (tiny, 32 px)", async () => {
  const enc = perturbedEncoder(NAMED_ENCODERS.tiny, 7);
  const source = await openOrtR1Source(enc);
  try {
    const n = 8;
    const batch = { x: images(n, 32, 2), n, height: 32, width: 32 };
    for (const training of [true, false]) {
      const ref = await tfjsR1Source(enc).r1(batch, { training });
      const got = await source.r1(batch, { training });
      try {
        assertEquals(got.r1.shape, [n, 256]);
        const diff = maxRelativeDifference(
          ref.r1.dataSync() as Float32Array,
          got.r1.dataSync() as Float32Array,
        );
        assertLess(diff, TOL, `training ${training}: r1 differs by ${diff}`);
        // The running-statistics updates of final.bn are those of the tfjs forward (which also
        // returns the r5/r7 heads' updates; those never reach r1).
        const expected = ref.stateUpdates.filter((u) => u.name.startsWith("final.bn."));
        assertEquals(got.stateUpdates.map((u) => u.name), expected.map((u) => u.name));
        assertEquals(got.stateUpdates.length, training ? 2 : 0);
        for (let i = 0; i < expected.length; i++) {
          assert(got.stateUpdates[i].variable === expected[i].variable);
          assertLess(
            maxRelativeDifference(
              expected[i].value.dataSync() as Float32Array,
              got.stateUpdates[i].value.dataSync() as Float32Array,
            ),
            TOL,
            expected[i].name,
          );
        }
      } finally {
        tf.dispose([ref.r1, got.r1]);
        discardStateUpdates(ref.stateUpdates);
        discardStateUpdates(got.stateUpdates);
      }
    }
  } finally {
    await source.release();
    enc.dispose();
  }
});

Deno.test("onnx offline: an encoder with useBn keeps tfjs for amdim-offline and records why", async () => {
  const enc = perturbedEncoder(WITH_BN, 5);
  try {
    const support = ortR1Support(enc);
    assert(!support.ok);
    assertStringIncludes(support.reason, "encoder.useBn is true: block0.unit0.bn");
    const e = await assertRejects(() => openOrtR1Source(enc), BenchError);
    assertEquals(e.code, "onnx_r1_unsupported");
    assertStringIncludes(e.message, "block0.unit0.bn");

    const fx = await resolveFeatureExtractor(enc, {
      requested: "onnxruntime",
      backend: "cpu",
      offline: true,
    });
    try {
      assertEquals(fx.extractor.name, "onnxruntime");
      assertEquals(fx.offline.name, "tfjs");
      assertEquals(fx.details.featureExtractor, "onnxruntime");
      assertEquals(fx.details.featureExtractorScope, "linear-probe,knn");
      assertEquals(fx.details.featureExtractorOffline, "tfjs");
      assertEquals(fx.details.featureExtractorOfflineReason, support.reason);
    } finally {
      await fx.release();
    }
  } finally {
    enc.dispose();
  }
});

Deno.test("onnx offline: auto covers amdim-offline by the same backend rule", async () => {
  const enc = perturbedEncoder({ ...SMALL, nDepth: 1 }, 6);
  try {
    for (const [backend, expected] of [["cpu", "onnxruntime"], ["webgpu", "tfjs"]] as const) {
      const fx = await resolveFeatureExtractor(enc, {
        requested: "auto",
        backend,
        batch: 8,
        offline: true,
      });
      try {
        assertEquals(fx.extractor.name, expected);
        assertEquals(fx.offline.name, expected);
        assertEquals(fx.details.featureExtractorOffline, expected);
        assertEquals(fx.details.featureExtractorScope, "linear-probe,knn,amdim-offline");
        assertStringIncludes(
          fx.details.featureExtractorOfflineReason,
          expected === "tfjs" ? "the feature extractor is tfjs" : "input of final.bn",
        );
      } finally {
        await fx.release();
      }
    }
    // A run without amdim-offline records nothing about it.
    const fx = await resolveFeatureExtractor(enc, { requested: "tfjs", backend: "cpu" });
    assertEquals(fx.details.featureExtractorOffline, undefined);
    assertEquals(fx.details.featureExtractorScope, "linear-probe,knn");
  } finally {
    enc.dispose();
  }
});

Deno.test("onnx offline: amdim-offline on the smoke spec scores the same through ONNX Runtime as through tfjs", async () => {
  const { spec: smoke } = await loadSpec("smoke");
  const spec: Spec = {
    ...smoke,
    eval: [{
      protocol: "amdim-offline",
      epochs: 2,
      milestones: [],
      gamma: 0.2,
      lr: 2e-3,
      batchSize: 16,
    }],
  };
  const encoder = perturbedEncoder(spec.encoder, 3);
  const { train, test } = await openSpecData(spec, {});
  const before = stateOf(encoder);
  const ctx = {
    spec,
    encoder,
    heads: null,
    train,
    test,
    cache: new FeatureCache(),
    modelKey: "offline",
  };
  try {
    const viaTfjs = recording(tfjsR1Source(encoder));
    const a = await runProtocols({ ...ctx, offlineFeatures: viaTfjs.source });
    assertEquals(stateOf(encoder), before, "BatchNorm statistics restored after the tfjs run");

    const fx = await resolveFeatureExtractor(encoder, {
      requested: "onnxruntime",
      backend: "cpu",
      offline: true,
    });
    let b: Awaited<ReturnType<typeof runProtocols>>;
    const viaOrt = recording(fx.offline);
    try {
      assertEquals(fx.offline.name, "onnxruntime");
      assertEquals(fx.details.featureExtractorScope, "linear-probe,knn,amdim-offline");
      b = await runProtocols({
        ...ctx,
        featureExtractor: fx.extractor,
        offlineFeatures: viaOrt.source,
      });
    } finally {
      await fx.release();
    }
    assertEquals(stateOf(encoder), before, "BatchNorm statistics restored after the ORT run");

    // Every r1 the heads saw: 2 epochs x 16 training batches (batch statistics, running
    // statistics drifting batch after batch), then the 8 eval-mode test batches on the drifted
    // statistics. Each agrees with its tfjs counterpart.
    assertEquals(viaOrt.r1s.length, 2 * 16 + 8);
    assertEquals(viaOrt.r1s.length, viaTfjs.r1s.length);
    for (let i = 0; i < viaOrt.r1s.length; i++) {
      const diff = maxRelativeDifference(viaTfjs.r1s[i], viaOrt.r1s[i]);
      assertLess(diff, TOL, `batch ${i}: r1 differs by ${diff}`);
    }

    const [ra, rb] = [a.results[0], b.results[0]];
    assertEquals(ra.details.featureExtractor, "tfjs");
    assertEquals(rb.details.featureExtractor, "onnxruntime");
    const names = Object.keys(ra.metrics).sort();
    assertEquals(names, Object.keys(rb.metrics).sort());
    assertEquals(names.length, 4);
    // The features differ only in the last bits (checked above); no prediction of the heads
    // flips on this spec, so every metric is identical.
    assertEquals(rb.metrics, ra.metrics);
  } finally {
    encoder.dispose();
    train.close();
    test.close();
  }
});

import { exportEncoderOnnx } from "../src/onnx/export_encoder.ts";
import { openOnnxEncoder } from "../src/onnx/ort_session.ts";
import { BenchError } from "../src/util/errors.ts";
import { assertEquals, assertRejects, assertStringIncludes } from "../src/testing/asserts.ts";
import { constantWeights, handMadeModel } from "./helpers/onnx_fixtures.ts";

const rejects = (model: string | Uint8Array, inputSize = 32, extra: Record<string, unknown> = {}) =>
  assertRejects(() => openOnnxEncoder(model, { inputSize, ...extra }), BenchError);

Deno.test("onnx errors: wrong input shape names expected and actual", async () => {
  const e = await rejects(handMadeModel({ inputShape: ["N", 64, 64, 3] }));
  assertEquals(e.code, "onnx_model_mismatch");
  assertStringIncludes(
    e.message,
    'input "x": expected [N,32,32,3] float32 (nhwc), got float32 [N,64,64,3]',
  );
  // NCHW declared, NHWC forced: the message shows the NHWC expectation.
  const e2 = await rejects(handMadeModel({ inputShape: [1, 3, 32, 32] }), 32, { layout: "nhwc" });
  assertStringIncludes(e2.message, "expected [N,32,32,3] float32 (nhwc), got float32 [1,3,32,32]");
  // A rank-2 input.
  const e3 = await rejects(handMadeModel({ inputShape: ["N", 3072] }));
  assertStringIncludes(e3.message, "got float32 [N,3072]");
});

Deno.test("onnx errors: a non-float input", async () => {
  const e = await rejects(handMadeModel({ inputShape: ["N", 32, 32, 3], inputType: "uint8" }));
  assertEquals(e.code, "onnx_model_mismatch");
  assertStringIncludes(e.message, "expected [N,32,32,3] float32 (nhwc), got uint8 [N,32,32,3]");
  assertStringIncludes(e.hint ?? "", "float32");
});

Deno.test("onnx errors: a model without outputs", async () => {
  const e = await rejects(handMadeModel({ inputShape: ["N", 32, 32, 3], withOutput: false }));
  assertEquals(e.code, "onnx_model_invalid");
  assertStringIncludes(e.message, "no outputs");
});

Deno.test("onnx errors: two inputs, an unknown output name", async () => {
  const two = await rejects(handMadeModel({ inputShape: ["N", 32, 32, 3], extraInputs: ["y"] }));
  assertStringIncludes(two.message, "expected exactly one image input, got 2: [x, y]");
  const out = await rejects(handMadeModel({ inputShape: ["N", 32, 32, 3] }), 32, {
    outputName: "r7",
  });
  assertStringIncludes(out.message, 'the model has no output "r7" (outputs: features)');
});

Deno.test("onnx errors: a truncated file, an empty file, a missing file", async () => {
  const cfg = { inputSize: 32 as const, ndf: 4, nRkhs: 16, nDepth: 1, useBn: false };
  const full = exportEncoderOnnx(cfg, constantWeights(cfg));
  const session = await openOnnxEncoder(full, { inputSize: 32 });
  assertEquals(session.outputName, "r1");
  await session.release();
  const truncated = full.slice(0, Math.floor(full.length * 0.6));
  const e = await rejects(truncated);
  assertEquals(e.code, "onnx_model_invalid");
  assertStringIncludes(e.message, "ONNX Runtime cannot load the model");
  assertStringIncludes(e.hint ?? "", "truncated");
  const empty = await rejects(new Uint8Array(0));
  assertStringIncludes(empty.message, "the ONNX file is empty");
  const missing = await rejects("/nonexistent/model.onnx");
  assertEquals(missing.code, "onnx_model_missing");
  assertEquals(missing.location, "/nonexistent/model.onnx");
});

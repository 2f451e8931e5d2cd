import * as tf from "@tensorflow/tfjs";
import {
  assert,
  assertEquals,
  assertRejects,
  assertStringIncludes,
} from "../src/testing/asserts.ts";
import { BenchError } from "../src/util/errors.ts";
import {
  BACKEND_NAMES,
  describeBackend,
  initBackend,
  isSoftwareAdapter,
  parseBackendName,
} from "../src/backend/mod.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

Deno.test("unknown backend name is a backend_unknown error listing the valid names", async () => {
  const error = await assertRejects(() => initBackend("gpu"), BenchError);
  assertEquals(error.code, "backend_unknown");
  for (const name of BACKEND_NAMES) assertStringIncludes(error.hint ?? "", name);
  assertEquals(parseBackendName("wasm"), "wasm");
});

for (const flavour of ["tensorflow", "tensorflow-gpu"] as const) {
  Deno.test(`${flavour} without libtensorflow is one backend_unavailable error with the install hint`, async () => {
    const before = tf.getBackend();
    const error = await assertRejects(() => initBackend(flavour), BenchError);
    assertEquals(error.code, "backend_unavailable");
    const pkg = flavour === "tensorflow" ? "@tensorflow/tfjs-node" : "@tensorflow/tfjs-node-gpu";
    assertStringIncludes(error.hint ?? "", `deno install --allow-scripts=npm:${pkg}@4.22.0`);
    assertStringIncludes(error.hint ?? "", "TFJS_NODE_BASE_URI");
    assertStringIncludes(error.hint ?? "", "deps/lib/libtensorflow.so.2");
    if (flavour === "tensorflow-gpu") {
      assertStringIncludes(error.hint ?? "", "CUDA 11.2");
      assertStringIncludes(error.hint ?? "", "cuDNN 8.1");
    }
    // nothing half-loaded: no tensorflow backend registered, active backend unchanged
    assertEquals(tf.findBackendFactory("tensorflow"), null);
    assertEquals(tf.getBackend(), before);
  });
}

Deno.test("cpu and wasm start and describe themselves", opts, async () => {
  const cpu = await initBackend("cpu");
  assertEquals([cpu.name, cpu.requested, cpu.threads], ["cpu", "cpu", 1]);
  assertEquals(cpu.tfjsVersion, tf.version_core);
  assert(cpu.device.length > 0 && !cpu.device.includes("undefined"));
  assertEquals(describeBackend().name, "cpu");

  const wasm = await initBackend("wasm", { threads: 2 });
  assertEquals([wasm.name, wasm.requested, tf.getBackend()], ["wasm", "wasm", "wasm"]);
  assertEquals(wasm.threads, 2);
  assertEquals(wasm.details.simd, "true");
  assertEquals(wasm.details.binary, "threaded-simd");
  assertStringIncludes(wasm.details.backendPackage, "tfjs-backend-wasm@4.22.0");
  // it computes (on the pthread pool)
  const y = tf.matMul(tf.ones([64, 64]), tf.ones([64, 64]));
  assertEquals((await y.data())[0], 64);
  y.dispose();
  assertEquals(describeBackend().threads, 2);
});

Deno.test("auto never picks a software webgpu adapter and says so in one line", opts, async () => {
  const lines: string[] = [];
  const info = await initBackend("auto", { warn: (l) => lines.push(l), threads: 2 });
  assertEquals(info.requested, "auto");
  assert((info.name as string) !== "auto");
  assertEquals(tf.getBackend(), info.name === "tensorflow-gpu" ? "tensorflow" : info.name);
  const gpu = (navigator as { gpu?: GPU }).gpu;
  const adapter = gpu ? await gpu.requestAdapter() : null;
  const software = adapter !== null &&
    isSoftwareAdapter(adapter.info as unknown as Record<string, unknown>);
  if (software) {
    assert(info.name !== "webgpu");
    assertEquals(lines.filter((l) => l.includes("skipped webgpu")).length, 1);
  }
  for (const line of lines) assert(!line.includes("\n"), "notices are single lines");
});

Deno.test("software adapter detection", () => {
  assert(isSoftwareAdapter({ description: "llvmpipe (LLVM 15.0.6, 256 bits)" }));
  assert(isSoftwareAdapter({ vendor: "Google", device: "SwiftShader Device" }));
  assert(isSoftwareAdapter({ isFallbackAdapter: true }));
  assert(!isSoftwareAdapter({ vendor: "nvidia", description: "NVIDIA H100" }));
});

Deno.test("explicit webgpu on a software adapter starts with a warning", opts, async () => {
  const gpu = (navigator as { gpu?: GPU }).gpu;
  const adapter = gpu ? await gpu.requestAdapter() : null;
  if (!adapter) return; // no adapter at all: nothing to test here
  const lines: string[] = [];
  const info = await initBackend("webgpu", { warn: (l) => lines.push(l) });
  assertEquals(info.name, "webgpu");
  assert(info.device.length > 0);
  if (info.software) assertEquals(lines.length, 1);
  await initBackend("cpu");
});

import * as tf from "@tensorflow/tfjs";
import { assert, assertLess } from "../src/testing/asserts.ts";
import { initBackend } from "../src/backend/mod.ts";
import { makeNetData, netLoss, type NetResult, runNet } from "./helpers/backend_net.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

function compare(name: string, got: NetResult, ref: NetResult, tol: number) {
  assertLess(Math.abs(got.loss - ref.loss), tol * Math.max(1, Math.abs(ref.loss)), `${name} loss`);
  for (const key of Object.keys(ref.grads)) {
    const a = got.grads[key], b = ref.grads[key];
    let d = 0;
    for (let i = 0; i < b.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
    assertLess(d, tol, `${name} grad ${key}: max |diff| ${d}`);
  }
}

async function hasAdapter(): Promise<boolean> {
  const gpu = (navigator as { gpu?: GPU }).gpu;
  return gpu ? (await gpu.requestAdapter()) !== null : false;
}

Deno.test(
  "cpu, wasm and webgpu agree on a small AMDIM-like network, forward and gradients",
  opts,
  async () => {
    const data = makeNetData(1);
    await initBackend("cpu");
    const ref = await runNet(data);
    assert(Number.isFinite(ref.loss));
    await initBackend("wasm", { threads: 2 });
    compare("wasm", await runNet(data), ref, 1e-4);
    if (await hasAdapter()) {
      await initBackend("webgpu", { warn: () => {} });
      compare("webgpu", await runNet(data), ref, 1e-4);
    }
    await initBackend("cpu");
  },
);

Deno.test(
  "every kernel the network uses (forward and backward) exists on wasm and webgpu",
  opts,
  async () => {
    await initBackend("cpu");
    const data = makeNetData(2);
    const profile = await tf.profile(async () => {
      await runNet(data);
    });
    // (custom-gradient ops such as logSoftmax appear as "name__op"; their kernels are listed too)
    const used = new Set(profile.kernelNames.filter((k) => !k.endsWith("__op")));
    for (
      const k of [
        "Conv2D",
        "Conv2DBackpropFilter",
        "Conv2DBackpropInput",
        "AvgPoolGrad",
        "MirrorPad",
        "UnsortedSegmentSum",
      ]
    ) {
      assert(used.has(k), `the audit network should use ${k}`);
    }
    for (const backend of ["wasm", "webgpu"]) {
      if (backend === "wasm") await initBackend("wasm", { threads: 2 }); // registers the replacements
      const missing = [...used].filter((k) => !tf.getKernel(k, backend));
      assert(missing.length === 0, `${backend} lacks ${missing.join(", ")}`);
    }
    await initBackend("cpu");
    void netLoss;
  },
);

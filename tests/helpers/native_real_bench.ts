/**
 * Throughput and per-kernel profile of the project's real train step (src/train) and eval forward
 * on the `native` backend. Usage:
 *   deno run -A tests/helpers/native_real_bench.ts [tiny|small] [batch=64] [steps=3] [backend=native]
 */
import * as tf from "@tensorflow/tfjs";
import {
  formatKernelProfile,
  loadNativeBackend,
  profileKernels,
} from "../../src/backend/native/mod.ts";
import { measureModelPerf } from "../../src/cli/perf.ts";
import { NAMED_ENCODERS } from "../../src/model/mod.ts";

const name = (Deno.args[0] ?? "tiny") as keyof typeof NAMED_ENCODERS;
const batch = Number(Deno.args[1] ?? 64), steps = Number(Deno.args[2] ?? 3);
const backend = Deno.args[3] ?? "native";
const r = await loadNativeBackend();
if (!r.ok) throw new Error(`${r.reason} (${r.hint})`);
await tf.setBackend(backend);
const cfg = NAMED_ENCODERS[name];
console.log(
  `${name} on ${backend} (${r.info.version}, ${r.info.threads} BLAS threads), batch ${batch}`,
);
const load0 = Deno.loadavg()[0];
const res = await measureModelPerf(cfg, { batch, steps, warmup: 1 });
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const tMs = med(res.trainMs), eMs = med(res.evalMs);
console.log(
  `train ${tMs.toFixed(0)} ms/step = ${(batch / tMs * 1000).toFixed(1)} img/s (min ${
    (batch / Math.min(...res.trainMs) * 1000).toFixed(1)
  }); eval ${eMs.toFixed(0)} ms = ${(batch / eMs * 1000).toFixed(1)} img/s (min ${
    (batch / Math.min(...res.evalMs) * 1000).toFixed(1)
  }); tensor growth ${res.tensorGrowth}; rss peak ${(res.rssPeak / 2 ** 20).toFixed(0)} MiB; load ${
    load0.toFixed(1)
  }->${Deno.loadavg()[0].toFixed(1)}`,
);
if (Deno.args.includes("--profile")) {
  const p = await profileKernels(() => measureModelPerf(cfg, { batch, steps: 1, warmup: 0 }), {
    groupBy: Deno.args.includes("--shapes") ? "shape" : "kernel",
  });
  console.log("profile of model build + 1 train step + 1 eval forward:");
  console.log(formatKernelProfile(p, 40));
}

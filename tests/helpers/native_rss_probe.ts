/**
 * Runs training steps of the stand-in encoder on `native` in a process of its own and prints one
 * JSON line: the resident-memory growth over a measured window after a warm-up window. The test
 * runner shares its process between test modules, so RSS is only meaningful measured here.
 */
import * as tf from "@tensorflow/tfjs";
import { loadNativeBackend } from "../../src/backend/native/mod.ts";
import { standInTraining } from "./native_stand_in.ts";

const loaded = await loadNativeBackend({ threads: 2 });
if (!loaded.ok) throw new Error(loaded.reason);
await tf.setBackend("native");
const { step } = standInTraining();
// RSS lags the garbage collector and V8 grows its heap for the first ~30 steps before it
// plateaus: a warm-up window lets it settle, the second window is measured. A leak keeps growing.
for (let i = 0; i < 32; i++) step();
const rss = Deno.memoryUsage().rss;
for (let i = 0; i < 24; i++) step();
console.log(JSON.stringify({ growth: Deno.memoryUsage().rss - rss }));
Deno.exit(0);

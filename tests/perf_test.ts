import { assert, assertEquals } from "../src/testing/asserts.ts";
import { runCli } from "./helpers/run_cli.ts";

Deno.test("perf --json prints a parseable JSON object on its last line", async () => {
  const r = await runCli("perf", [
    "--ndf",
    "8",
    "--n-rkhs",
    "32",
    "--n-depth",
    "1",
    "--input-size",
    "32",
    "--batch",
    "4",
    "--backend",
    "wasm",
    "--steps",
    "1",
    "--warmup",
    "0",
    "--json",
  ]);
  const out = r.stdout.trim();
  assertEquals(r.code, 0, out + r.stderr);
  const last = JSON.parse(out.split("\n").at(-1)!);
  assertEquals(last.backend, "wasm");
  assertEquals(last.batch, 4);
  assertEquals(last.encoder.ndf, 8);
  for (const k of ["train_images_per_s", "eval_images_per_s", "rss", "threads"]) {
    assert(typeof last[k] === "number" && last[k] > 0, `${k} = ${last[k]}`);
  }
  assert(typeof last.config === "string" && typeof last.device === "string");
  assertEquals(last.tensor_growth, 0);
});

Deno.test("perf rejects unknown configs and mixed flags with exit code 2", async () => {
  for (const args of [["--config", "nope"], ["--config", "tiny", "--ndf", "8"], ["--batch", "x"]]) {
    const r = await runCli("perf", args);
    assertEquals(r.code, 2, args.join(" "));
  }
});

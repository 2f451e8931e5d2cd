import { assert, assertEquals } from "../src/testing/asserts.ts";

Deno.test("perf --json prints a parseable JSON object on its last line", async () => {
  const cmd = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("../src/cli/perf.ts", import.meta.url).pathname,
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
    ],
    stdout: "piped",
    stderr: "piped",
  });
  const r = await cmd.output();
  const out = new TextDecoder().decode(r.stdout).trim();
  assertEquals(r.code, 0, out + new TextDecoder().decode(r.stderr));
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
    const r = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", new URL("../src/cli/perf.ts", import.meta.url).pathname, ...args],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assertEquals(r.code, 2, args.join(" "));
  }
});

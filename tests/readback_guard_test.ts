import { assertEquals } from "../src/testing/asserts.ts";

/**
 * GPU backends in Deno have no synchronous readback (tfjs-webgpu's `dataSync` needs an
 * `OffscreenCanvas`), so code that may run on any backend reads tensors with `await t.data()`.
 * Only the `native` backend's own kernels (CPU memory by construction) may read synchronously.
 */
Deno.test("no synchronous tensor reads outside the native backend's kernels", async () => {
  const root = new URL("../src/", import.meta.url);
  const offenders: string[] = [];
  const walk = async (dir: URL, rel: string) => {
    for await (const e of Deno.readDir(dir)) {
      const path = `${rel}${e.name}`;
      if (e.isDirectory) {
        if (path !== "backend/native") await walk(new URL(`${e.name}/`, dir), `${path}/`);
      } else if (e.name.endsWith(".ts")) {
        const lines = (await Deno.readTextFile(new URL(e.name, dir))).split("\n");
        lines.forEach((line, i) => {
          if (/\.(dataSync|arraySync|bufferSync)\(/.test(line)) {
            offenders.push(`src/${path}:${i + 1}`);
          }
        });
      }
    }
  };
  await walk(root, "");
  assertEquals(offenders, [], "use `await t.data()` / `await t.array()` instead");
});

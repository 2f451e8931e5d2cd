import { assert, assertEquals, assertStringIncludes } from "../src/testing/asserts.ts";
import {
  ACCELERATE_PATH,
  DEBIAN_PACKAGE,
  defaultBlasSearchList,
  openBlas,
} from "../src/backend/native/mod.ts";
import { evalLastJson, moduleLiteral } from "./helpers/deno_eval.ts";

Deno.test("native fallback: an empty or missing search list gives a reason and an install hint", () => {
  for (
    const result of [openBlas({ searchList: [] }), openBlas({ library: "/nonexistent/libblas.so" })]
  ) {
    assert(!result.ok);
    if (result.ok) return;
    assertStringIncludes(result.reason, "cblas_sgemm");
    assertStringIncludes(result.hint, "libopenblas0-pthread");
    assertStringIncludes(result.hint, ACCELERATE_PATH);
  }
  assertEquals(DEBIAN_PACKAGE, "libopenblas0-pthread");
});

Deno.test("native fallback: the search list covers OpenBLAS, libblas.so.3 and Accelerate", () => {
  const list = defaultBlasSearchList();
  assertEquals(list[0], "libopenblas.so.0");
  assert(list.includes("libblas.so.3"));
  assert(list.includes(ACCELERATE_PATH));
});

Deno.test("native fallback: AMDIM_BLAS_LIB=/nonexistent makes loadNativeBackend return ok:false", async () => {
  const code = `
    import { loadNativeBackend } from ${moduleLiteral("src/backend/native/mod.ts")};
    console.log(JSON.stringify(await loadNativeBackend()));`;
  const run = async (env: Record<string, string>) =>
    await evalLastJson(code, env) as { ok: boolean; reason: string; hint: string };
  const missing = await run({ AMDIM_BLAS_LIB: "/nonexistent/libopenblas.so.0" });
  assertEquals(missing.ok, false);
  assertStringIncludes(missing.reason, "/nonexistent/libopenblas.so.0");
  assertStringIncludes(missing.hint, "libopenblas0-pthread");
  const disabled = await run({ AMDIM_BLAS_SEARCH: "0" });
  assertEquals(disabled.ok, false);
  assertStringIncludes(disabled.reason, "search list is empty");
});

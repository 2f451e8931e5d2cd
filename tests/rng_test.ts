import { Rng } from "../src/util/rng.ts";
import { assert, assertEquals, assertNotEquals } from "../src/testing/asserts.ts";

Deno.test("rng: a stream is a pure function of its key", () => {
  const a = new Rng(7, "augment", 3, 12345, 1);
  const b = new Rng(7, "augment", 3, 12345, 1);
  const xs = Array.from({ length: 100 }, () => a.nextU32());
  assertEquals(xs, Array.from({ length: 100 }, () => b.nextU32()));
  assertNotEquals(
    xs,
    Array.from({ length: 100 }, () => new Rng(7, "augment", 3, 12345, 2).nextU32()),
  );
  assertNotEquals(new Rng(1).nextU32(), new Rng(2).nextU32());
  assertNotEquals(new Rng("ab").nextU32(), new Rng("ba").nextU32());
});

Deno.test("rng: uniform draws have the right mean and range", () => {
  const rng = new Rng(1, "stats");
  let sum = 0;
  const counts = new Array(9).fill(0);
  const n = 90000;
  for (let i = 0; i < n; i++) {
    const u = rng.float();
    assert(u >= 0 && u < 1);
    sum += u;
    counts[rng.int(-4, 4) + 4]++;
  }
  assert(Math.abs(sum / n - 0.5) < 0.01, `mean ${sum / n}`);
  for (const c of counts) assert(Math.abs(c / n - 1 / 9) < 0.01, `bucket ${c / n}`);
});

Deno.test("rng: permutation is a permutation and is seeded", () => {
  const p = new Rng(3, "shuffle", 0).permutation(1000);
  assertEquals([...p].sort((x, y) => x - y), Array.from({ length: 1000 }, (_, i) => i));
  assertEquals(p, new Rng(3, "shuffle", 0).permutation(1000));
  assertNotEquals(p, new Rng(3, "shuffle", 1).permutation(1000));
});

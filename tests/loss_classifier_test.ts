import * as tf from "@tensorflow/tfjs";
import { assert, assertEquals, assertStringIncludes } from "../src/testing/asserts.ts";
import { classifierLoss } from "../src/loss/mod.ts";
import { useBackend } from "../src/cli/use_backend.ts";

/** costs.py loss_xent in float64 by hand. */
function reference(logits: number[][], labels: number[]): number {
  let ce = 0, n = 0, sq = 0, count = 0;
  logits.forEach((row, i) => {
    for (const v of row) {
      sq += v * v;
      count++;
    }
    if (labels[i] === -1) return;
    const c = row.map((v) => 10 * Math.tanh(v / 10));
    const m = Math.max(...c);
    const lse = m + Math.log(c.reduce((a, v) => a + Math.exp(v - m), 0));
    ce += lse - c[labels[i]];
    n++;
  });
  return (n > 0 ? ce / n : 0) + 1e-3 * sq / count;
}

const LOGITS = [
  [2.5, -1.0, 0.3],
  [14.0, -25.0, 3.0], // beyond the clip
  [0.0, 0.5, -0.5],
  [-3.0, 8.0, 1.0],
];

for (const backend of ["cpu", "wasm"]) {
  Deno.test(`classifierLoss matches a hand computation, labels -1 ignored (${backend})`, async () => {
    await useBackend(backend);
    const before = tf.memory().numTensors;
    const x = tf.tensor2d(LOGITS);
    for (const labels of [[0, 1, 2, 1], [0, -1, 2, -1], [-1, -1, -1, 2], [-1, -1, -1, -1]]) {
      const loss = classifierLoss(x, new Int32Array(labels));
      const got = loss.dataSync()[0];
      const exp = reference(LOGITS, labels);
      assert(
        Math.abs(got - exp) <= 1e-5 * Math.max(1, Math.abs(exp)),
        `${labels}: ${got} vs ${exp}`,
      );
      loss.dispose();
    }
    // all unlabelled: only the logit penalty, and it still has a gradient
    const g = tf.grad((t: tf.Tensor) => classifierLoss(t as tf.Tensor2D, [-1, -1, -1, -1]))(x);
    const gv = g.dataSync();
    assert(Math.abs(gv[0] - 2e-3 * 2.5 / 12) < 1e-8);
    g.dispose();
    x.dispose();
    assertEquals(tf.memory().numTensors, before);
  });
}

Deno.test("classifierLoss rejects labels out of range and length mismatches", async () => {
  await useBackend("cpu");
  const x = tf.tensor2d(LOGITS);
  for (const [labels, msg] of [[[0, 1, 3, 0], "outside [-1, 3)"], [[0, 1], "4 rows"]] as const) {
    let err = "";
    try {
      classifierLoss(x, labels);
    } catch (e) {
      err = String(e);
    }
    assertStringIncludes(err, msg);
  }
  x.dispose();
});

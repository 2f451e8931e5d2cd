/** Result tables: generated from records only, byte-identical for the same records. */
import { assert, assertEquals, assertStringIncludes } from "../src/testing/asserts.ts";
import { renderCsv, renderMarkdown, writeReport } from "../src/report/tables.ts";
import { writeRecord } from "../src/report/record.ts";
import { makeRecord } from "./helpers/harness_fixtures.ts";

function fixtures() {
  const a = makeRecord({ seed: 1, metrics: { "linear-probe.top1": 0.61, "knn.top1": 0.55 } });
  a.reference = {
    id: "amdim-cifar10-linear",
    value: 0.912,
    bound: "exact",
    metric: "linear-probe.top1",
    protocol: "linear-probe",
    status: "third-party",
    protocolMatch: false,
    mismatches: ["encoder.ndf 16 != 256"],
    unknowns: ["pretrain.epochs"],
  };
  a.metrics["linear-probe.top1"].bestVal = 0.6;
  const b = makeRecord({ seed: 2, metrics: { "linear-probe.top1": 0.63 } });
  const c = makeRecord({ seed: 3, status: "failed" });
  return [a, b, c];
}

Deno.test("tables are deterministic and independent of record order", () => {
  const [a, b, c] = fixtures();
  const md1 = renderMarkdown([a, b, c]);
  const md2 = renderMarkdown([c, b, a]);
  assertEquals(md1, md2);
  assertEquals(renderCsv([a, b, c]), renderCsv([b, c, a]));
  assertStringIncludes(
    md1,
    "| base | synthetic | 32px ndf16 rkhs64 d1 | 20 steps × 16 | linear-probe | 61.00 | 60.00 | 91.20 ‡ | −30.20 | no | 123.5 | cpu (test cpu) | 2025-01-01 | `0123456789` |",
  );
  assertStringIncludes(md1, "- base-20250103T100000-");
  const csv = renderCsv([a, b, c]).split("\n");
  assertEquals(
    csv[0],
    "benchmark,dataset,encoder,budget,protocol,top1,top5,top1BestVal,published,publishedBound,publishedStatus,delta,protocolMatch,mismatches,imagesPerSecond,backend,date,commit,runId",
  );
  assertEquals(csv.length, 5); // header, 3 rows, final newline
  assert(csv[1].startsWith("base,synthetic,32px ndf16 rkhs64 d1,20 steps × 16,knn,0.55,"));
});

Deno.test("writeReport regenerates identical files from the same records", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (const r of fixtures()) {
      await Deno.mkdir(`${dir}/runs/${r.runId}`, { recursive: true });
      await writeRecord(`${dir}/runs/${r.runId}`, r);
    }
    await Deno.mkdir(`${dir}/runs/crashed-run`);
    const out = await writeReport(dir);
    assertEquals([out.records, out.rows, out.withoutRecord], [3, 3, ["crashed-run"]]);
    const md = await Deno.readTextFile(`${dir}/RESULTS.md`);
    const csv = await Deno.readTextFile(`${dir}/results.csv`);
    await writeReport(dir);
    assertEquals(await Deno.readTextFile(`${dir}/RESULTS.md`), md);
    assertEquals(await Deno.readTextFile(`${dir}/results.csv`), csv);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

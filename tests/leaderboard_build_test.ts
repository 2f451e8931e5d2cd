import { join } from "node:path";
import { assert, assertEquals, assertStringIncludes } from "../src/testing/asserts.ts";
import { readPublished } from "../src/report/published.ts";
import { loadVerifyContext } from "../src/verify/context.ts";
import { writeLeaderboard } from "../src/leaderboard/build.ts";
import { renumberIds } from "../src/leaderboard/charts.ts";
import { boardRows } from "../src/leaderboard/rows.ts";
import { writeLeaderboardFixtures } from "./helpers/record_fixtures.ts";
import { runCli } from "./helpers/run_cli.ts";

const ctx = await loadVerifyContext();
const published = await readPublished();

async function readTree(dir: string, prefix = ""): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  for await (const e of Deno.readDir(dir)) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory) {
      for (const [k, v] of await readTree(join(dir, e.name), rel)) out.set(k, v);
    } else out.set(rel, await Deno.readFile(join(dir, e.name)));
  }
  return new Map([...out].sort(([a], [b]) => (a < b ? -1 : 1)));
}

Deno.test("leaderboard: verified runs ranked, rejected listed, copies and plots written", async () => {
  const fx = await writeLeaderboardFixtures();
  const result = await writeLeaderboard(fx.resultsDir, { context: ctx });
  assertEquals(result.accepted, 4);
  assertEquals(result.rejected, 2);
  const out = join(fx.resultsDir, "leaderboard");
  const html = await Deno.readTextFile(join(out, "index.html"));
  const md = await Deno.readTextFile(join(out, "LEADERBOARD.md"));

  // Copies of each ranked run's record (as is) and resolved spec.
  for (const r of fx.accepted) {
    assertEquals(
      await Deno.readTextFile(join(out, "runs", `${r.record.runId}.record.json`)),
      await Deno.readTextFile(r.recordPath),
    );
    const spec = JSON.parse(
      await Deno.readTextFile(join(out, "runs", `${r.record.runId}.spec.json`)),
    );
    assertEquals(spec, r.record.spec);
    assertStringIncludes(html, `href="runs/${r.record.runId}.record.json"`);
    assertStringIncludes(md, `[spec](runs/${r.record.runId}.spec.json)`);
  }
  // Rejected runs are not ranked or copied, but listed with their findings.
  const bad = fx.rejected.record.runId;
  assert(!result.files.includes(`runs/${bad}.record.json`));
  assert(!html.includes(`href="runs/${bad}`));
  const finding = `runs/${bad}/record.json: metrics.linear-probe.top1.last: 0.99 does not match ` +
    "metrics.jsonl eval_result (0.489)";
  assertStringIncludes(html, finding);
  assertStringIncludes(md, `  - ${finding}`);
  assertStringIncludes(md, "`runs/broken-run/record.json` (unreadable)");

  // Rows: 4 top-1 metrics per run; ranks within dataset and protocol.
  const rows = boardRows(fx.accepted.map((r) => r.record), published);
  const synthetic = rows.filter((r) => r.dataset === "synthetic");
  assertEquals(synthetic.length, 8);
  assertEquals(
    synthetic.filter((r) => r.protocol === "linear-probe").map((r) => [r.rank, r.top1]),
    [[1, 0.476], [2, 0.463]],
  );
  const cifar = rows.filter((r) => r.dataset === "cifar10" && r.kind === "run");
  const linear = cifar.find((r) => r.protocol === "amdim-online.linear")!;
  assertEquals(linear.published, 0.912);
  assertEquals(linear.protocolMatch, false);
  assertStringIncludes(md, "| −50.20 † | protocol mismatch: amdim-online.bnWarmup false != true;");
  // Published numbers are rows too (imagenet has no run here but its numbers are listed).
  assert(rows.some((r) => r.kind === "published" && r.benchmark === "amdim-imagenet-linear"));

  // Plots: accuracy against compute per dataset with runs, curves per run.
  for (const ds of ["cifar10", "fashion-mnist", "synthetic"]) {
    for (const kind of ["images-seen", "wall-time"]) {
      const svg = await Deno.readTextFile(join(out, "plots", `${ds}-${kind}.svg`));
      assert(svg.startsWith("<svg"), svg.slice(0, 40));
      assertStringIncludes(html, svg.trim());
      assertStringIncludes(md, `(plots/${ds}-${kind}.svg)`);
    }
  }
  assertEquals((html.match(/<figure class="plot loss">/g) ?? []).length, 4);
  assertEquals((html.match(/<figure class="plot accuracy">/g) ?? []).length, 4);

  // Self-contained: no external resource of any kind.
  assert(!/<(link|img|iframe|object|embed)\b/i.test(html));
  assert(!/\ssrc=/i.test(html));
  assert(!/@import|url\((?!#)/i.test(html), "only url(#id) references");
  const urls = [...html.matchAll(/https?:\/\/[^\s"'<>)]+/g)].map((m) => m[0]);
  assertEquals(
    [...new Set(urls)].sort(),
    ["http://www.w3.org/1999/xlink", "http://www.w3.org/2000/svg"],
  );
});

Deno.test("leaderboard: the same records give byte-identical output (in and across processes)", async () => {
  const fx = await writeLeaderboardFixtures();
  const a = join(fx.resultsDir, "out-a");
  const b = join(fx.resultsDir, "out-b");
  const c = join(fx.resultsDir, "out-c");
  await writeLeaderboard(fx.resultsDir, { outDir: a, context: ctx });
  // A stale file of an earlier build is removed.
  await Deno.mkdir(join(b, "runs"), { recursive: true });
  await Deno.writeTextFile(join(b, "runs", "old.record.json"), "{}");
  await writeLeaderboard(fx.resultsDir, { outDir: b, context: ctx });
  const cli = await runCli("leaderboard", [fx.resultsDir, "--out", c]);
  const text = cli.stdout + cli.stderr;
  assertEquals(cli.code, 0, text);
  assertStringIncludes(text, "leaderboard: 4 verified runs, 2 rejected");
  const ta = await readTree(a);
  const tb = await readTree(b);
  const tc = await readTree(c);
  assertEquals([...tb.keys()], [...ta.keys()]);
  assertEquals([...tc.keys()], [...ta.keys()]);
  for (const [k, v] of ta) {
    assertEquals(tb.get(k), v, `in-process rebuild differs: ${k}`);
    assertEquals(tc.get(k), v, `CLI build differs: ${k}`);
  }
  // SVG ids are per chart, so the page has no duplicate id.
  const html = new TextDecoder().decode(ta.get("index.html"));
  const ids = [...html.matchAll(/\sid="([^"]+)"/g)].map((m) => m[1]);
  assertEquals(ids.length, new Set(ids).size);
});

Deno.test("leaderboard: an empty results folder gives the published numbers only", async () => {
  const dir = await Deno.makeTempDir({ prefix: "amdim-lb-empty-" });
  const result = await writeLeaderboard(dir, { context: ctx });
  assertEquals([result.accepted, result.rejected], [0, 0]);
  const md = await Deno.readTextFile(result.markdown);
  assertStringIncludes(md, "*amdim-cifar10-linear*");
  assertStringIncludes(md, "## Rejected submissions\n\nNone.");
});

Deno.test("renumberIds renames ids and their references", () => {
  assertEquals(
    renumberIds(
      '<clipPath id="clip9"><rect/></clipPath><g clip-path="url(#clip9)"/><use href="#clip9"/><p id="x"/>',
      "c",
    ),
    '<clipPath id="c-1"><rect/></clipPath><g clip-path="url(#c-1)"/><use href="#c-1"/><p id="c-2"/>',
  );
});

/**
 * The built leaderboard opened from file:// in headless Chromium (Debian's `chromium`, driven by
 * playwright-core; no browser download): tables, sorting, the protocol filter, plots, no console
 * error and no network request. A screenshot is written to `results/leaderboard-test/`.
 */
import { join, resolve } from "node:path";
import { assert, assertEquals } from "../src/testing/asserts.ts";
import { loadVerifyContext } from "../src/verify/context.ts";
import { writeLeaderboard } from "../src/leaderboard/build.ts";
import { writeLeaderboardFixtures } from "./helpers/record_fixtures.ts";

const CHROMIUM = "/usr/bin/chromium";
const SCREENSHOT_DIR = "results/leaderboard-test";

function chromiumPresent(): boolean {
  try {
    return Deno.statSync(CHROMIUM).isFile;
  } catch {
    return false;
  }
}

const present = chromiumPresent();
if (!present) {
  console.log(
    `leaderboard browser test skipped: ${CHROMIUM} is absent (apt-get install -y chromium)`,
  );
}

Deno.test({
  name: "leaderboard in headless Chromium: rows, sorting, filter, plots, offline",
  ignore: !present,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const { chromium } = await import("playwright-core");
    const fx = await writeLeaderboardFixtures();
    const result = await writeLeaderboard(fx.resultsDir, { context: await loadVerifyContext() });
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
      const problems: string[] = [];
      const requests: string[] = [];
      page.on("console", (m) => {
        if (m.type() === "error" || m.type() === "warning") {
          problems.push(`${m.type()}: ${m.text()}`);
        }
      });
      page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`));
      page.on("request", (r) => requests.push(r.url()));
      const url = new URL(`file://${resolve(result.html)}`).href;
      await page.goto(url);

      // Tables: one per dataset, with the right rows.
      const count = (table: string, selector = "tbody tr") =>
        page.locator(`#board-${table} ${selector}`).count();
      assertEquals(await count("synthetic"), 8);
      assertEquals(await count("fashion-mnist"), 4);
      assertEquals(await count("cifar10", "tbody tr.run"), 4);
      assertEquals(await count("cifar10", "tbody tr.published"), 2);
      const benchmarks = await page.locator("#board-synthetic tbody tr td:nth-child(2)")
        .allTextContents();
      assertEquals([...new Set(benchmarks)], ["lb-synthetic"]);
      assertEquals(
        await page.locator("#board-cifar10 tr.mismatch td.match").first().textContent(),
        "protocol mismatch",
      );
      const rejected = await page.locator("#rejected li > strong").allTextContents();
      assertEquals(
        rejected.sort(),
        [
          "runs/broken-run/record.json",
          `runs/${fx.rejected.record.runId}/record.json`,
        ].sort(),
      );

      // Clicking a header sorts (ascending, then descending); empty cells stay last.
      const top1 = () =>
        page.locator("#board-synthetic tbody tr td:nth-child(6)").evaluateAll((cells) =>
          cells.map((c) => Number(c.getAttribute("data-v")))
        );
      const header = page.locator("#board-synthetic thead th", { hasText: "top-1 %" });
      await header.click();
      const up = await top1();
      assertEquals(up, [...up].sort((a, b) => a - b));
      assertEquals(await header.getAttribute("aria-sort"), "ascending");
      await header.click();
      const down = await top1();
      assertEquals(down, [...up].sort((a, b) => b - a));
      assertEquals(await header.getAttribute("aria-sort"), "descending");
      const benchHeader = page.locator("#board-cifar10 thead th", { hasText: "images/s" });
      await benchHeader.click();
      const rates = await page.locator("#board-cifar10 tbody tr td:nth-child(11)")
        .allTextContents();
      assertEquals(rates.slice(-2), ["", ""], "published rows (no images/s) sort last");

      // The protocol filter hides the other protocols' rows in every table.
      await page.selectOption("#protocol-filter", "knn");
      const visible = await page.locator("#board-synthetic tbody tr:not([hidden])")
        .evaluateAll((rows) => rows.map((r) => r.getAttribute("data-protocol")));
      assertEquals(visible, ["knn", "knn"]);
      assertEquals(await page.locator("#board-synthetic-shown").textContent(), "2");
      assertEquals(await page.locator("#board-cifar10 tbody tr:not([hidden])").count(), 1);
      await page.selectOption("#protocol-filter", "");
      assertEquals(await page.locator("#board-synthetic tbody tr:not([hidden])").count(), 8);

      // Plots are inline SVG with drawn marks.
      assertEquals(await page.locator("figure.compute svg").count(), 6);
      assertEquals(await page.locator("figure.loss svg").count(), 4);
      assertEquals(await page.locator("figure.accuracy svg").count(), 4);
      const marks = await page.locator("figure.loss svg").first().locator("path").count();
      assert(marks > 5, `loss plot has ${marks} paths`);
      for (const d of await page.locator("details.curves").all()) {
        await d.evaluate((el) => el.setAttribute("open", ""));
      }

      await Deno.mkdir(SCREENSHOT_DIR, { recursive: true });
      const shot = join(SCREENSHOT_DIR, "leaderboard.png");
      await page.screenshot({ path: shot, fullPage: true });
      assert((await Deno.stat(shot)).size > 10_000);
      console.log(`screenshot: ${shot}`);

      assertEquals(problems, [], "no console errors or warnings");
      assertEquals(requests, [url], "the page loads nothing but itself");
    } finally {
      await browser.close();
    }
  },
});

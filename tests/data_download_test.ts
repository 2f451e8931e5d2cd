import { join } from "node:path";
import { createHash } from "node:crypto";
import {
  assert,
  assertEquals,
  assertRejects,
  assertStringIncludes,
} from "../src/testing/asserts.ts";
import { getDataset } from "../src/data/get.ts";
import { verifyDataset } from "../src/data/verify.ts";
import { extractTarSafely } from "../src/data/extract_tar.ts";
import { openDataset } from "../src/data/open_dataset.ts";
import { readLocalPins } from "../src/data/pins.ts";
import type { DatasetManifest } from "../src/data/manifest.ts";
import { ProgressBar } from "../src/data/progress.ts";
import { BenchError } from "../src/util/errors.ts";
import {
  cifarRecords,
  fixtureImageHwc,
  fixtureManifest,
  makeTar,
} from "./helpers/data_fixtures.ts";

const md5 = (b: Uint8Array) => createHash("md5").update(b).digest("hex");
const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

/** A 127.0.0.1 file server whose misbehaviour tests choose. */
function serve(
  files: Map<string, Uint8Array>,
  mode: { dropFirst?: boolean; ignoreRange?: boolean } = {},
) {
  const ranges: (string | null)[] = [];
  let requests = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    requests++;
    const name = new URL(req.url).pathname.slice(1);
    const body = files.get(name);
    if (!body) return new Response("not found", { status: 404 });
    const range = req.headers.get("range");
    ranges.push(range);
    if (mode.dropFirst && requests === 1) {
      // Send 40 % of the body, then drop the connection.
      const part = body.subarray(0, Math.floor(body.length * 0.4));
      const stream = new ReadableStream({
        start(c) {
          c.enqueue(part);
          setTimeout(() => c.close(), 20);
        },
      });
      return new Response(stream, { headers: { "content-length": String(body.length) } });
    }
    const m = range?.match(/^bytes=(\d+)-$/);
    if (m && !mode.ignoreRange) {
      const start = Number(m[1]);
      if (start >= body.length) return new Response(null, { status: 416 });
      return new Response(body.slice(start), {
        status: 206,
        headers: { "content-range": `bytes ${start}-${body.length - 1}/${body.length}` },
      });
    }
    return new Response(body as BodyInit);
  });
  const base = `http://127.0.0.1:${server.addr.port}`;
  return { base, ranges, close: () => server.shutdown() };
}

const members = [1, 2, 3, 4, 5].map((b) => `cifar-10-batches-bin/data_batch_${b}.bin`)
  .concat("cifar-10-batches-bin/test_batch.bin");

async function cifarArchive(): Promise<Uint8Array> {
  return await makeTar([
    { name: "cifar-10-batches-bin/", type: "directory" },
    ...members.map((name, k) => ({ name, data: cifarRecords(k * 2, 2, (i) => [i % 10]) })),
    { name: "cifar-10-batches-bin/batches.meta.txt", data: new TextEncoder().encode("airplane\n") },
  ]);
}

/** The manifest with cifar10 pinned to `archive` (by md5, or by `sha256` when given). */
async function manifestFor(
  archive: Uint8Array,
  sha256: string | null = null,
): Promise<DatasetManifest> {
  const m = await fixtureManifest();
  const c = m.datasets.cifar10;
  Object.assign(c.sources[0], { size: archive.length, md5: md5(archive), sha256 });
  for (const mem of c.members) if (mem.size !== null) mem.size = 2 * 3073;
  return m;
}

async function withTemp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "amdim-dl-test-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function listing(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string, rel: string) => {
    for await (const e of Deno.readDir(d)) {
      out.push(rel + e.name);
      if (e.isDirectory) await walk(join(d, e.name), rel + e.name + "/");
    }
  };
  await walk(dir, "");
  return out.sort();
}

Deno.test("get: download, verify by md5, record sha256 pins, extract, read, verify", async () => {
  const archive = await cifarArchive();
  const srv = serve(new Map([["cifar-10-binary.tar.gz", archive]]));
  try {
    await withTemp(async (dataDir) => {
      const manifest = await manifestFor(archive);
      const r = await getDataset("cifar10", { dataDir, urlBase: srv.base, manifest });
      assertEquals(r.alreadyPresent, false);
      assertEquals(r.downloaded, [join(dataDir, "downloads", "cifar-10-binary.tar.gz")]);
      const pins = await readLocalPins(dataDir);
      assertEquals(pins.pins["cifar10/cifar-10-binary.tar.gz"].sha256, sha(archive));
      assertEquals(pins.pins["cifar10/cifar-10-batches-bin/test_batch.bin"].size, 2 * 3073);
      const ds = await openDataset("cifar10", "train", { dataDir, manifest });
      assertEquals(ds.length, 10);
      assertEquals(await ds.readImages([9]), fixtureImageHwc(9, 32, 32, 3));
      const report = await verifyDataset("cifar10", { dataDir, manifest });
      assertEquals(report.problems, []);
      assert(report.files.every((f) => f.checkedBy?.includes("sha256")), "checked by sha256 pins");
      // No temporary folders left; a second get finds it complete.
      assertEquals(await listing(join(dataDir, "cifar10")), [
        "cifar-10-batches-bin",
        ...[
          "batches.meta.txt",
          "data_batch_1.bin",
          "data_batch_2.bin",
          "data_batch_3.bin",
          "data_batch_4.bin",
          "data_batch_5.bin",
          "test_batch.bin",
        ].map((n) => `cifar-10-batches-bin/${n}`),
      ]);
      assertEquals(
        (await getDataset("cifar10", { dataDir, urlBase: srv.base, manifest })).alreadyPresent,
        true,
      );

      // verify names a corrupted and a truncated member, and deletes nothing.
      const b3 = join(dataDir, "cifar10", "cifar-10-batches-bin", "data_batch_3.bin");
      const bytes = await Deno.readFile(b3);
      bytes[100] ^= 0xff;
      await Deno.writeFile(b3, bytes);
      await Deno.truncate(join(dataDir, "cifar10", "cifar-10-batches-bin", "test_batch.bin"), 100);
      const bad = await verifyDataset("cifar10", { dataDir, manifest });
      assertEquals(bad.problems.map((p) => [p.path.split("/").pop(), p.status]), [
        ["data_batch_3.bin", "corrupt"],
        ["test_batch.bin", "truncated"],
      ]);
      assertEquals((await Deno.stat(b3)).size, 2 * 3073);
    });
  } finally {
    await srv.close();
  }
});

Deno.test("get: an interrupted transfer resumes with Range; a server ignoring Range restarts", async () => {
  const archive = await cifarArchive();
  for (const mode of [{ dropFirst: true }, { dropFirst: true, ignoreRange: true }]) {
    const srv = serve(new Map([["cifar-10-binary.tar.gz", archive]]), mode);
    try {
      await withTemp(async (dataDir) => {
        const manifest = await manifestFor(archive, sha(archive));
        const notes: string[] = [];
        await getDataset("cifar10", {
          dataDir,
          urlBase: srv.base,
          manifest,
          retryDelayMs: 1,
          progress: () => ({ note: (m) => notes.push(m) }),
        });
        assertEquals(srv.ranges[0], null);
        const sent = Math.floor(archive.length * 0.4);
        assertEquals(srv.ranges[1], `bytes=${sent}-`);
        assert(notes.some((n) => n.includes("interrupted")), notes.join("; "));
        if (mode.ignoreRange) {
          assert(notes.some((n) => n.includes("ignored Range")), notes.join("; "));
        }
        const got = await Deno.readFile(join(dataDir, "downloads", "cifar-10-binary.tar.gz"));
        assertEquals(sha(got), sha(archive));
        assertEquals((await openDataset("cifar10", "test", { dataDir, manifest })).length, 2);
      });
    } finally {
      await srv.close();
    }
  }
});

Deno.test("get: a wrong checksum is an error; the bytes are kept apart, nothing in place", async () => {
  const archive = await cifarArchive();
  const srv = serve(new Map([["cifar-10-binary.tar.gz", archive]]));
  try {
    await withTemp(async (dataDir) => {
      const wrong = "ab".repeat(32);
      const manifest = await manifestFor(archive, wrong);
      const e = await assertRejects(
        () => getDataset("cifar10", { dataDir, urlBase: srv.base, manifest }),
        BenchError,
      );
      assertEquals(e.code, "checksum_mismatch");
      assertStringIncludes(e.message, `${srv.base}/cifar-10-binary.tar.gz`);
      assertStringIncludes(e.message, wrong);
      assertStringIncludes(e.message, sha(archive));
      assertEquals(await listing(dataDir), [
        "downloads",
        `downloads/cifar-10-binary.tar.gz.corrupt-${sha(archive).slice(0, 8)}`,
      ]);
    });
  } finally {
    await srv.close();
  }
});

Deno.test("get: no network gives a message naming the file, its size, checksum and place", async () => {
  const archive = await cifarArchive();
  await withTemp(async (dataDir) => {
    const manifest = await manifestFor(archive);
    const e = await assertRejects(
      () =>
        getDataset("cifar10", {
          dataDir,
          urlBase: "http://127.0.0.1:9",
          manifest,
          retries: 1,
          retryDelayMs: 1,
        }),
      BenchError,
    );
    assertEquals(e.code, "download_failed");
    assertStringIncludes(
      e.hint ?? "",
      `cifar-10-binary.tar.gz (${archive.length} bytes, md5 ${md5(archive)})`,
    );
    assertStringIncludes(e.hint ?? "", join(dataDir, "downloads", "cifar-10-binary.tar.gz"));
    // Putting the file there by hand then works offline.
    await Deno.writeFile(join(dataDir, "downloads", "cifar-10-binary.tar.gz"), archive);
    await getDataset("cifar10", { dataDir, urlBase: "http://127.0.0.1:9", manifest });
    assertEquals((await openDataset("cifar10", "train", { dataDir, manifest })).length, 10);
  });
});

Deno.test("extract: '../evil', absolute names, escaping links and devices are rejected, nothing outside", async () => {
  await withTemp(async (root) => {
    const dest = join(root, "x", "dest");
    await Deno.mkdir(dest, { recursive: true });
    const file = { data: new TextEncoder().encode("evil") };
    const cases: [string, Parameters<typeof makeTar>[0]][] = [
      ["'..'", [{ name: "ok.txt", ...file }, { name: "../evil", ...file }]],
      ["'..'", [{ name: "a/../../evil", ...file }]],
      ["absolute", [{ name: "/tmp/evil", ...file }]],
      ["leave", [{ name: "link", type: "symlink", linkname: "../../outside" }]],
      ["absolute", [{ name: "link", type: "symlink", linkname: "/etc" }]],
      ["'..'", [{ name: "hard", type: "link", linkname: "../outside" }]],
      ["not a file extracted", [{ name: "hard", type: "link", linkname: "missing.txt" }]],
      ["character-device", [{ name: "null", type: "character-device" }]],
      ["duplicate", [{ name: "a.txt", ...file }, { name: "a.txt", ...file }]],
    ];
    for (const [why, entries] of cases) {
      const archive = join(root, "a.tar.gz");
      await Deno.writeFile(archive, await makeTar(entries));
      const e = await assertRejects(() => extractTarSafely(archive, dest), BenchError);
      assertEquals(e.code, "archive_unsafe");
      assertStringIncludes(e.message, why);
      assertEquals(await listing(join(root, "x")), [
        "dest",
        ...(await listing(dest)).map((n) => `dest/${n}`),
      ]);
      await Deno.remove(dest, { recursive: true });
      await Deno.mkdir(dest);
    }
    // A symlink inside the folder is fine; writing through it is not.
    const archive = join(root, "b.tar");
    await Deno.writeFile(
      archive,
      await makeTar([
        { name: "d/", type: "directory" },
        { name: "d/f.txt", ...file },
        { name: "l", type: "symlink", linkname: "d" },
        { name: "l/g.txt", ...file },
      ], false),
    );
    const e = await assertRejects(
      () => extractTarSafely(archive, dest),
      BenchError,
      "symbolic link",
    );
    assertEquals(e.code, "archive_unsafe");
    // Through get: an archive with an escaping symlink installs nothing.
    const evil = await makeTar([
      { name: "cifar-10-batches-bin/data_batch_1.bin", data: cifarRecords(0, 2, () => [1]) },
      { name: "cifar-10-batches-bin/escape", type: "symlink", linkname: "../../../outside" },
    ]);
    const srv = serve(new Map([["cifar-10-binary.tar.gz", evil]]));
    try {
      const dataDir = join(root, "data");
      const manifest = await fixtureManifest();
      Object.assign(manifest.datasets.cifar10.sources[0], {
        size: evil.length,
        md5: md5(evil),
        sha256: null,
      });
      const err = await assertRejects(
        () => getDataset("cifar10", { dataDir, urlBase: srv.base, manifest }),
        BenchError,
      );
      assertEquals(err.code, "archive_unsafe");
      assertEquals(await listing(join(dataDir, "cifar10")), []);
    } finally {
      await srv.close();
    }
  });
});

Deno.test("extract: truncated archives are clear errors", async () => {
  await withTemp(async (root) => {
    const entries = [{ name: "a.bin", data: new Uint8Array(5000).fill(7) }, {
      name: "b.bin",
      data: new Uint8Array(600).fill(1),
    }];
    const gz = await makeTar(entries);
    const tar = await makeTar(entries, false);
    const cases: [string, Uint8Array][] = [
      ["gz cut", gz.subarray(0, Math.floor(gz.length / 2))],
      ["tar cut mid-entry", tar.subarray(0, 3000)],
      ["tar cut at an entry boundary", tar.subarray(0, 512 + 5120)],
    ];
    for (const [what, bytes] of cases) {
      const path = join(root, "t.tar");
      await Deno.writeFile(path, bytes);
      const dest = await Deno.makeTempDir({ dir: root });
      const e = await assertRejects(() => extractTarSafely(path, dest), BenchError);
      assertEquals(e.code, "archive_corrupt", what);
      assertStringIncludes(e.hint ?? "", "truncated", `${what}: ${e.message}`);
    }
    const ok = join(root, "ok.tar");
    await Deno.writeFile(ok, tar);
    const dest = await Deno.makeTempDir({ dir: root });
    assertEquals((await extractTarSafely(ok, dest)).files, ["a.bin", "b.bin"]);
  });
});

Deno.test("progress: one updating line on a TTY, sparse lines otherwise", () => {
  let t = 0;
  const out: string[] = [];
  const bar = new ProgressBar("f.tar.gz", 1000, {
    tty: false,
    write: (s) => out.push(s),
    now: () => t,
  });
  for (let b = 0; b <= 1000; b += 10) {
    t += 10;
    bar.update(b);
  }
  bar.finish();
  assertEquals(out.length, 11);
  assertStringIncludes(out[5], "50.0%");
  assertStringIncludes(out[5], "ETA");
  const tty: string[] = [];
  t = 0;
  const bar2 = new ProgressBar("f", 1000, { tty: true, write: (s) => tty.push(s), now: () => t });
  for (let b = 0; b <= 1000; b += 10) {
    t += 50;
    bar2.update(b);
  }
  bar2.finish();
  assert(tty.every((s) => s.startsWith("\r")), "redraws in place");
  assert(tty.length < 60, `throttled: ${tty.length}`);
});

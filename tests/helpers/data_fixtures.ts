/**
 * Generators of small dataset files in the exact on-disk formats (CIFAR binary records, STL-10
 * column-major images, gzip'd idx, JPEG folders, tar archives), and a manifest pointing at them.
 *
 * @module
 */
import { join } from "node:path";
import tarStream from "tar-stream";
import sharp from "sharp";
import { type DatasetManifest, loadManifest } from "../../src/data/manifest.ts";

/** The pixel value a fixture image `i` has at (y, x, c): easy to recompute in a test. */
export function fixturePixel(i: number, y: number, x: number, c: number): number {
  return (i * 7 + y * 3 + x * 5 + c * 11) & 255;
}

/** HWC bytes of fixture image `i`. */
export function fixtureImageHwc(i: number, h: number, w: number, ch: number): Uint8Array {
  const out = new Uint8Array(h * w * ch);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < ch; c++) out[(y * w + x) * ch + c] = fixturePixel(i, y, x, c);
    }
  }
  return out;
}

/** CIFAR binary records (planar pixels) for images `first..first+n-1`, labels `label(i)`. */
export function cifarRecords(
  first: number,
  n: number,
  labelBytes: (i: number) => number[],
): Uint8Array {
  const lb = labelBytes(0).length;
  const rec = lb + 3072;
  const out = new Uint8Array(n * rec);
  for (let r = 0; r < n; r++) {
    const i = first + r;
    out.set(labelBytes(i), r * rec);
    for (let c = 0; c < 3; c++) {
      for (let y = 0; y < 32; y++) {
        for (let x = 0; x < 32; x++) {
          out[r * rec + lb + c * 1024 + y * 32 + x] = fixturePixel(i, y, x, c);
        }
      }
    }
  }
  return out;
}

/** STL-10 `*_X.bin` bytes: images `first..first+n-1`, each channel column-major. */
export function stlImages(first: number, n: number): Uint8Array {
  const out = new Uint8Array(n * 27648);
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < 3; c++) {
      for (let x = 0; x < 96; x++) {
        for (let y = 0; y < 96; y++) {
          out[r * 27648 + c * 9216 + x * 96 + y] = fixturePixel(first + r, y, x, c);
        }
      }
    }
  }
  return out;
}

/** gzip of `bytes`. */
export async function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as BlobPart]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** An idx file: magic (0, 0, 0x08, ndims), big-endian dims, data. */
export function idxBytes(dims: number[], data: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  const view = new DataView(out.buffer);
  out[2] = 0x08;
  out[3] = dims.length;
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  out.set(data, 4 + 4 * dims.length);
  return out;
}

/** An entry for {@linkcode makeTar}. */
export interface TarFixtureEntry {
  name: string;
  type?: "file" | "directory" | "symlink" | "link" | "character-device";
  data?: Uint8Array;
  linkname?: string;
}

/** A tar archive (gzip'd when `gz`) of `entries`, made with tar-stream. */
export async function makeTar(entries: TarFixtureEntry[], gz = true): Promise<Uint8Array> {
  const pack = tarStream.pack();
  const chunks: Uint8Array[] = [];
  const done = new Promise<void>((resolve, reject) => {
    pack.on("data", (c: Uint8Array) => chunks.push(c));
    pack.on("end", () => resolve());
    pack.on("error", reject);
  });
  for (const e of entries) {
    await new Promise<void>((resolve, reject) => {
      const header: Record<string, unknown> = { name: e.name, type: e.type ?? "file" };
      if (e.linkname) header.linkname = e.linkname;
      if (e.type === "character-device") Object.assign(header, { devmajor: 1, devminor: 3 });
      pack.entry(
        header,
        e.data ?? (e.type && e.type !== "file" ? undefined : new Uint8Array()),
        (err: unknown) => err ? reject(err) : resolve(),
      );
    });
  }
  pack.finalize();
  await done;
  const tar = new Uint8Array(chunks.reduce((a, c) => a + c.length, 0));
  let o = 0;
  for (const c of chunks) {
    tar.set(c, o);
    o += c.length;
  }
  return gz ? await gzip(tar) : tar;
}

/** Writes the files of a small STL-10 (`stl10_binary/`) under `root`. */
export async function writeStlFixture(
  root: string,
  n: { train: number; test: number; unlabeled: number },
): Promise<{ folds: number[][] }> {
  const dir = join(root, "stl10_binary");
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeFile(join(dir, "train_X.bin"), stlImages(0, n.train));
  await Deno.writeFile(
    join(dir, "train_y.bin"),
    Uint8Array.from({ length: n.train }, (_, i) => (i % 10) + 1),
  );
  await Deno.writeFile(join(dir, "test_X.bin"), stlImages(1000, n.test));
  await Deno.writeFile(
    join(dir, "test_y.bin"),
    Uint8Array.from({ length: n.test }, (_, i) => ((i + 3) % 10) + 1),
  );
  await Deno.writeFile(join(dir, "unlabeled_X.bin"), stlImages(5000, n.unlabeled));
  const folds = Array.from(
    { length: 10 },
    (_, f) => Array.from({ length: 5 }, (_, k) => (f * 29 + k * 53) % n.train),
  );
  await Deno.writeTextFile(
    join(dir, "fold_indices.txt"),
    folds.map((l) => l.join(" ") + " ").join("\n") + "\n",
  );
  return { folds };
}

/** Writes a JPEG image folder `<root>/<split>/<wnid>/*.JPEG` of solid colours. */
export async function writeJpegFolder(
  root: string,
  layout: Record<string, Record<string, number>>,
): Promise<void> {
  let k = 0;
  for (const [split, classes] of Object.entries(layout)) {
    for (const [wnid, count] of Object.entries(classes)) {
      const dir = join(root, split, wnid);
      await Deno.mkdir(dir, { recursive: true });
      for (let i = 0; i < count; i++, k++) {
        const w = 40 + 10 * (k % 3), h = 30 + 7 * (k % 2);
        await sharp({
          create: { width: w, height: h, channels: 3, background: { r: 200, g: 20 + k, b: 60 } },
        })
          .jpeg({ quality: 95 })
          .toFile(join(dir, `${wnid}_${i}.JPEG`));
      }
    }
  }
}

/** The real manifest with split lengths cleared, so small fixtures pass the length checks. */
export async function fixtureManifest(): Promise<DatasetManifest> {
  const m = structuredClone(await loadManifest());
  for (const ds of Object.values(m.datasets)) {
    for (const s of Object.values(ds.splits)) s.length = null;
  }
  return m;
}

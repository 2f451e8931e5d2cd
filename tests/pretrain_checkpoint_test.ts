import * as tf from "@tensorflow/tfjs";
import {
  decodeSafetensors,
  encodeSafetensors,
  type StoredTensor,
} from "../src/train/safetensors.ts";
import {
  addGroup,
  type Checkpoint,
  decodeCheckpoint,
  encodeCheckpoint,
  groupTensors,
  readCheckpoint,
  restoreVariables,
  variablesOf,
  writeCheckpoint,
} from "../src/train/checkpoint.ts";
import { BenchError } from "../src/util/errors.ts";
import { assert, assertEquals, assertThrows } from "../src/testing/asserts.ts";

await tf.setBackend("cpu");

const sample = () =>
  new Map<string, StoredTensor>([
    ["b", { dtype: "I32", shape: [3], data: new Int32Array([1, -2, 3]) }],
    ["a", { dtype: "F32", shape: [2, 2], data: new Float32Array([0.5, -1, 2, Math.PI]) }],
    ["s", { dtype: "F32", shape: [], data: new Float32Array([7]) }],
    ["u", { dtype: "U8", shape: [1], data: new Uint8Array([255]) }],
  ]);

const meta = {
  runId: "r1",
  specHash: "abc",
  step: 10,
  epoch: 1,
  stepInEpoch: 3,
  stepsPerEpoch: 7,
  status: "running" as const,
};

Deno.test("safetensors: layout is the documented one", () => {
  const bytes = encodeSafetensors(sample(), { step: "10" });
  const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assertEquals((8 + n) % 8, 0, "data starts 8-byte aligned");
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  assertEquals(header.__metadata__, { step: "10" });
  assertEquals(header.a, { dtype: "F32", shape: [2, 2], data_offsets: [0, 16] });
  assertEquals(header.b, { dtype: "I32", shape: [3], data_offsets: [16, 28] });
  assertEquals(header.s.data_offsets, [28, 32]);
  assertEquals(bytes.length, 8 + n + 33);
  // Raw little-endian floats at the offsets.
  const view = new DataView(bytes.buffer, 8 + n);
  assertEquals(view.getFloat32(12, true), Math.fround(Math.PI));
  assertEquals(view.getInt32(20, true), -2);
});

Deno.test("safetensors: decodes a file assembled by hand, and round-trips", () => {
  const header = JSON.stringify({ x: { dtype: "F32", shape: [2], data_offsets: [0, 8] } });
  const head = new TextEncoder().encode(header);
  const bytes = new Uint8Array(8 + head.length + 8);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(head.length), true);
  bytes.set(head, 8);
  new DataView(bytes.buffer).setFloat32(8 + head.length, 1.5, true);
  new DataView(bytes.buffer).setFloat32(8 + head.length + 4, -2, true);
  const d = decodeSafetensors(bytes);
  assertEquals(Array.from(d.tensors.get("x")!.data), [1.5, -2]);
  assertEquals(d.metadata, {});
  const round = decodeSafetensors(encodeSafetensors(sample(), { k: "v" }));
  assertEquals(round.tensors, new Map([...sample()].sort()));
  assertEquals(round.metadata, { k: "v" });
});

Deno.test("safetensors: truncated or corrupt bytes are clear errors", () => {
  const bytes = encodeSafetensors(sample(), { a: "b" });
  for (const cut of [0, 5, 8, 20, bytes.length - 33, bytes.length - 1]) {
    const e = assertThrows(() => decodeSafetensors(bytes.subarray(0, cut), "f.safetensors"));
    assert(e instanceof BenchError && e.code === "checkpoint_corrupt", String(e));
    assertEquals(e.location, "f.safetensors");
  }
  const extra = new Uint8Array(bytes.length + 4);
  extra.set(bytes);
  assertThrows(() => decodeSafetensors(extra), BenchError, "data section");
  const garbled = bytes.slice();
  garbled[9] = 0x7b; // '{' inside the JSON
  garbled[10] = 0x7b;
  assertThrows(() => decodeSafetensors(garbled), BenchError, "JSON");
  const bad = (h: unknown, dataBytes: number) => {
    const head = new TextEncoder().encode(JSON.stringify(h));
    const out = new Uint8Array(8 + head.length + dataBytes);
    new DataView(out.buffer).setBigUint64(0, BigInt(head.length), true);
    out.set(head, 8);
    return out;
  };
  assertThrows(
    () => decodeSafetensors(bad({ x: { dtype: "F32", shape: [2], data_offsets: [0, 4] } }, 4)),
    BenchError,
    "bytes for shape",
  );
  assertThrows(
    () =>
      decodeSafetensors(bad({
        x: { dtype: "F32", shape: [1], data_offsets: [0, 4] },
        y: { dtype: "F32", shape: [1], data_offsets: [2, 6] },
      }, 6)),
    BenchError,
    "contiguous",
  );
  assertThrows(
    () => decodeSafetensors(bad({ x: { dtype: "Q4", shape: [1], data_offsets: [0, 1] } }, 1)),
    BenchError,
    "dtype",
  );
});

Deno.test("checkpoint: atomic write, read back, strict restore", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const w = tf.variable(tf.tensor2d([[1, 2], [3, 4]]));
    const s = tf.variable(tf.tensor1d([0.25]), false);
    const tensors = await addGroup(new Map(), "encoder", variablesOf([{ name: "w", variable: w }]));
    await addGroup(tensors, "optimizer", [{ name: "adam.step", tensor: tf.scalar(5, "int32") }]);
    await addGroup(tensors, "encoderState", variablesOf([{ name: "s", variable: s }]));
    const ckpt: Checkpoint = { tensors, meta };
    const path = `${dir}/last.safetensors`;
    await writeCheckpoint(path, ckpt);
    assertEquals([...Deno.readDirSync(dir)].map((e) => e.name), ["last.safetensors"]);
    const back = await readCheckpoint(path);
    assertEquals(back.meta, { ...meta, extra: {} });
    assertEquals(encodeCheckpoint(back), encodeCheckpoint(ckpt), "bytes are reproducible");

    w.assign(tf.zeros([2, 2]));
    restoreVariables(back, "encoder", [{ name: "w", variable: w }], path);
    assertEquals(Array.from(w.dataSync()), [1, 2, 3, 4]);
    const opt = groupTensors(back, "optimizer");
    assertEquals(opt.map((o) => [o.name, o.tensor.dtype, o.tensor.dataSync()[0]]), [
      ["adam.step", "int32", 5],
    ]);
    const other = tf.variable(tf.zeros([3]));
    assertThrows(
      () => restoreVariables(back, "encoder", [{ name: "w", variable: other }]),
      BenchError,
      "shape",
    );
    assertThrows(
      () => restoreVariables(back, "encoder", [{ name: "v", variable: w }]),
      BenchError,
      "unexpected tensor encoder/w",
    );
    assertThrows(
      () =>
        restoreVariables(back, "encoderState", [{ name: "s", variable: s }, {
          name: "t",
          variable: s,
        }]),
      BenchError,
      "missing tensor encoderState/t",
    );

    const bytes = await Deno.readFile(path);
    await Deno.writeFile(path, bytes.subarray(0, bytes.length - 3));
    await assertThrows(() => decodeCheckpoint(bytes.subarray(0, 100), path), BenchError);
    let err: unknown;
    try {
      await readCheckpoint(path);
    } catch (e) {
      err = e;
    }
    assert(err instanceof BenchError && err.code === "checkpoint_corrupt");
    try {
      await readCheckpoint(`${dir}/nope.safetensors`);
    } catch (e) {
      err = e;
    }
    assert(err instanceof BenchError && err.code === "checkpoint_missing");
    const foreign = encodeSafetensors(new Map(), { format: "other" });
    assertThrows(() => decodeCheckpoint(foreign, "x"), BenchError, "format");
    tf.dispose([w, s, other, ...opt.map((o) => o.tensor)]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/**
 * A small builder of ONNX models on top of `onnx-proto` (the protobufjs-generated ONNX message
 * types): float32 initializers, nodes with typed attributes, graph inputs and outputs with
 * symbolic dimensions, opset imports and `metadata_props`, encoded to the bytes of a `.onnx` file.
 *
 * `onnx-proto` carries the complete, generated ONNX schema (encoding and decoding), so no protobuf
 * wire format is written by hand here.
 *
 * @module
 */
import onnxProto from "onnx-proto";

/** The generated ONNX namespace (`ModelProto`, `GraphProto`, `TensorProto`, ...). */
export const onnx = onnxProto.onnx;

/** ONNX IR version written (IR 8, the version that goes with opsets 15–17). */
export const ONNX_IR_VERSION = 8;
/** Default-domain opset the exporter targets. */
export const ONNX_OPSET = 17;

/** An attribute value: a number is an INT when integral and `float: false`, see {@linkcode attr}. */
export type AttributeValue =
  | { kind: "int"; value: number }
  | { kind: "float"; value: number }
  | { kind: "string"; value: string }
  | { kind: "ints"; value: readonly number[] }
  | { kind: "floats"; value: readonly number[] };

/** Shorthands for typed attribute values. */
export const attr = {
  /** An INT attribute. */
  int: (value: number): AttributeValue => ({ kind: "int", value }),
  /** A FLOAT attribute. */
  float: (value: number): AttributeValue => ({ kind: "float", value }),
  /** A STRING attribute. */
  string: (value: string): AttributeValue => ({ kind: "string", value }),
  /** An INTS attribute. */
  ints: (value: readonly number[]): AttributeValue => ({ kind: "ints", value }),
  /** A FLOATS attribute. */
  floats: (value: readonly number[]): AttributeValue => ({ kind: "floats", value }),
};

/** Element types the builder declares for graph inputs and outputs. */
export type OnnxElementType = "float32" | "int64" | "uint8" | "int32";

const ELEMENT_TYPE: Record<OnnxElementType, number> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  int64: onnx.TensorProto.DataType.INT64,
  uint8: onnx.TensorProto.DataType.UINT8,
  int32: onnx.TensorProto.DataType.INT32,
};

/** A declared graph input or output: dims are sizes or symbolic names (e.g. `"N"`). */
export interface ValueDeclaration {
  name: string;
  elementType: OnnxElementType;
  /** Dimensions; `null` leaves the shape undeclared. */
  shape: readonly (number | string)[] | null;
}

function valueInfo(v: ValueDeclaration): InstanceType<typeof onnx.ValueInfoProto> {
  return onnx.ValueInfoProto.create({
    name: v.name,
    type: {
      tensorType: {
        elemType: ELEMENT_TYPE[v.elementType],
        ...(v.shape === null ? {} : {
          shape: {
            dim: v.shape.map((d) => typeof d === "number" ? { dimValue: d } : { dimParam: d }),
          },
        }),
      },
    },
  });
}

function attribute(name: string, v: AttributeValue): InstanceType<typeof onnx.AttributeProto> {
  const T = onnx.AttributeProto.AttributeType;
  switch (v.kind) {
    case "int":
      return onnx.AttributeProto.create({ name, type: T.INT, i: v.value });
    case "float":
      return onnx.AttributeProto.create({ name, type: T.FLOAT, f: v.value });
    case "string":
      return onnx.AttributeProto.create({
        name,
        type: T.STRING,
        s: new TextEncoder().encode(v.value),
      });
    case "ints":
      return onnx.AttributeProto.create({ name, type: T.INTS, ints: [...v.value] });
    case "floats":
      return onnx.AttributeProto.create({ name, type: T.FLOATS, floats: [...v.value] });
  }
}

/**
 * Collects the pieces of one ONNX graph and encodes the model.
 *
 * @example
 * ```ts
 * const g = new OnnxGraphBuilder("relu");
 * g.input({ name: "x", elementType: "float32", shape: ["N", 4] });
 * g.node("Relu", ["x"], ["y"]);
 * g.output({ name: "y", elementType: "float32", shape: ["N", 4] });
 * const bytes = g.encode({ metadata: { note: "example" } });
 * ```
 */
export class OnnxGraphBuilder {
  readonly #name: string;
  readonly #nodes: InstanceType<typeof onnx.NodeProto>[] = [];
  readonly #initializers: InstanceType<typeof onnx.TensorProto>[] = [];
  readonly #inputs: InstanceType<typeof onnx.ValueInfoProto>[] = [];
  readonly #outputs: InstanceType<typeof onnx.ValueInfoProto>[] = [];
  readonly #names = new Set<string>();
  #counter = 0;

  /** @param name the graph name */
  constructor(name: string) {
    this.#name = name;
  }

  /** A fresh value name with the given prefix (unique within the graph). */
  fresh(prefix: string): string {
    let name: string;
    do name = `${prefix}_${this.#counter++}`; while (this.#names.has(name));
    this.#names.add(name);
    return name;
  }

  /** Declares a graph input. */
  input(v: ValueDeclaration): string {
    this.#names.add(v.name);
    this.#inputs.push(valueInfo(v));
    return v.name;
  }

  /** Declares a graph output (the value must be produced by a node or be an input). */
  output(v: ValueDeclaration): string {
    this.#outputs.push(valueInfo(v));
    return v.name;
  }

  /** Adds a float32 initializer (stored as little-endian raw bytes). */
  floatInitializer(name: string, dims: readonly number[], data: Float32Array): string {
    const n = dims.reduce((a, b) => a * b, 1);
    if (data.length !== n) {
      throw new RangeError(`initializer ${name}: ${data.length} values for dims [${dims}]`);
    }
    this.#names.add(name);
    const raw = new Uint8Array(n * 4);
    const view = new DataView(raw.buffer);
    for (let i = 0; i < n; i++) view.setFloat32(i * 4, data[i], true);
    this.#initializers.push(onnx.TensorProto.create({
      name,
      dims: [...dims],
      dataType: onnx.TensorProto.DataType.FLOAT,
      rawData: raw,
    }));
    return name;
  }

  /** Adds an int64 initializer (e.g. the `pads` or `shape` input of Pad / Reshape). */
  int64Initializer(name: string, values: readonly number[]): string {
    this.#names.add(name);
    const raw = new Uint8Array(values.length * 8);
    const view = new DataView(raw.buffer);
    values.forEach((v, i) => view.setBigInt64(i * 8, BigInt(v), true));
    this.#initializers.push(onnx.TensorProto.create({
      name,
      dims: [values.length],
      dataType: onnx.TensorProto.DataType.INT64,
      rawData: raw,
    }));
    return name;
  }

  /** Adds a node; an empty string in `inputs` marks an omitted optional input. */
  node(
    opType: string,
    inputs: readonly string[],
    outputs: readonly string[],
    attributes: Record<string, AttributeValue> = {},
    name?: string,
  ): void {
    for (const o of outputs) this.#names.add(o);
    this.#nodes.push(onnx.NodeProto.create({
      opType,
      input: [...inputs],
      output: [...outputs],
      name: name ?? `${opType}_${this.#nodes.length}`,
      attribute: Object.entries(attributes).map(([k, v]) => attribute(k, v)),
    }));
  }

  /** The model as an `onnx.ModelProto` message. */
  model(opts: ModelOptions = {}): InstanceType<typeof onnx.ModelProto> {
    const { node, initializer } = opts.pruneUnused
      ? this.#live()
      : { node: this.#nodes, initializer: this.#initializers };
    return onnx.ModelProto.create({
      irVersion: ONNX_IR_VERSION,
      opsetImport: [{ domain: "", version: ONNX_OPSET }],
      producerName: "amdim-bench",
      producerVersion: opts.producerVersion ?? "0.1.0",
      docString: opts.docString ?? "",
      graph: onnx.GraphProto.create({
        name: this.#name,
        node,
        initializer,
        input: this.#inputs,
        output: this.#outputs,
      }),
      metadataProps: Object.entries(opts.metadata ?? {}).map(([key, value]) => ({ key, value })),
    });
  }

  /** Encodes the model to `.onnx` bytes. */
  encode(opts: EncodeOptions = {}): Uint8Array {
    return onnx.ModelProto.encode(this.model(opts)).finish();
  }

  /** The nodes and initializers some graph output depends on, in their original order. */
  #live(): {
    node: InstanceType<typeof onnx.NodeProto>[];
    initializer: InstanceType<typeof onnx.TensorProto>[];
  } {
    const needed = new Set(this.#outputs.map((o) => o.name));
    const keep: boolean[] = new Array(this.#nodes.length).fill(false);
    for (let i = this.#nodes.length - 1; i >= 0; i--) {
      const n = this.#nodes[i];
      if (!(n.output ?? []).some((o) => needed.has(o))) continue;
      keep[i] = true;
      for (const input of n.input ?? []) if (input) needed.add(input);
    }
    return {
      node: this.#nodes.filter((_, i) => keep[i]),
      initializer: this.#initializers.filter((t) => needed.has(t.name ?? "")),
    };
  }
}

/** Options of {@linkcode OnnxGraphBuilder.encode}. */
export interface EncodeOptions {
  /** `metadata_props` entries. */
  metadata?: Record<string, string>;
  /** The model's doc string. */
  docString?: string;
  /**
   * Leave out every node and initializer that no graph output depends on (default false: the
   * graph is written as built).
   */
  pruneUnused?: boolean;
}

/** Options of {@linkcode OnnxGraphBuilder.model}. */
export interface ModelOptions extends EncodeOptions {
  /** `producer_version` (default `0.1.0`). */
  producerVersion?: string;
}

/**
 * Decodes the `metadata_props` of ONNX model bytes (no graph validation).
 *
 * @example
 * ```ts
 * const meta = readOnnxMetadata(await Deno.readFile("model.onnx"));
 * console.log(meta["amdim.specHash"]);
 * ```
 */
export function readOnnxMetadata(bytes: Uint8Array): Record<string, string> {
  const m = onnx.ModelProto.decode(bytes);
  const out: Record<string, string> = {};
  for (const e of m.metadataProps ?? []) out[e.key ?? ""] = e.value ?? "";
  return out;
}

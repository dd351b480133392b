/**
 * Writes a new classification head into an ONNX model, at the protobuf wire level: the parent's graph is
 * kept byte for byte, except that the node which produced the output is renamed to feed nothing, and two
 * nodes (Gemm on the embedding, Softmax) produce the output under its old name. Any ONNX runtime then
 * serves the result as one file: same input, same outputs (`probabilities`, `embedding`).
 *
 * Only the handful of ONNX fields this touches are named here (onnx.proto field numbers):
 * ModelProto.graph = 7; GraphProto.node = 1, initializer = 5, output = 12; NodeProto.input = 1,
 * output = 2, name = 3, op_type = 4, attribute = 5; AttributeProto.name = 1, i = 3, type = 20 (INT = 2);
 * TensorProto.dims = 1, data_type = 2 (FLOAT = 1), name = 8, raw_data = 9; ValueInfoProto.name = 1.
 */

const VARINT = 0;
const FIXED64 = 1;
const LEN = 2;
const FIXED32 = 5;

/** One field as it was read: its number, and its bytes from tag to end (so it can be copied verbatim). */
interface WireField {
  field: number;
  wireType: number;
  raw: Uint8Array;
  /** For LEN fields: the payload. */
  payload: Uint8Array;
}

export class OnnxEditError extends Error {
  override name = 'OnnxEditError';
}

function readVarint(bytes: Uint8Array, at: number): [value: number, next: number] {
  let value = 0;
  let factor = 1;
  for (let i = at; i < bytes.length && i < at + 10; i++) {
    const byte = bytes[i]!;
    value += (byte & 0x7f) * factor;
    factor *= 128;
    if ((byte & 0x80) === 0) return [value, i + 1];
  }
  throw new OnnxEditError('not an ONNX model: a truncated varint');
}

function readFields(bytes: Uint8Array): WireField[] {
  const fields: WireField[] = [];
  let at = 0;
  while (at < bytes.length) {
    const start = at;
    const [tag, afterTag] = readVarint(bytes, at);
    const wireType = tag % 8;
    let payload: Uint8Array = new Uint8Array(0);
    switch (wireType) {
      case VARINT:
        at = readVarint(bytes, afterTag)[1];
        break;
      case FIXED64:
        at = afterTag + 8;
        break;
      case FIXED32:
        at = afterTag + 4;
        break;
      case LEN: {
        const [length, afterLength] = readVarint(bytes, afterTag);
        at = afterLength + length;
        payload = bytes.subarray(afterLength, at);
        break;
      }
      default:
        throw new OnnxEditError(`not an ONNX model: wire type ${wireType}`);
    }
    if (at > bytes.length) throw new OnnxEditError('not an ONNX model: a field runs past the end');
    fields.push({ field: Math.floor(tag / 8), wireType, raw: bytes.subarray(start, at), payload });
  }
  return fields;
}

function varint(value: number): number[] {
  const out: number[] = [];
  let rest = value;
  while (rest >= 128) {
    out.push((rest % 128) | 0x80);
    rest = Math.floor(rest / 128);
  }
  out.push(rest);
  return out;
}

const utf8 = new TextEncoder();
const text = new TextDecoder();

function lenField(field: number, payload: Uint8Array): Uint8Array {
  return concat([Uint8Array.from([...varint(field * 8 + LEN), ...varint(payload.length)]), payload]);
}
const stringField = (field: number, value: string) => lenField(field, utf8.encode(value));
const varintField = (field: number, value: number) =>
  Uint8Array.from([...varint(field * 8 + VARINT), ...varint(value)]);

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

function floatTensor(name: string, dims: number[], values: Float32Array): Uint8Array {
  const raw = new Uint8Array(values.length * 4);
  const view = new DataView(raw.buffer);
  values.forEach((v, i) => view.setFloat32(i * 4, v, true));
  return concat([...dims.map((d) => varintField(1, d)), varintField(2, 1), stringField(8, name), lenField(9, raw)]);
}

function node(
  opType: string,
  name: string,
  inputs: string[],
  outputs: string[],
  intAttributes: Record<string, number>,
) {
  const attributes = Object.entries(intAttributes).map(([key, value]) =>
    lenField(5, concat([stringField(1, key), varintField(3, value), varintField(20, 2)])),
  );
  return concat([
    ...inputs.map((i) => stringField(1, i)),
    ...outputs.map((o) => stringField(2, o)),
    stringField(3, name),
    stringField(4, opType),
    ...attributes,
  ]);
}

/** The node with `output` among its outputs, rewritten to produce `renamed` instead. */
function renameNodeOutput(nodeBytes: Uint8Array, output: string, renamed: string): Uint8Array | null {
  const fields = readFields(nodeBytes);
  if (!fields.some((f) => f.field === 2 && text.decode(f.payload) === output)) return null;
  return concat(
    fields.map((f) => (f.field === 2 && text.decode(f.payload) === output ? stringField(2, renamed) : f.raw)),
  );
}

export interface NewHead {
  /** Row-major [classes, embeddingSize]: logits = embedding · weightsᵀ + bias. */
  weights: Float32Array;
  bias: Float32Array;
  classes: number;
}

/**
 * The parent model with `outputName` computed as softmax(Gemm(`embeddingName`, head)) instead of by
 * the parent's own head. Throws OnnxEditError when the parent lacks either output.
 */
export function withNewHead(
  parent: Uint8Array,
  head: NewHead,
  names: { output: string; embedding: string; prefix: string },
): Uint8Array {
  const model = readFields(parent);
  const graphField = model.find((f) => f.field === 7 && f.wireType === LEN);
  if (!graphField) throw new OnnxEditError('not an ONNX model: no graph');
  const graph = readFields(graphField.payload);
  // ValueInfoProto.name is field 1.
  const outputs = graph
    .filter((f) => f.field === 12)
    .map((f) => text.decode(readFields(f.payload).find((v) => v.field === 1)?.payload));
  for (const wanted of [names.output, names.embedding]) {
    if (!outputs.includes(wanted)) throw new OnnxEditError(`the parent graph has no output named ${wanted}`);
  }
  const parentOutput = `${names.prefix}parent_${names.output}`;
  let renamed = 0;
  const keptGraph = graph.map((f) => {
    if (f.field !== 1) return f.raw;
    const rewritten = renameNodeOutput(f.payload, names.output, parentOutput);
    if (!rewritten) return f.raw;
    renamed++;
    return lenField(1, rewritten);
  });
  if (renamed !== 1) throw new OnnxEditError(`expected one node producing ${names.output}, found ${renamed}`);
  const size = head.weights.length / head.classes;
  const weightName = `${names.prefix}head_weight`;
  const biasName = `${names.prefix}head_bias`;
  const logits = `${names.prefix}head_logits`;
  const added = [
    lenField(5, floatTensor(weightName, [head.classes, size], head.weights)),
    lenField(5, floatTensor(biasName, [head.classes], head.bias)),
    lenField(1, node('Gemm', `${names.prefix}head`, [names.embedding, weightName, biasName], [logits], { transB: 1 })),
    lenField(1, node('Softmax', `${names.prefix}head_softmax`, [logits], [names.output], { axis: 1 })),
  ];
  const newGraph = concat([...keptGraph, ...added]);
  return concat(model.map((f) => (f === graphField ? lenField(7, newGraph) : f.raw)));
}

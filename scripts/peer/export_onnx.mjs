// Writes FOLDER/onnx/model.onnx from a BERT model folder (config.json + model.safetensors, float32)
// for the transformers.js / ONNX Runtime peer, without Python: the same graph torch.onnx.export
// writes for Hugging Face's BertModel in eager mode (separate query/key/value MatMul+Add, scores
// scaled by 1/sqrt(d), additive mask of the float minimum, Softmax, erf GELU, LayerNormalization),
// opset 17, dynamic batch and sequence axes, inputs input_ids / attention_mask / token_type_ids,
// output last_hidden_state. ONNX Runtime applies its own fusions to it as to a torch export.
// A benchmark tool (the peer's side), not part of sbert.
//   node scripts/peer/export_onnx.mjs FOLDER
import fs from "node:fs";
import path from "node:path";

// ---- protobuf wire format (just what onnx.proto needs) ----
class Writer {
  constructor() { this.parts = []; }
  bytes() { return Buffer.concat(this.parts); }
  raw(b) { this.parts.push(b); return this; }
  varint(v) {
    let x = BigInt.asUintN(64, BigInt(v));
    const out = [];
    do {
      let byte = Number(x & 0x7fn);
      x >>= 7n;
      if (x) byte |= 0x80;
      out.push(byte);
    } while (x);
    return this.raw(Buffer.from(out));
  }
  key(field, wire) { return this.varint((field << 3) | wire); }
  int(field, v) { return this.key(field, 0).varint(v); }
  float(field, v) { const b = Buffer.alloc(4); b.writeFloatLE(v); return this.key(field, 5).raw(b); }
  len(field, buf) { return this.key(field, 2).varint(buf.length).raw(buf); }
  str(field, s) { return this.len(field, Buffer.from(s, "utf8")); }
  msg(field, w) { return this.len(field, w.bytes()); }
}

const FLOAT = 1, INT64 = 7;
const ATTR = { FLOAT: 1, INT: 2, INTS: 7 };

function tensorProto(name, dataType, dims, data) {
  const w = new Writer();
  for (const d of dims) w.int(1, d);
  w.int(2, dataType).str(8, name).len(9, data);
  return w;
}

function valueInfo(name, elemType, dims) {
  const shape = new Writer();
  for (const d of dims) shape.msg(1, typeof d === "string" ? new Writer().str(2, d) : new Writer().int(1, d));
  const tensor = new Writer().int(1, elemType).msg(2, shape);
  return new Writer().str(1, name).msg(2, new Writer().msg(1, tensor));
}

// ---- the model ----
const folder = process.argv[2];
if (!folder) { console.error("usage: node export_onnx.mjs FOLDER"); process.exit(2); }
const config = JSON.parse(fs.readFileSync(path.join(folder, "config.json"), "utf8"));
if (config.model_type !== "bert") { console.error(`export_onnx: model_type ${config.model_type} (only bert)`); process.exit(2); }
const st = fs.readFileSync(path.join(folder, "model.safetensors"));
const headerLen = Number(st.readBigUInt64LE(0));
const header = JSON.parse(st.subarray(8, 8 + headerLen).toString("utf8"));
const prefix = header["bert.embeddings.word_embeddings.weight"] ? "bert." : "";
function weight(name) {
  const t = header[prefix + name];
  if (!t) throw new Error(`export_onnx: ${prefix + name} missing in model.safetensors`);
  if (t.dtype !== "F32") throw new Error(`export_onnx: ${name} is ${t.dtype} (float32 only)`);
  const [a, b] = t.data_offsets;
  return { shape: t.shape, data: st.subarray(8 + headerLen + a, 8 + headerLen + b) };
}
function transposed(w) {  // [out, in] -> [in, out] for MatMul
  const [rows, cols] = w.shape;
  const src = new Float32Array(w.data.buffer.slice(w.data.byteOffset, w.data.byteOffset + w.data.length));
  const dst = new Float32Array(rows * cols);
  for (let r = 0; r < rows; ++r) for (let c = 0; c < cols; ++c) dst[c * rows + r] = src[r * cols + c];
  return { shape: [cols, rows], data: Buffer.from(dst.buffer) };
}

const H = config.hidden_size, nh = config.num_attention_heads, d = H / nh;
const eps = config.layer_norm_eps ?? 1e-12;
const graph = new Writer();
const inits = [];
let counter = 0;
function init(name, dataType, dims, data) { inits.push(tensorProto(name, dataType, dims, data)); return name; }
function f32(name, values, dims = [values.length]) { return init(name, FLOAT, dims, Buffer.from(new Float32Array(values).buffer)); }
function i64(name, values, dims = [values.length]) { return init(name, INT64, dims, Buffer.from(new BigInt64Array(values.map(BigInt)).buffer)); }
function w32(name, w) { return init(name, FLOAT, w.shape, w.data); }
function node(op, inputs, attrs = {}, outName) {
  const out = outName ?? `${op.toLowerCase()}_${counter++}`;
  const n = new Writer();
  for (const i of inputs) n.str(1, i);
  n.str(2, out).str(3, `${op}_${counter++}`).str(4, op);
  for (const [k, v] of Object.entries(attrs)) {
    const a = new Writer().str(1, k);
    if (Array.isArray(v)) { for (const x of v) a.int(8, x); a.int(20, ATTR.INTS); }
    else if (Number.isInteger(v) && !k.startsWith("f_")) a.int(3, v).int(20, ATTR.INT);
    else a.float(2, v).int(20, ATTR.FLOAT);
    n.msg(5, a);
  }
  graph.msg(1, n);
  return out;
}
const linear = (x, name) => node("Add", [node("MatMul", [x, w32(`${name}.weight_t`, transposed(weight(`${name}.weight`)))]), w32(`${name}.bias`, weight(`${name}.bias`))]);
const layerNorm = (x, name) => node("LayerNormalization", [x, w32(`${name}.weight`, weight(`${name}.weight`)), w32(`${name}.bias`, weight(`${name}.bias`))], { axis: -1, epsilon: eps });

// embeddings
const seqLen = node("Gather", [node("Shape", ["input_ids"]), i64("one_i", [1], [])], { axis: 0 });
const positions = node("Unsqueeze", [node("Range", [i64("zero_i", [0], []), seqLen, "one_i"]), i64("axes0", [0])]);
let x = node("Add", [
  node("Add", [node("Gather", [w32("word_embeddings", weight("embeddings.word_embeddings.weight")), "input_ids"]),
               node("Gather", [w32("token_type_embeddings", weight("embeddings.token_type_embeddings.weight")), "token_type_ids"])]),
  node("Gather", [w32("position_embeddings", weight("embeddings.position_embeddings.weight")), positions])]);
x = layerNorm(x, "embeddings.LayerNorm");
// additive mask [B, 1, 1, L]: (1 - mask) * float minimum
const maskF = node("Cast", ["attention_mask"], { to: FLOAT });
const bias = node("Unsqueeze", [node("Mul", [node("Sub", [f32("one_f", [1], []), maskF]), f32("min_f", [-3.4028234663852886e38], [])]), i64("axes12", [1, 2])]);
const headShape = i64("head_shape", [0, 0, nh, d]), flatShape = i64("flat_shape", [0, 0, H]);
const scale = f32("scale", [1 / Math.sqrt(d)], []);
for (let l = 0; l < config.num_hidden_layers; ++l) {
  const p = `encoder.layer.${l}.`;
  const heads = (name, perm) => node("Transpose", [node("Reshape", [linear(x, p + name), headShape])], { perm });
  const q = heads("attention.self.query", [0, 2, 1, 3]);
  const k = heads("attention.self.key", [0, 2, 3, 1]);
  const v = heads("attention.self.value", [0, 2, 1, 3]);
  const scores = node("Add", [node("Mul", [node("MatMul", [q, k]), scale]), bias]);
  const ctx = node("Reshape", [node("Transpose", [node("MatMul", [node("Softmax", [scores], { axis: -1 }), v])], { perm: [0, 2, 1, 3] }), flatShape]);
  const h1 = layerNorm(node("Add", [linear(ctx, p + "attention.output.dense"), x]), p + "attention.output.LayerNorm");
  const up = linear(h1, p + "intermediate.dense");
  const gelu = node("Mul", [node("Mul", [up, node("Add", [node("Erf", [node("Div", [up, f32("sqrt2", [Math.SQRT2], [])])]), "one_f"])]), f32("half", [0.5], [])]);
  const out = layerNorm(node("Add", [linear(gelu, p + "output.dense"), h1]), p + "output.LayerNorm");
  x = out;
}
node("Identity", [x], {}, "last_hidden_state");

graph.str(2, "bert");
for (const t of inits) graph.msg(5, t);
for (const n of ["input_ids", "attention_mask", "token_type_ids"]) graph.msg(11, valueInfo(n, INT64, ["batch", "seq"]));
graph.msg(12, valueInfo("last_hidden_state", FLOAT, ["batch", "seq", H]));
const model = new Writer().int(1, 8).str(2, "sbert scripts/peer/export_onnx.mjs").msg(7, graph)
  .msg(8, new Writer().str(1, "").int(2, 17));
fs.mkdirSync(path.join(folder, "onnx"), { recursive: true });
const outPath = path.join(folder, "onnx", "model.onnx");
fs.writeFileSync(outPath + ".tmp", model.bytes());
fs.renameSync(outPath + ".tmp", outPath);
console.log(outPath);

// The official OpenAI Node client against `sbert serve` (tests/cli/serve_cli_test.cpp runs it):
// node openai_embeddings.mjs BASE_URL TEXT... prints {"float": [[...]], "base64": [[...]],
// "default": [[...]], "usage": {...}, "model": "..."} on stdout.
import OpenAI from "openai";

const [baseURL, ...texts] = process.argv.slice(2);
const client = new OpenAI({ baseURL: baseURL + "/v1", apiKey: process.env.SBERT_API_KEY || "unused", maxRetries: 0 });

const asFloat = await client.embeddings.create({ model: "sbert", input: texts, encoding_format: "float" });
const asBase64 = await client.embeddings.create({ model: "sbert", input: texts, encoding_format: "base64" });
const byDefault = await client.embeddings.create({ model: "sbert", input: texts }); // the client asks base64, decodes

const decode = (s) => {
  const b = Buffer.from(s, "base64");
  return Array.from(new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4));
};
console.log(JSON.stringify({
  float: asFloat.data.map((d) => d.embedding),
  base64: asBase64.data.map((d) => decode(d.embedding)),
  default: byDefault.data.map((d) => d.embedding),
  usage: asFloat.usage,
  model: asFloat.model,
}));

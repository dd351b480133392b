// Scores uint8 NHWC pictures with an exported bottle-state model in onnxruntime-node (the service's runtime)
// and writes the `probabilities` output as float32. Used by average_models.py.
//
//   node training/score_onnx.mjs MODEL.onnx PICTURES.bin SIZE OUT.f32
import { createRequire } from "node:module";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const repo = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const require = createRequire(path.join(repo, "services", "inference", "package.json"));
const ort = require("onnxruntime-node");

const [modelPath, picturesPath, sizeText, outPath] = process.argv.slice(2);
const size = Number(sizeText);
const pixels = new Uint8Array(fs.readFileSync(picturesPath));
const perPicture = size * size * 3;
const count = pixels.length / perPicture;
if (!Number.isInteger(count)) throw new Error(`${picturesPath} is not a whole number of ${size}x${size} RGB pictures`);

const session = await ort.InferenceSession.create(modelPath, { intraOpNumThreads: 2 });
const out = new Float32Array(count * 2);
const BATCH = 64;
for (let a = 0; a < count; a += BATCH) {
  const n = Math.min(BATCH, count - a);
  const input = new ort.Tensor("uint8", pixels.subarray(a * perPicture, (a + n) * perPicture), [n, size, size, 3]);
  const result = await session.run({ image: input });
  out.set(result.probabilities.data, a * 2);
}
fs.writeFileSync(outPath, Buffer.from(out.buffer));

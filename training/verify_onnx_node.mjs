// Runs an exported bottle-state model in onnxruntime-node (the runtime the service uses) and compares it
// with torch on the reference pictures train_v3.py saved (reference.bin + reference.json in its workdir):
// outputs, dynamic batch (1, 3, all), probabilities summing to 1, the manifest's contract.
//
//   node training/verify_onnx_node.mjs models/bottle-state/3 /tmp/capcheck-v3
//
// onnxruntime-node is resolved from the repository's node_modules (run `pnpm install` first).
import { createRequire } from "node:module";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const repo = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const require = createRequire(path.join(repo, "services", "inference", "package.json"));
const ort = require("onnxruntime-node");

const [modelDir, workdir] = process.argv.slice(2);
const manifest = JSON.parse(fs.readFileSync(path.join(modelDir, "manifest.json"), "utf8"));
const ref = JSON.parse(fs.readFileSync(path.join(workdir, "reference.json"), "utf8"));
const pixels = new Uint8Array(fs.readFileSync(path.join(workdir, "reference.bin")));
const [n, h, w, c] = ref.shape;
const per = h * w * c;

const session = await ort.InferenceSession.create(path.join(modelDir, "model.onnx"), {
  intraOpNumThreads: 1,
});
let maxProb = 0;
let maxEmb = 0;
let maxSum = 0;
let argmaxAgree = 0;
const batches = [1, 3, n];
for (const b of batches) {
  for (let start = 0; start + b <= n; start += b) {
    const input = new ort.Tensor("uint8", pixels.subarray(start * per, (start + b) * per), [b, h, w, c]);
    const out = await session.run({ [manifest.input.name]: input });
    const probs = out[manifest.output.name].data;
    const emb = out[manifest.embedding.name].data;
    const d = manifest.embedding.size;
    for (let i = 0; i < b; i++) {
      const want = ref.probabilities[start + i];
      const got = [probs[2 * i], probs[2 * i + 1]];
      maxProb = Math.max(maxProb, ...got.map((v, k) => Math.abs(v - want[k])));
      maxSum = Math.max(maxSum, Math.abs(got[0] + got[1] - 1));
      if (b === 1) argmaxAgree += (got[0] > got[1]) === (want[0] > want[1]) ? 1 : 0;
      for (let k = 0; k < d; k++) maxEmb = Math.max(maxEmb, Math.abs(emb[i * d + k] - ref.embedding[start + i][k]));
    }
    if (b === n) break;
  }
}
const result = {
  onnxruntime_node: ort.env?.versions?.node ?? "unknown",
  inputs: session.inputNames,
  outputs: session.outputNames,
  pictures: n,
  batch_sizes: batches,
  max_abs_diff_probabilities_vs_torch: maxProb,
  max_abs_diff_embedding_vs_torch: maxEmb,
  max_abs_probability_sum_error: maxSum,
  argmax_agreement: `${argmaxAgree}/${n}`,
};
console.log(JSON.stringify(result, null, 2));
const ok =
  maxProb < 1e-4 &&
  maxEmb < 1e-3 &&
  argmaxAgree === n &&
  session.outputNames.includes(manifest.embedding.name) &&
  session.outputNames.includes(manifest.output.name);
if (!ok) {
  console.error("verification FAILED");
  process.exit(1);
}

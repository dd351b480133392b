// Proof that training/port_mobilenet.py computes what nsfwjs@4.4.0's own JS model computes.
//
// Runs the package's bundled MobileNetV2 through @tensorflow/tfjs (pure-JS CPU backend) on the exact
// 224x224 RGB pixels the Python side dumped, and compares with the torch port's outputs: the 5 class
// scores of nsfwjs' head and the 1280 backbone features (layer out_relu, averaged over the grid).
// Not part of the project's dependencies; install the two packages in a scratch folder:
//
//   mkdir -p /tmp/tfjsproof && cd /tmp/tfjsproof && npm init -y && npm install @tensorflow/tfjs nsfwjs@4.4.0
//   /usr/bin/python3 training/port_mobilenet.py --package /tmp/package --dump-rgb /tmp/tfjsproof/rgb \
//     --images models/bottle-state/samples/*.jpg ...
//   cd /tmp/tfjsproof && node /path/to/repo/training/prove_port.mjs rgb
//
// Packages are resolved from the current directory (createRequire), not from the repository.
import { createRequire } from "node:module";
import fs from "node:fs";
import path from "node:path";

const require = createRequire(path.join(process.cwd(), "noop.js"));
const tf = require("@tensorflow/tfjs");
const nsfwjs = require("nsfwjs");

const dir = process.argv[2] ?? "rgb";
const SIZE = 224;

async function main() {
  await tf.setBackend("cpu");
  const model = await nsfwjs.load("MobileNetV2", { size: SIZE });
  const pkgJson = path.join(path.dirname(require.resolve("nsfwjs")), "..", "..", "package.json");
  const version = JSON.parse(fs.readFileSync(pkgJson, "utf8")).version;
  const torchOut = JSON.parse(fs.readFileSync(path.join(dir, "torch.json"), "utf8"));
  let maxScoreDiff = 0;
  let maxFeatureDiff = 0;
  let maxFeature = 0;
  let top1Agree = 0;
  const rows = [];
  for (const t of torchOut) {
    const rgb = fs.readFileSync(path.join(dir, t.file));
    const img = tf.tensor3d(new Uint8Array(rgb), [SIZE, SIZE, 3], "int32");
    const scores = Array.from(await model.infer(img, undefined).data());
    const grid = model.infer(img, "out_relu");
    const features = Array.from(await grid.mean([1, 2]).data());
    const scoreDiff = Math.max(...scores.map((v, i) => Math.abs(v - t.scores[i])));
    const featureDiff = Math.max(...features.map((v, i) => Math.abs(v - t.features[i])));
    const argmax = (a) => a.indexOf(Math.max(...a));
    const agree = argmax(scores) === argmax(t.scores);
    maxScoreDiff = Math.max(maxScoreDiff, scoreDiff);
    maxFeatureDiff = Math.max(maxFeatureDiff, featureDiff);
    maxFeature = Math.max(maxFeature, ...features.map(Math.abs));
    top1Agree += agree ? 1 : 0;
    rows.push({ file: t.file, top1_js: argmax(scores), top1_torch: argmax(t.scores), scoreDiff, featureDiff });
    img.dispose();
    grid.dispose();
  }
  const summary = {
    package: `nsfwjs@${version}`,
    tfjs: tf.version.tfjs,
    backend: tf.getBackend(),
    pictures: torchOut.length,
    top1_agreement: `${top1Agree}/${torchOut.length}`,
    max_abs_diff_scores: maxScoreDiff,
    max_abs_diff_features: maxFeatureDiff,
    max_abs_feature: maxFeature,
  };
  console.table(rows);
  console.log(JSON.stringify(summary, null, 2));
  if (top1Agree !== torchOut.length || maxScoreDiff > 1e-4 || maxFeatureDiff > 1e-3 * Math.max(1, maxFeature)) {
    console.error("port differs from the package's model");
    process.exit(1);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

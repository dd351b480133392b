#!/usr/bin/env node
/**
 * Runs one model version over a labelled picture folder exactly as the inference service would
 * (the service's own built preprocess() and manifest reader, onnxruntime-node, one thread) and prints
 * accuracy per class, the confusion matrix, expected calibration error and "wrong and certain".
 *
 *   pnpm build   # (or: npx tsc -b) the script imports services/inference/dist
 *   node eval/evaluate.mjs --model models/bottle-state/2 --data /tmp/capcheck-data/independent [--json out.json]
 *
 * --data: a folder with one sub-folder per label (open/, closed/) of pictures. A labels.jsonl next to
 * them (one JSON object per picture with a "file" key) adds accuracy by the fields named in --by.
 * --threshold: confidence under which a verdict is "not certain"; default the manifest's
 * certainty_threshold, else 0.5 (then every verdict of a two-class model counts as certain).
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);
const root = path.join(import.meta.dirname, '..');
const ort = require(path.join(root, 'services/inference/node_modules/onnxruntime-node'));

const FLAGS = {
  model: '',
  data: '',
  threshold: '',
  json: '',
  batch: '16',
  limit: '0',
  by: 'closure,kind,glass,view,scenario,background',
};
const ECE_BINS = 10;
const MAX_PIXELS = 40_000_000;

function parseFlags(argv) {
  const out = { ...FLAGS };
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i].replace(/^--/, '');
    if (!(name in FLAGS) || i + 1 >= argv.length)
      throw new Error(`usage: --model DIR --data DIR [${Object.keys(FLAGS).join(', ')}]`);
    out[name] = argv[++i];
  }
  if (!out.model || !out.data) throw new Error('--model and --data are required');
  return out;
}

/** Every picture under data/<label>/, with its label. */
function listPictures(dataDir, labels, limit) {
  const items = [];
  for (const label of labels) {
    const dir = path.join(dataDir, label);
    if (!fs.existsSync(dir)) continue;
    const files = fs
      .readdirSync(dir)
      .filter((f) => /\.(jpe?g|png|webp)$/i.test(f))
      .sort();
    for (const f of limit ? files.slice(0, limit) : files) items.push({ file: path.join(label, f), label });
  }
  return items;
}

function readPictureInfo(dataDir) {
  const info = new Map();
  const file = path.join(dataDir, 'labels.jsonl');
  if (!fs.existsSync(file)) return info;
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const row = JSON.parse(line);
    info.set(row.file, row);
  }
  return info;
}

/** Expected calibration error over equal-width confidence bins (confidence = probability of the verdict). */
function expectedCalibrationError(results, bins = ECE_BINS) {
  const sums = Array.from({ length: bins }, () => ({ n: 0, conf: 0, correct: 0 }));
  for (const r of results) {
    const b = sums[Math.min(bins - 1, Math.floor(r.confidence * bins))];
    b.n++;
    b.conf += r.confidence;
    b.correct += r.correct ? 1 : 0;
  }
  return sums.reduce(
    (ece, b) => (b.n ? ece + (b.n / results.length) * Math.abs(b.correct / b.n - b.conf / b.n) : ece),
    0,
  );
}

function pct(x) {
  return `${(100 * x).toFixed(2)} %`;
}

async function main() {
  const flags = parseFlags(process.argv.slice(2));
  const modelDir = path.resolve(flags.model);
  const version = path.basename(modelDir);
  const name = path.basename(path.dirname(modelDir));
  const repo = path.dirname(path.dirname(modelDir));
  // the service's own code: manifest reader and preprocessing
  const { readModelManifest } = require(path.join(root, 'services/inference/dist/data-access/model-repository.js'));
  const { preprocess } = require(path.join(root, 'services/inference/dist/data-access/preprocess.js'));
  const manifest = await readModelManifest(repo, name, version);
  const rawManifest = JSON.parse(fs.readFileSync(path.join(modelDir, 'manifest.json'), 'utf8'));
  const threshold = flags.threshold
    ? Number(flags.threshold)
    : (rawManifest.certainty_threshold ?? rawManifest.calibration?.certainty_threshold ?? 0.5);
  const session = await ort.InferenceSession.create(manifest.modelPath, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  const items = listPictures(flags.data, manifest.labels, Number(flags.limit));
  if (!items.length) throw new Error(`no pictures under ${flags.data}/{${manifest.labels.join(',')}}/`);
  const info = readPictureInfo(flags.data);
  const [h, w, c] = manifest.inputShape;
  const batch = Number(flags.batch);
  const results = [];
  const t0 = Date.now();
  for (let i = 0; i < items.length; i += batch) {
    const chunk = items.slice(i, i + batch);
    const pixels = new Uint8Array(chunk.length * h * w * c);
    for (const [k, item] of chunk.entries()) {
      pixels.set(
        await preprocess(fs.readFileSync(path.join(flags.data, item.file)), manifest, MAX_PIXELS),
        k * h * w * c,
      );
    }
    const out = await session.run({ [manifest.inputName]: new ort.Tensor('uint8', pixels, [chunk.length, h, w, c]) });
    const probs = out[manifest.outputName].data;
    const n = manifest.labels.length;
    for (const [k, item] of chunk.entries()) {
      const row = Array.from(probs.slice(k * n, (k + 1) * n));
      const best = row.indexOf(Math.max(...row));
      const predicted = manifest.labels[best];
      results.push({
        ...item,
        predicted,
        confidence: row[best],
        pTrue: row[manifest.labels.indexOf(item.label)],
        correct: predicted === item.label,
      });
    }
  }
  const seconds = (Date.now() - t0) / 1000;

  const labels = manifest.labels;
  const confusion = labels.map((t) =>
    labels.map((p) => results.filter((r) => r.label === t && r.predicted === p).length),
  );
  const accuracy = results.filter((r) => r.correct).length / results.length;
  const perClass = Object.fromEntries(
    labels.map((l, i) => {
      const support = confusion[i].reduce((a, b) => a + b, 0);
      return [l, { correct: confusion[i][i], support, accuracy: support ? confusion[i][i] / support : null }];
    }),
  );
  const certain = results.filter((r) => r.confidence >= threshold);
  const wrongCertain = certain.filter((r) => !r.correct);
  const ece = expectedCalibrationError(results);
  const logLoss = -results.reduce((s, r) => s + Math.log(Math.max(1e-7, r.pTrue)), 0) / results.length;
  const byField = {};
  for (const field of flags.by.split(',').filter(Boolean)) {
    const groups = {};
    for (const r of results) {
      const value = info.get(r.file)?.[field];
      if (value === undefined) continue;
      const g = (groups[String(value)] ??= { n: 0, correct: 0 });
      g.n++;
      g.correct += r.correct ? 1 : 0;
    }
    if (Object.keys(groups).length) {
      byField[field] = Object.fromEntries(
        Object.entries(groups).map(([k, g]) => [k, { count: g.n, accuracy: Number((g.correct / g.n).toFixed(4)) }]),
      );
    }
  }
  const report = {
    model: `${name}/${version}`,
    data: path.resolve(flags.data),
    count: results.length,
    accuracy: Number(accuracy.toFixed(4)),
    per_class: perClass,
    confusion_matrix: { rows: 'true label', columns: 'predicted label', labels, matrix: confusion },
    ece: Number(ece.toFixed(4)),
    ece_bins: ECE_BINS,
    log_loss: Number(logLoss.toFixed(4)),
    threshold,
    certain: certain.length,
    wrong_and_certain: wrongCertain.length,
    wrong_and_certain_fraction_of_all: Number((wrongCertain.length / results.length).toFixed(4)),
    by: byField,
    seconds: Number(seconds.toFixed(1)),
    wrong: results
      .filter((r) => !r.correct)
      .map((r) => ({ file: r.file, predicted: r.predicted, confidence: Number(r.confidence.toFixed(4)) })),
  };

  console.log(`model ${report.model} on ${report.data}: ${results.length} pictures, ${seconds.toFixed(1)} s`);
  console.log(
    `accuracy ${pct(accuracy)} (${results.length - report.wrong.length}/${results.length}), log loss ${logLoss.toFixed(4)}`,
  );
  for (const l of labels)
    console.log(`  ${l.padEnd(8)} ${pct(perClass[l].accuracy ?? 0)} (${perClass[l].correct}/${perClass[l].support})`);
  console.log(`confusion (rows true, columns predicted ${labels.join(' / ')}):`);
  labels.forEach((l, i) => console.log(`  ${l.padEnd(8)} ${confusion[i].map((x) => String(x).padStart(6)).join('')}`));
  console.log(`ECE (${ECE_BINS} bins) ${ece.toFixed(4)}`);
  console.log(
    `threshold ${threshold}: certain ${certain.length}/${results.length}, wrong and certain ${wrongCertain.length} (${pct(wrongCertain.length / results.length)} of all)`,
  );
  for (const [field, groups] of Object.entries(byField)) {
    console.log(
      `by ${field}: ${Object.entries(groups)
        .map(([k, g]) => `${k} ${pct(g.accuracy)} (${g.count})`)
        .join(', ')}`,
    );
  }
  if (flags.json) fs.writeFileSync(flags.json, `${JSON.stringify(report, null, 2)}\n`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

// pnpm bench:parts — where a picture's CPU goes, capcheck's parts against the peer's, on the same
// 640×480 JPEGs (bench/pictures.mjs) and the same model: CPU time (user + system, every thread) per
// picture, which a busy machine disturbs far less than wall time. Then the split of the two cores:
// preprocess() + the worker pool with at most 1, 2, 4 or 16 pictures decoding at once.
//
// Settings: PEER_PYTHON (the peer's Python, for its OpenCV + onnxruntime parts), BENCH_PICTURES (300).
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { benchPictures, pictureName } from './pictures.mjs';
import { benchPool, root } from './lib.mjs';

const require = createRequire(import.meta.url);
const inference = require(join(root, 'services/inference/dist/index.js'));
const ort = require(join(root, 'services/inference/node_modules/onnxruntime-node'));
const count = Number(process.env.BENCH_PICTURES ?? 300);
const peerPython = process.env.PEER_PYTHON ?? '/tmp/peervenv/bin/python';

const models = join(root, 'models');
const manifest = await inference.readModelManifest(
  models,
  'bottle-state',
  process.env.MODEL_VERSION ?? (await inference.latestVersion(models, 'bottle-state')),
);
const [height, width] = manifest.inputShape;
const dir = await benchPictures(Math.max(count, 3000));
const pictures = Array.from({ length: count }, (_, i) => readFileSync(join(dir, pictureName(i))));

const cpuPer = async (n, work) => {
  const before = process.cpuUsage();
  const started = process.hrtime.bigint();
  await work();
  const { user, system } = process.cpuUsage(before);
  return { cpu: (user + system) / 1000 / n, wall: Number(process.hrtime.bigint() - started) / 1e6 / n };
};
const line = (title, r) =>
  console.log(
    `  ${title.padEnd(48)} CPU ${r.cpu.toFixed(2).padStart(6)} ms   wall ${r.wall.toFixed(2).padStart(6)} ms`,
  );

console.log(
  `where a picture's CPU goes — ${count} pictures, model bottle-state/${manifest.version} (${width}×${height})`,
);
console.log('capcheck (node, onnxruntime-node, 1 thread), per picture:');
const pixels = [];
line(
  `decode + letterbox (${manifest.resize.recipe}, the manifest's recipe)`,
  await cpuPer(count, async () => {
    for (const p of pictures) pixels.push(await inference.preprocess(p, manifest, 40e6));
  }),
);
const session = await ort.InferenceSession.create(manifest.modelPath, { intraOpNumThreads: 1, interOpNumThreads: 1 });
const tensor = (list) => {
  const data = new Uint8Array(list.length * list[0].length);
  list.forEach((p, i) => data.set(p, i * p.length));
  return { [manifest.inputName]: new ort.Tensor('uint8', data, [list.length, height, width, 3]) };
};
for (const size of [1, 8]) {
  const runs = Math.floor(count / size);
  line(
    `session.run, batch ${size}`,
    await cpuPer(runs * size, async () => {
      for (let r = 0; r < runs; r++) await session.run(tensor(pixels.slice(r * size, (r + 1) * size)));
    }),
  );
}

const peer = spawnSync(
  peerPython,
  [
    '-c',
    `
import sys, time, numpy as np, cv2, onnxruntime as ort
model, d, n, size = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
files = [open(f"{d}/p{i:05d}.jpg", "rb").read() for i in range(n)]
o = ort.SessionOptions(); o.intra_op_num_threads = 1; o.inter_op_num_threads = 1
s = ort.InferenceSession(model, o, providers=["CPUExecutionProvider"])
def per(work, k):
    c, t = time.process_time(), time.perf_counter(); work()
    return (time.process_time() - c) / k * 1000, (time.perf_counter() - t) / k * 1000
px = []
def pre():
    for f in files:
        img = cv2.imdecode(np.frombuffer(f, np.uint8), cv2.IMREAD_COLOR)
        px.append(cv2.cvtColor(cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)[np.newaxis])
print("opencv: decode + resize (the peer's)", *per(pre, n))
print("session.run, batch 1", *per(lambda: [s.run(None, {"image": p}) for p in px], n))
`,
    manifest.modelPath,
    dir,
    String(count),
    String(width),
  ],
  { encoding: 'utf8' },
);
if (peer.status === 0) {
  console.log('the peer (python, OpenCV, onnxruntime, 1 thread), per picture:');
  for (const row of peer.stdout.trim().split('\n')) {
    const [title, cpu, wall] = row.split(/ (?=[\d.]+ [\d.]+$)| (?=[\d.]+$)/);
    line(title, { cpu: Number(cpu), wall: Number(wall) });
  }
} else {
  console.log(`the peer's parts not measured (${peerPython}: ${peer.stderr.trim().split('\n').pop()})`);
}

console.log(
  `the split of the cores: decode + worker pool (${availableParallelism()} workers), 16 in flight, per picture:`,
);
const pool = await benchPool(inference, manifest);
for (const limit of [1, 2, 4, 16]) {
  let decoding = 0;
  const waiting = [];
  const acquire = () => (decoding < limit ? (decoding++, Promise.resolve()) : new Promise((r) => waiting.push(r)));
  const release = () => (waiting.length ? waiting.shift()() : decoding--);
  let next = 0;
  const r = await cpuPer(count, () =>
    Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < count) {
          const picture = pictures[next++];
          await acquire();
          const input = await inference.preprocess(picture, manifest, 40e6).finally(release);
          await pool.run(input);
        }
      }),
    ),
  );
  line(`at most ${limit} decoding at once`, r);
}
await pool.close();

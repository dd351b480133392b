// The floor of any HTTP service on this machine: a bare node:http server around the same worker pool
// as the bare limit's, with none of capcheck's work (no Express, auth, ownership, store, logs or
// metrics). `GET /predict/<i>` reads bench picture i from disk, has the pool decode and run it, and
// answers the probabilities as JSON. bench/threads.mjs starts it and drives it as it drives capcheck, so
// that "GET / bare" can be read against the most any server could reach here.
//   node bench/floor-server.mjs PICTURES_DIR MODEL_VERSION PORT
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { benchPool, root } from './lib.mjs';
import { pictureName } from './pictures.mjs';

const require = createRequire(import.meta.url);
const inference = require(join(root, 'services/inference/dist/index.js'));
const [dir, version, port] = process.argv.slice(2);
const manifest = await inference.readModelManifest(join(root, 'models'), 'bottle-state', version);
const pool = await benchPool(inference, manifest);
const prediction = /^\/predict\/(\d+)$/;

const server = createServer(async (req, res) => {
  const index = prediction.exec(req.url ?? '')?.[1];
  if (index === undefined) {
    res.writeHead(req.url === '/readyz' ? 200 : 404).end();
    return;
  }
  const probabilities = await pool.classify(await readFile(join(dir, pictureName(Number(index)))));
  const body = JSON.stringify({ probabilities: [...probabilities] });
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
});
server.listen(Number(port), '127.0.0.1');
process.once('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
  void pool.close();
});

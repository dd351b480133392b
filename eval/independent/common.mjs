/**
 * What the independent generators share: seeded random numbers (mulberry32 over a hash of a key),
 * the label of a picture index, command-line flags and the loop that fills a picture folder.
 */
import fs from 'node:fs';
import path from 'node:path';

function hash(text) {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 16777619);
  }
  return h >>> 0;
}

export class Random {
  constructor(key) {
    this.state = hash(String(key));
  }

  /** Uniform in [0, 1). */
  next() {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  range(lo, hi) {
    return lo + (hi - lo) * this.next();
  }

  int(lo, hi) {
    return Math.floor(this.range(lo, hi + 1));
  }

  chance(p) {
    return this.next() < p;
  }

  pick(items) {
    return items[Math.floor(this.next() * items.length)];
  }

  /** `pairs`: [[value, weight], ...]. */
  weighted(pairs) {
    let x = this.next() * pairs.reduce((sum, [, w]) => sum + w, 0);
    for (const [value, w] of pairs) {
      x -= w;
      if (x <= 0) return value;
    }
    return pairs[pairs.length - 1][0];
  }

  normal(mean = 0, sd = 1) {
    const u = Math.max(1e-9, this.next());
    return mean + sd * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }
}

/** Label of picture `index`: even = open, odd = closed (every prefix is balanced). */
export const labelOf = (index) => (index % 2 === 0 ? 'open' : 'closed');

/** Parse `--name value` flags into an object of strings (`--flag` alone gives 'true'). */
export function parseFlags(argv, defaults) {
  const out = { ...defaults };
  for (let i = 0; i < argv.length; i++) {
    if (!argv[i].startsWith('--')) continue;
    const name = argv[i].slice(2);
    const value = argv[i + 1] && !argv[i + 1].startsWith('--') ? argv[++i] : 'true';
    if (!(name in defaults)) throw new Error(`unknown flag --${name}; known: ${Object.keys(defaults).join(', ')}`);
    out[name] = value;
  }
  return out;
}

/**
 * Renders pictures `start` .. `start + count - 1` into OUT/{open,closed}/NNNNN.jpg, skipping those already
 * there, and appends one JSON line per picture to OUT/labels.jsonl. `render(index)` resolves to
 * { jpeg, record, source? }; `keepSource` (a file extension) also writes the scene source next to the picture.
 */
export async function renderFolder({ name, out, start, count, seed, render, keepSource }) {
  for (const label of ['open', 'closed']) fs.mkdirSync(path.join(out, label), { recursive: true });
  const log = fs.openSync(path.join(out, 'labels.jsonl'), 'a');
  const t0 = Date.now();
  let done = 0;
  try {
    for (let index = start; index < start + count; index++) {
      const file = path.join(labelOf(index), `${String(index).padStart(5, '0')}.jpg`);
      if (fs.existsSync(path.join(out, file))) continue;
      const { jpeg, record, source } = await render(index);
      fs.writeFileSync(path.join(out, file), jpeg);
      if (keepSource) fs.writeFileSync(path.join(out, file.replace(/\.jpg$/, `.${keepSource}`)), source);
      fs.writeSync(log, `${JSON.stringify({ file, seed: Number(seed), generator: name, ...record })}\n`);
      done++;
      if (done % 20 === 0)
        console.log(`${name}: ${done} pictures, ${((Date.now() - t0) / 1000 / done).toFixed(1)} s each`);
    }
  } finally {
    fs.closeSync(log);
  }
  console.log(`${name}: ${done} pictures in ${((Date.now() - t0) / 1000).toFixed(1)} s -> ${out}`);
}

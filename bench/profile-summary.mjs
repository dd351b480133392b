// node bench/profile-summary.mjs FILE.cpuprofile [SECONDS] — where a profiled server's event loop spent its
// time: self time by package (node_modules), Node internals (node:…) and capcheck's own files, then by
// function. SECONDS (default: all) keeps only the last SECONDS before the profile's last busy sample, so a
// bench's final phase can be read alone (the server idles while a bench measures its bare limit). Profile
// with BENCH_NODE_ARGS, e.g.:
//   BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof --cpu-prof-interval=200" pnpm bench:threads
//   node bench/profile-summary.mjs /tmp/prof/CPU.*.0.001.cpuprofile 6      # the main thread's file
import { readFileSync } from 'node:fs';

const [file, seconds] = process.argv.slice(2);
if (!file) {
  console.error('usage: node bench/profile-summary.mjs FILE.cpuprofile [SECONDS]');
  process.exit(2);
}
const profile = JSON.parse(readFileSync(file, 'utf8'));
const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
let clock = profile.startTime;
const times = profile.timeDeltas.map((delta) => (clock += delta));
const idle = (id) => nodes.get(id).callFrame.functionName === '(idle)';
const lastBusy = profile.samples.reduce((last, id, i) => (idle(id) ? last : times[i]), 0);
const from = seconds ? lastBusy - Number(seconds) * 1e6 : -Infinity;

/** A frame's origin: a package, a Node internal module, one of capcheck's files, or a V8 pseudo-frame. */
function originOf({ url, functionName }) {
  if (!url) return functionName || '(native)';
  const pkg = url.match(/node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?((?:@[^/]+\/)?[^/]+)/);
  if (pkg) return `package ${pkg[1]}`;
  if (url.startsWith('node:')) return url;
  const own = url.match(/\/((?:services|shared|local)\/.*)$/);
  return own ? own[1].replace('/dist/', '/') : url;
}

const byOrigin = new Map();
const byFunction = new Map();
let busy = 0;
const add = (map, key) => map.set(key, (map.get(key) ?? 0) + 1);
profile.samples.forEach((id, i) => {
  if (times[i] < from || times[i] > lastBusy || idle(id)) return;
  const frame = nodes.get(id).callFrame;
  const origin = originOf(frame);
  busy++;
  add(byOrigin, origin);
  add(byFunction, `${origin} ${frame.functionName || '(anonymous)'}:${frame.lineNumber + 1}`);
});

const top = (map, count) =>
  [...map]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([key, n]) => `${((100 * n) / busy).toFixed(1).padStart(6)} %  ${key}`)
    .join('\n');
console.log(`${busy} busy samples${seconds ? ` in the last ${seconds} s` : ''}; self time`);
console.log(`\nby origin\n${top(byOrigin, 30)}`);
console.log(`\nby function\n${top(byFunction, 40)}`);

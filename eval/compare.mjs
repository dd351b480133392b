#!/usr/bin/env node
/**
 * Two models on the same pictures, paired: which pictures only one of them gets right, and how likely a
 * split at least that uneven is if the two were equally good (the exact two-sided McNemar test). On a
 * set of 200 pictures a difference of a few pictures is usually noise; this says how much.
 *
 *   node eval/evaluate.mjs --model models/bottle-state/4 --data DIR --json /tmp/a.json
 *   node eval/evaluate.mjs --model /tmp/run/bottle-state/5 --data DIR --json /tmp/b.json
 *   node eval/compare.mjs /tmp/a.json /tmp/b.json
 */
import fs from 'node:fs';

/** P(X ≤ k) for X ~ Binomial(n, 1/2), summed in log space so that large n does not overflow. */
function binomialHalfCdf(k, n) {
  let logTerm = -n * Math.LN2; // log C(n, 0) / 2^n
  let sum = Math.exp(logTerm);
  for (let i = 1; i <= k; i++) {
    logTerm += Math.log((n - i + 1) / i);
    sum += Math.exp(logTerm);
  }
  return Math.min(1, sum);
}

/** Exact two-sided McNemar p-value for `onlyA` and `onlyB` discordant pictures. */
export function mcnemarExact(onlyA, onlyB) {
  const n = onlyA + onlyB;
  if (n === 0) return 1;
  return Math.min(1, 2 * binomialHalfCdf(Math.min(onlyA, onlyB), n));
}

function load(file) {
  const report = JSON.parse(fs.readFileSync(file, 'utf8'));
  if (!Array.isArray(report.wrong)) throw new Error(`${file}: not a report of eval/evaluate.mjs --json`);
  return { ...report, wrongFiles: new Set(report.wrong.map((w) => w.file)) };
}

function main([fileA, fileB]) {
  if (!fileA || !fileB) throw new Error('usage: node eval/compare.mjs A.json B.json (reports of eval/evaluate.mjs)');
  const a = load(fileA);
  const b = load(fileB);
  if (a.data !== b.data || a.count !== b.count)
    throw new Error(`not the same pictures: ${a.data} (${a.count}) and ${b.data} (${b.count})`);
  const onlyA = [...b.wrongFiles].filter((f) => !a.wrongFiles.has(f)).length; // right in A, wrong in B
  const onlyB = [...a.wrongFiles].filter((f) => !b.wrongFiles.has(f)).length;
  const pct = (r) => `${(100 * r.accuracy).toFixed(2)} %`;
  console.log(`${a.data}: ${a.count} pictures`);
  console.log(`  A ${a.model}: ${pct(a)}`);
  console.log(`  B ${b.model}: ${pct(b)}`);
  console.log(`  right in A only: ${onlyA}; right in B only: ${onlyB}; both wrong: ${a.wrongFiles.size - onlyB}`);
  console.log(`  exact McNemar p (two-sided) = ${mcnemarExact(onlyA, onlyB).toFixed(3)}`);
}

if (import.meta.url === `file://${process.argv[1]}`) main(process.argv.slice(2));

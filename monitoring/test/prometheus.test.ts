import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { suiteFor, uniqueEmail, uploadFile } from '../../test-support/http';
import { signUp, startLocal, type LocalSystem } from '../../test-support/local';
import { waitFor } from '../../test-support/poll';
import { freePort } from '../../test-support/ports';
import { samplePicture } from '../../test-support/models';
import {
  collectQueries,
  labelUses,
  metricNames,
  monitoringDir,
  prometheusMissing,
  readRules,
  recordedNames,
  ruleFiles,
  rulesDir,
} from './promql';

/**
 * Real Prometheus scrapes the real local process with the real rule files, then runs every query the
 * dashboards and rules hold. Each must parse, and every metric it names must be one the process exports
 * (or Traefik's, from a vendored list, or one our rules record, or Prometheus' own).
 */

const queries = collectQueries();

interface Traefik {
  [name: string]: { type: string; labels: string[] };
}
const traefik = parse(readFileSync(join(__dirname, 'traefik-metrics.yml'), 'utf8')) as Traefik;
/** Series Prometheus itself makes: per target, and for alerts. */
const prometheusOwn = [
  'up',
  'scrape_duration_seconds',
  'scrape_samples_scraped',
  'scrape_samples_post_metric_relabeling',
  'scrape_series_added',
  'ALERTS',
  'ALERTS_FOR_STATE',
];

/** Metric names and their label names, from a Prometheus text exposition; histograms as their series. */
function exposition(text: string): Map<string, Set<string>> {
  const metrics = new Map<string, Set<string>>();
  for (const [, name, type] of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    const series =
      type === 'histogram' ? ['_bucket', '_sum', '_count'] : type === 'summary' ? ['', '_sum', '_count'] : [''];
    for (const suffix of series) metrics.set(name! + suffix, new Set(suffix === '_bucket' ? ['le'] : []));
  }
  for (const [, name, labels] of text.matchAll(/^([a-zA-Z_:][\w:]*)\{([^}]*)\}/gm)) {
    for (const [, label] of labels!.matchAll(/(\w+)="/g)) metrics.get(name!)?.add(label!);
  }
  return metrics;
}

suiteFor(
  'Prometheus against the local process: every dashboard and rule query',
  'prometheus',
  prometheusMissing(),
  () => {
    let sys: LocalSystem;
    let prometheus: ChildProcess;
    let promUrl: string;
    let dir: string;
    let exported: Map<string, Set<string>>;
    let log = '';

    const api = async <T>(path: string, params: Record<string, string> = {}) => {
      const res = await fetch(`${promUrl}/api/v1/${path}?${new URLSearchParams(params)}`);
      return (await res.json()) as { status: string; error?: string; data: T };
    };
    const instant = async (query: string) => (await api<{ result: unknown[] }>('query', { query })).data.result;

    beforeAll(async () => {
      sys = await startLocal();
      dir = mkdtempSync(join(tmpdir(), 'capcheck-prometheus-'));
      const port = await freePort();
      promUrl = `http://127.0.0.1:${port}`;
      const target = new URL(sys.baseUrl).host;
      // The compose config's own job names, so `up{job=...}` queries find something; each scrapes the one
      // local process (which hosts all three services). Traefik is not running here: its job is left out.
      const real = parse(readFileSync(join(monitoringDir, 'prometheus', 'prometheus.yml'), 'utf8')) as {
        scrape_configs: { job_name: string }[];
      };
      const config = {
        global: { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' },
        rule_files: [join(rulesDir, '*.yml')],
        scrape_configs: real.scrape_configs
          .filter((j) => j.job_name !== 'traefik')
          .map((j) => ({
            job_name: j.job_name,
            static_configs: [{ targets: [j.job_name === 'prometheus' ? `127.0.0.1:${port}` : target] }],
          })),
      };
      writeFileSync(join(dir, 'prometheus.yml'), stringify(config));
      prometheus = spawn(
        'prometheus',
        [
          `--config.file=${join(dir, 'prometheus.yml')}`,
          `--storage.tsdb.path=${join(dir, 'data')}`,
          `--web.listen-address=127.0.0.1:${port}`,
        ],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
      prometheus.stderr!.on('data', (chunk: Buffer) => (log += chunk.toString()));

      await waitFor(
        'every target up',
        async () => {
          const { data } = await api<{ activeTargets: { health: string }[] }>('targets');
          return data.activeTargets.length === config.scrape_configs.length &&
            data.activeTargets.every((t) => t.health === 'up')
            ? true
            : undefined;
        },
        { timeoutMs: 15_000, intervalMs: 200, ignoreErrors: true },
      ).catch((err: Error) => {
        throw new Error(`${err.message}\n${log.slice(-2000)}`);
      });

      // Traffic through every service, so the capcheck series exist: accounts, uploads, predictions
      // (cached and not), a 404 and a 401.
      const user = await signUp(sys.api, uniqueEmail('prom'));
      for (const file of ['closed-1.jpg', 'open-1.jpg']) {
        const uploaded = await uploadFile(sys.baseUrl, user.accessToken, {
          bytes: samplePicture(file),
          filename: file,
        });
        expect(uploaded.status).toBe(201);
        for (let i = 0; i < 2; i++) {
          expect((await sys.api.get(`/predict/${String(uploaded.body.id)}`, { token: user.accessToken })).status).toBe(
            200,
          );
        }
      }
      expect((await sys.api.get('/no-such-route')).status).toBe(404);
      expect((await sys.api.get('/users/me')).status).toBe(401);

      exported = exposition(await (await fetch(`${sys.baseUrl}/metrics`)).text());
      // Scraped after the traffic, and the rules have recorded from it.
      await waitFor(
        'predictions scraped and recorded',
        async () =>
          (await instant('sum(capcheck_predictions_total{job="inference"}) >= 4')).length > 0 &&
          (await instant('service:http_request_errors:ratio_rate5m{service="inference"}')).length > 0
            ? true
            : undefined,
        { timeoutMs: 15_000, intervalMs: 200, ignoreErrors: true },
      );
    }, 30_000);

    afterAll(async () => {
      if (prometheus && prometheus.exitCode === null) {
        const exited = new Promise((resolve) => prometheus.once('exit', resolve));
        prometheus.kill('SIGTERM');
        const timer = setTimeout(() => prometheus.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      await sys?.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    test('every rule loads and evaluates without error', async () => {
      const { data } = await api<{ groups: { rules: { name: string; health: string; lastError?: string }[] }[] }>(
        'rules',
      );
      const rules = data.groups.flatMap((g) => g.rules);
      expect(rules.length).toBe(ruleFiles().flatMap((f) => readRules(f).groups.flatMap((g) => g.rules)).length);
      await waitFor(
        'every rule evaluated',
        async () => {
          const { data } = await api<{ groups: { rules: { health: string }[] }[] }>('rules');
          return data.groups.every((g) => g.rules.every((r) => r.health !== 'unknown')) ? true : undefined;
        },
        { timeoutMs: 15_000, intervalMs: 200, ignoreErrors: true },
      );
      const { data: after } = await api<{
        groups: { rules: { name: string; health: string; lastError?: string }[] }[];
      }>('rules');
      for (const rule of after.groups.flatMap((g) => g.rules)) {
        expect({ rule: rule.name, health: rule.health, error: rule.lastError ?? '' }).toEqual({
          rule: rule.name,
          health: 'ok',
          error: '',
        });
      }
    });

    test('the metric names the queries expect are what the process exports (sanity check of the list)', () => {
      expect(exported.get('http_request_duration_seconds_bucket')).toEqual(
        new Set(['le', 'service', 'method', 'route', 'status_code']),
      );
      expect(exported.has('capcheck_events_dead_lettered_total')).toBe(true);
    });

    test.each(queries.map((q) => [q.source, q] as const))('%s', async (_source, query) => {
      // 1. It parses and runs.
      const answer = await api<{ result: unknown[] }>('query', { query: query.expr });
      expect({ expr: query.expr, status: answer.status, error: answer.error }).toEqual({
        expr: query.expr,
        status: 'success',
        error: undefined,
      });

      // 2. Every metric it selects is exported by the services, Traefik's, recorded by our rules, or Prometheus' own.
      const recorded = recordedNames();
      const names = metricNames(query.expr);
      expect(names.length).toBeGreaterThan(0);
      for (const name of names) {
        const traefikBase = name.replace(/_(bucket|sum|count)$/, '');
        const known =
          exported.has(name) ||
          name in traefik ||
          traefik[traefikBase]?.type === 'histogram' ||
          recorded.includes(name) ||
          prometheusOwn.includes(name);
        expect({ expr: query.expr, metric: name, known }).toEqual({ expr: query.expr, metric: name, known: true });
      }

      // 3. The labels it matches or groups on exist on those metrics (target labels job/instance included).
      // Recorded series' labels come from Prometheus; a metric with no series yet (e.g. no dead letters) is skipped.
      const labelsOf = async (name: string): Promise<Set<string> | undefined> => {
        const base = name.replace(/_(bucket|sum|count)$/, '');
        if (exported.has(name) && exported.get(name)!.size > (name.endsWith('_bucket') ? 1 : 0)) {
          return new Set([...exported.get(name)!, 'job', 'instance']);
        }
        if (traefik[name] ?? traefik[base]) {
          const t = (traefik[name] ?? traefik[base])!;
          return new Set([...t.labels, 'job', 'instance', ...(name.endsWith('_bucket') ? ['le'] : [])]);
        }
        const { data } = await api<string[]>('labels', { 'match[]': name });
        return data.length > 0 ? new Set(data) : undefined;
      };
      const { matchers, grouping } = labelUses(query.expr);
      const all = new Set(['job', 'instance']);
      let everyKnown = true;
      for (const name of names) {
        const labels = await labelsOf(name);
        if (!labels) {
          everyKnown = false;
          continue;
        }
        labels.forEach((l) => all.add(l));
        for (const label of matchers.get(name) ?? []) {
          expect({ expr: query.expr, metric: name, label, known: labels.has(label) }).toEqual({
            expr: query.expr,
            metric: name,
            label,
            known: true,
          });
        }
      }
      if (everyKnown) {
        for (const label of [...grouping, ...(query.label ? [query.label] : [])]) {
          expect({ expr: query.expr, label, known: all.has(label) }).toEqual({ expr: query.expr, label, known: true });
        }
      }
    });
  },
);

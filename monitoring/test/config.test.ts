import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { dashboardFiles, labelUses, metricNames, monitoringDir, readDashboard, readRules, ruleFiles } from './promql';

/** Structure the tools do not check: discovery matches the services, dashboards use the provisioned datasource. */

const yamlOf = <T>(...path: string[]) => parse(readFileSync(join(monitoringDir, ...path), 'utf8')) as T;

interface ScrapeConfig {
  job_name: string;
  static_configs?: { targets: string[] }[];
  dns_sd_configs?: { names: string[]; type: string; port: number }[];
}
const prometheusConfig = yamlOf<{ rule_files: string[]; scrape_configs: ScrapeConfig[] }>(
  'prometheus',
  'prometheus.yml',
);
const job = (name: string) => prometheusConfig.scrape_configs.find((j) => j.job_name === name);

/** The port a service listens on by default, read from its main.ts (`listenConfigShape(8081)`). */
function defaultPort(service: string): number {
  const main = readFileSync(join(monitoringDir, '..', 'services', service, 'src', 'main.ts'), 'utf8');
  const port = /listenConfigShape\((\d+)\)/.exec(main);
  if (!port) throw new Error(`no default PORT in services/${service}/src/main.ts`);
  return Number(port[1]);
}

test.each(['users', 'images', 'inference'])(
  'Prometheus finds every %s replica by a DNS A lookup of its compose name, on its default port',
  (service) => {
    expect(job(service)?.dns_sd_configs).toEqual([
      expect.objectContaining({ names: [service], type: 'A', port: defaultPort(service) }),
    ]);
  },
);

test("Prometheus scrapes Traefik's metrics entry point and itself, and loads the mounted rules", () => {
  expect(job('traefik')?.static_configs).toEqual([{ targets: ['traefik:8082'] }]);
  expect(job('prometheus')?.static_configs).toEqual([{ targets: ['localhost:9090'] }]);
  expect(prometheusConfig.rule_files).toEqual(['/etc/prometheus/rules/*.yml']);
});

const alerts = ruleFiles().flatMap((f) => readRules(f).groups.flatMap((g) => g.rules.filter((r) => r.alert)));

test('every alert has a severity, a summary and a description', () => {
  expect(alerts.length).toBeGreaterThan(0);
  for (const rule of alerts as {
    alert: string;
    labels?: { severity?: string };
    annotations?: { summary?: string; description?: string };
  }[]) {
    expect([rule.alert, rule.labels?.severity]).toEqual([rule.alert, expect.stringMatching(/^(warning|critical)$/)]);
    expect(rule.annotations?.summary).toEqual(expect.any(String));
    expect(rule.annotations?.description).toEqual(expect.any(String));
  }
});

test("the issue's alerts exist: error ratio, p95 latency, replica down, queue saturated, dead letters", () => {
  const exprs = alerts.map((r) => r.expr);
  const using = (name: string) => exprs.filter((e) => metricNames(e).includes(name));
  expect(using('service:http_request_errors:ratio_rate5m')).toHaveLength(1);
  expect(exprs.filter((e) => /histogram_quantile\(0\.95,/.test(e))).toHaveLength(1);
  expect(using('up').length).toBeGreaterThanOrEqual(1);
  expect(using('capcheck_inference_queue_depth')).toHaveLength(1);
  expect(using('capcheck_events_dead_lettered_total')).toHaveLength(1);
});

const datasources = yamlOf<{ datasources: { uid: string; type: string; url: string }[] }>(
  'grafana',
  'provisioning',
  'datasources',
  'prometheus.yml',
).datasources;

test('Grafana gets one Prometheus datasource, by a fixed uid, at the compose service', () => {
  expect(datasources).toEqual([
    expect.objectContaining({ uid: 'prometheus', type: 'prometheus', url: 'http://prometheus:9090' }),
  ]);
});

test.each(dashboardFiles())('%s refers to the datasource by its uid everywhere, never by name', (file) => {
  const refs: unknown[] = [];
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(walk);
    else if (node && typeof node === 'object') {
      for (const [key, value] of Object.entries(node)) {
        if (key === 'datasource') refs.push(value);
        walk(value);
      }
    }
  };
  walk(readDashboard(file));
  expect(refs.length).toBeGreaterThan(0);
  for (const ref of refs) expect(ref).toEqual({ type: 'prometheus', uid: datasources[0]!.uid });
});

test('dashboards have distinct uids, and panels distinct ids within a dashboard', () => {
  const dashboards = dashboardFiles().map(readDashboard);
  expect(new Set(dashboards.map((d) => d.uid)).size).toBe(dashboards.length);
  for (const d of dashboards) {
    const ids = d.panels.map((p) => (p as { id: number }).id);
    expect(new Set(ids).size).toBe(ids.length);
  }
});

test('the README gives compose the mounts the provisioning files expect', () => {
  const readme = readFileSync(join(monitoringDir, 'README.md'), 'utf8');
  const provider = yamlOf<{ providers: { options: { path: string } }[] }>(
    'grafana',
    'provisioning',
    'dashboards',
    'capcheck.yml',
  ).providers[0]!;
  expect(readme).toContain(`./monitoring/grafana/dashboards:${provider.options.path}:ro`);
  expect(readme).toContain('./monitoring/grafana/provisioning:/etc/grafana/provisioning:ro');
  expect(readme).toContain('./monitoring/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro');
  expect(readme).toContain('./monitoring/prometheus/rules:/etc/prometheus/rules:ro');
});

test('the metric-name tokenizer finds selected metrics, not functions, labels, strings or durations', () => {
  expect(
    metricNames(
      'sum by (service, le) (rate(a_bucket{route!~"/x|y_total"}[5m] offset 1h)) / on (job) group_left b:rec ' +
        'or absent(up{job="users"}) unless c_total offset 15m > bool 1e3',
    ).sort(),
  ).toEqual(['a_bucket', 'b:rec', 'c_total', 'up']);
  expect(labelUses('sum by (service) (rate(a{route!~"x", status_code=~"5.."}[1m]))')).toEqual({
    matchers: new Map([['a', ['route', 'status_code']]]),
    grouping: ['service'],
  });
});

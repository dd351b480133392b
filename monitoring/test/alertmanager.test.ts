/**
 * Alertmanager as the compose stack runs it: its config rendered by the compose service's own start
 * script, checked by amtool, then real Prometheus (the project's rule files) and real Alertmanager
 * on loopback, until one of the project's alerts reaches a local webhook through the route tree.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { loadCompose } from '../../deploy/test/compose';
import { suiteFor } from '../../test-support/http';
import { waitFor } from '../../test-support/poll';
import { freePort } from '../../test-support/ports';
import { onPath } from '../../test-support/tools';
import { monitoringDir, prometheusMissing, rulesDir } from './promql';

/** Debian installs the server as prometheus-alertmanager; upstream archives call it alertmanager. */
const alertmanagerBinary = ['alertmanager', 'prometheus-alertmanager'].find(onPath);
const missing =
  prometheusMissing() ??
  (!onPath('amtool') || !alertmanagerBinary
    ? 'amtool or alertmanager is not on PATH (Debian: apt-get install prometheus-alertmanager)'
    : null);

const configFile = join(monitoringDir, 'alertmanager', 'alertmanager.yml');
const service = loadCompose().services.alertmanager!;

/**
 * Runs the compose service's start script (compose's `$$` unescaped, its paths moved into `dir`)
 * up to the config it writes, and returns that config. `exec alertmanager` is cut off: the caller
 * starts the server itself, on loopback.
 */
function renderLikeCompose(dir: string, webhookUrl: string): string {
  const [script] = service.command as string[];
  const render = script!
    .replaceAll('$$', '$')
    .replace(/&&\s*exec .*$/s, '')
    .replaceAll('/etc/alertmanager/alertmanager.yml', configFile)
    .replaceAll('/tmp/alertmanager.yml', join(dir, 'alertmanager.yml'));
  const result = spawnSync('/bin/sh', ['-c', render], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH, ALERT_WEBHOOK_URL: webhookUrl },
  });
  if (result.status !== 0) throw new Error(`render failed: ${result.stderr}`);
  return readFileSync(join(dir, 'alertmanager.yml'), 'utf8');
}

const amtool = (...args: string[]) => spawnSync('amtool', args, { encoding: 'utf8', timeout: 15_000 });

suiteFor('Alertmanager: config, routes, and an alert from Prometheus to a webhook', 'alertmanager', missing, () => {
  let dir: string;
  const children: ChildProcess[] = [];
  let webhook: Server | undefined;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'capcheck-alertmanager-'));
  });
  afterAll(async () => {
    // Both write their data directories while shutting down: wait for their exit before removing them.
    await Promise.all(
      children.map((child) =>
        child.exitCode !== null || child.signalCode !== null
          ? undefined
          : new Promise((exited) => child.once('exit', exited).kill()),
      ),
    );
    await new Promise((r) => (webhook ? webhook.close(r) : r(undefined)));
    rmSync(dir, { recursive: true, force: true });
  });

  test('compose runs it from this file, with the webhook URL from .env; Prometheus sends to it', () => {
    expect(service.volumes).toContain(
      './monitoring/alertmanager/alertmanager.yml:/etc/alertmanager/alertmanager.yml:ro',
    );
    expect(service.environment?.ALERT_WEBHOOK_URL).toMatch(/^\$\{ALERT_WEBHOOK_URL:-/);
    expect(readFileSync(join(monitoringDir, 'prometheus', 'prometheus.yml'), 'utf8')).toContain(
      "targets: ['alertmanager:9093']",
    );
  });

  test('amtool check-config passes on the file as compose renders it, whatever the URL holds', () => {
    // sed's own special characters (& | \) must reach the config unchanged.
    const url = 'https://hooks.example.org/alerts?team=ops&token=a|b\\c';
    const rendered = renderLikeCompose(dir, url);
    expect(rendered).toContain(`url: '${url}'`);
    expect(rendered).not.toContain('${ALERT_WEBHOOK_URL}');
    const result = amtool('check-config', join(dir, 'alertmanager.yml'));
    expect(result.stdout + result.stderr).toContain('SUCCESS');
    expect(result.stdout).toContain('2 receivers');
    expect(result.status).toBe(0);
  });

  test('the routes: critical and warning alerts reach the webhook receiver', () => {
    renderLikeCompose(dir, 'http://127.0.0.1:9/');
    const file = `--config.file=${join(dir, 'alertmanager.yml')}`;
    for (const labels of [
      ['alertname=CapcheckServiceDown', 'severity=critical', 'job=users'],
      ['alertname=CapcheckReplicaDown', 'severity=warning', 'job=images'],
    ]) {
      const result = amtool('config', 'routes', 'test', file, ...labels);
      expect([labels, result.stdout.trim()]).toEqual([labels, 'webhook']);
    }
  });

  test("Prometheus fires CapcheckServiceDown for a dead service and Alertmanager delivers it to the webhook, and holds back the replica's own alert", async () => {
    const received: { url: string; body: { receiver: string; alerts: { labels: Record<string, string> }[] } }[] = [];
    webhook = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        received.push({ url: req.url ?? '', body: JSON.parse(body) as (typeof received)[number]['body'] });
        res.end();
      });
    });
    await new Promise<void>((r) => webhook!.listen(0, '127.0.0.1', r));
    const hookUrl = `http://127.0.0.1:${(webhook.address() as AddressInfo).port}/alerts?via=webhook&n=1`;

    // The real route tree and receivers; only the first-notification delay is cut from 30 s.
    const rendered = renderLikeCompose(dir, hookUrl);
    expect(rendered).toContain('group_wait: 30s');
    writeFileSync(join(dir, 'alertmanager.yml'), rendered.replace('group_wait: 30s', 'group_wait: 1s'));
    const amPort = await freePort();
    const am = spawn(
      alertmanagerBinary!,
      [
        `--config.file=${join(dir, 'alertmanager.yml')}`,
        `--storage.path=${join(dir, 'am-data')}`,
        `--web.listen-address=127.0.0.1:${amPort}`,
        '--cluster.listen-address=', // no gossip: a single instance
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    children.push(am);
    let amLog = '';
    am.stderr!.on('data', (c: Buffer) => (amLog += c.toString()));

    // The project's rules, with every `for:` cut to 0 s so the alert fires on the first evaluation.
    cpSync(rulesDir, join(dir, 'rules'), { recursive: true });
    const alerts = readFileSync(join(rulesDir, 'alerts.yml'), 'utf8');
    expect(alerts).toMatch(/for: \d+m/);
    writeFileSync(join(dir, 'rules', 'alerts.yml'), alerts.replace(/for: \d+[smh]/g, 'for: 0s'));
    // `users` at a port where nothing listens: up == 0, so the whole service is down.
    const promPort = await freePort();
    const deadPort = await freePort();
    writeFileSync(
      join(dir, 'prometheus.yml'),
      stringify({
        global: { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' },
        rule_files: [join(dir, 'rules', '*.yml')],
        alerting: { alertmanagers: [{ static_configs: [{ targets: [`127.0.0.1:${amPort}`] }] }] },
        scrape_configs: [{ job_name: 'users', static_configs: [{ targets: [`127.0.0.1:${deadPort}`] }] }],
      }),
    );
    const prometheus = spawn(
      'prometheus',
      [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'prom-data')}`,
        `--web.listen-address=127.0.0.1:${promPort}`,
        // An alert that fires before Alertmanager is discovered is sent again after this (default 1m).
        '--rules.alert.resend-delay=1s',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    children.push(prometheus);
    let promLog = '';
    prometheus.stderr!.on('data', (c: Buffer) => (promLog += c.toString()));

    const delivered = await waitFor(
      'CapcheckServiceDown for users at the webhook',
      () =>
        received.find((r) =>
          r.body.alerts.some((a) => a.labels.alertname === 'CapcheckServiceDown' && a.labels.job === 'users'),
        ),
      { timeoutMs: 30_000, intervalMs: 200 },
    ).catch((err: Error) => {
      throw new Error(`${err.message}\n${amLog.slice(-2000)}\n${promLog.slice(-2000)}`);
    });
    expect(delivered.url).toBe('/alerts?via=webhook&n=1');
    expect(delivered.body.receiver).toBe('webhook');

    // The replica's own alert fired too; Alertmanager holds it back now (inhibit rule). It may have
    // been delivered once before CapcheckServiceDown arrived: that is not asserted either way.
    const inhibited = await waitFor(
      'CapcheckReplicaDown inhibited by CapcheckServiceDown',
      async () => {
        const res = await fetch(`http://127.0.0.1:${amPort}/api/v2/alerts?inhibited=true`);
        const list = (await res.json()) as { labels: Record<string, string>; status: { inhibitedBy: string[] } }[];
        return list.find((a) => a.labels.alertname === 'CapcheckReplicaDown' && a.status.inhibitedBy.length > 0);
      },
      { timeoutMs: 30_000, intervalMs: 200, ignoreErrors: true },
    );
    expect(inhibited.labels.job).toBe('users');
  }, 90_000);
});

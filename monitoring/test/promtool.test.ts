import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suiteFor } from '../../test-support/http';
import { monitoringDir, prometheusMissing, ruleFiles, rulesDir } from './promql';

const promtool = (...args: string[]) => spawnSync('promtool', args, { encoding: 'utf8', timeout: 15_000 });

suiteFor('promtool: prometheus.yml, the rule files and their unit tests', 'prometheus', prometheusMissing(), () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'capcheck-promtool-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('check config passes on the compose file, with the rules where compose mounts them', () => {
    // The file names /etc/prometheus/rules/*.yml, as mounted in the container. Render it with that prefix
    // pointing at a copy of the tree, so promtool also finds, loads and checks every rule file.
    const source = readFileSync(join(monitoringDir, 'prometheus', 'prometheus.yml'), 'utf8');
    expect(source).toContain('/etc/prometheus/rules/*.yml');
    cpSync(rulesDir, join(dir, 'rules'), { recursive: true });
    writeFileSync(join(dir, 'prometheus.yml'), source.replaceAll('/etc/prometheus/', `${dir}/`));
    const result = promtool('check', 'config', join(dir, 'prometheus.yml'));
    expect(result.stderr + result.stdout).toContain(`SUCCESS: ${ruleFiles().length} rule files found`);
    expect(result.status).toBe(0);
  });

  test('check rules passes on every rule file', () => {
    const result = promtool('check', 'rules', ...ruleFiles().map((f) => join(rulesDir, f)));
    expect(result.stdout).not.toContain('FAILED');
    expect(result.status).toBe(0);
  });

  test('the alert unit tests pass (dead letters, queue saturation, replicas, error ratio, latency)', () => {
    const result = promtool('test', 'rules', join(__dirname, 'alerts.promtest.yml'));
    expect(result.stdout + result.stderr).toContain('SUCCESS');
    expect(result.status).toBe(0);
  });
});

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { onPath } from '../../test-support/tools';

/** Null when both Prometheus binaries are on PATH, else why the suites cannot run. */
export function prometheusMissing(): string | null {
  for (const tool of ['promtool', 'prometheus'])
    if (!onPath(tool)) return `${tool} is not on PATH (Debian: apt-get install prometheus)`;
  return null;
}

export const monitoringDir = join(__dirname, '..');
export const rulesDir = join(monitoringDir, 'prometheus', 'rules');
export const dashboardsDir = join(monitoringDir, 'grafana', 'dashboards');

export interface Query {
  /** Where it was found, e.g. `overview.json › Requests per second › A` or `alerts.yml › CapcheckServiceDown`. */
  source: string;
  /** Runnable PromQL: Grafana variables substituted. */
  expr: string;
  /** For a `label_values(selector, label)` variable: the label the selector's series must carry. */
  label?: string;
}

interface Panel {
  title?: string;
  panels?: Panel[];
  targets?: { refId?: string; expr?: string }[];
}
interface Dashboard {
  title: string;
  uid: string;
  panels: Panel[];
  templating: { list: { name: string; query: string | { query: string } }[] };
}

export const dashboardFiles = () => readdirSync(dashboardsDir).filter((f) => f.endsWith('.json'));
export const readDashboard = (file: string) => JSON.parse(readFileSync(join(dashboardsDir, file), 'utf8')) as Dashboard;
export const ruleFiles = () => readdirSync(rulesDir).filter((f) => f.endsWith('.yml'));
export const readRules = (file: string) =>
  parse(readFileSync(join(rulesDir, file), 'utf8')) as {
    groups: { name: string; rules: { record?: string; alert?: string; expr: string }[] }[];
  };

/** Grafana's built-in intervals, as a short test run can satisfy them (1 s scrapes). */
const grafanaBuiltins: Record<string, string> = { __rate_interval: '1m', __interval: '1m', __range: '5m' };

/** `$name`, `${name}` and `[[name]]` become the variable's "All" value (every variable is used with `=~`). */
function substitute(expr: string, variables: string[]): string {
  return expr.replace(/\$\{(\w+)\}|\$(\w+)|\[\[(\w+)\]\]/g, (whole, a?: string, b?: string, c?: string) => {
    const name = (a ?? b ?? c)!;
    if (name in grafanaBuiltins) return grafanaBuiltins[name]!;
    if (variables.includes(name)) return '.*';
    return whole; // left as is: the query then fails to parse, which names the unknown variable
  });
}

/** Every PromQL expression in the dashboards (panel targets and query variables) and the rule files. */
export function collectQueries(): Query[] {
  const queries: Query[] = [];
  for (const file of dashboardFiles()) {
    const dashboard = readDashboard(file);
    const variables = dashboard.templating.list.map((v) => v.name);
    const walk = (panels: Panel[]) => {
      for (const panel of panels) {
        for (const target of panel.targets ?? []) {
          if (typeof target.expr === 'string') {
            queries.push({
              source: `${file} › ${panel.title} › ${target.refId}`,
              expr: substitute(target.expr, variables),
            });
          }
        }
        walk(panel.panels ?? []);
      }
    };
    walk(dashboard.panels);
    for (const variable of dashboard.templating.list) {
      const text = typeof variable.query === 'string' ? variable.query : variable.query.query;
      const labelValues = /^label_values\((.+),\s*(\w+)\)$/.exec(text.trim());
      if (!labelValues) throw new Error(`${file}: variable ${variable.name} is not label_values(selector, label)`);
      queries.push({
        source: `${file} › variable $${variable.name}`,
        expr: substitute(labelValues[1]!, variables),
        label: labelValues[2]!,
      });
    }
  }
  for (const file of ruleFiles()) {
    for (const group of readRules(file).groups) {
      for (const rule of group.rules) {
        queries.push({ source: `${file} › ${rule.alert ?? rule.record}`, expr: rule.expr });
      }
    }
  }
  return queries;
}

/** Names recorded by the rule files: queries may use them like exported metrics. */
export const recordedNames = () =>
  ruleFiles().flatMap((file) =>
    readRules(file).groups.flatMap((g) => g.rules.flatMap((r) => (r.record ? [r.record] : []))),
  );

const keywords = new Set([
  'and',
  'or',
  'unless',
  'bool',
  'offset',
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'inf',
  'nan',
  'atan2',
]);

/**
 * The metric names a PromQL expression selects, found by a small tokenizer: strings, label matchers,
 * ranges and grouping clauses are removed; of the identifiers left, those not followed by `(` (a
 * function or aggregation) and not keywords are metric names. Numbers and durations are skipped.
 * Selectors written as `{__name__=...}` would hide their name from this, so they are refused.
 */
export function metricNames(expr: string): string[] {
  if (expr.includes('__name__')) throw new Error(`select metrics by name, not __name__: ${expr}`);
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names = new Set<string>();
  for (const match of stripped.matchAll(/\d[\d.]*(?:e[+-]?\d+)?[a-z]*|[a-zA-Z_:][\w:]*/g)) {
    const token = match[0];
    if (/^\d/.test(token) || keywords.has(token.toLowerCase())) continue;
    const after = stripped.slice(match.index + token.length).trimStart();
    if (after.startsWith('(')) continue;
    names.add(token);
  }
  return [...names];
}

/** Label names an expression relies on: in `{…}` matchers (by selected metric) and in grouping clauses. */
export function labelUses(expr: string): { matchers: Map<string, string[]>; grouping: string[] } {
  const noStrings = expr.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""');
  const matchers = new Map<string, string[]>();
  for (const m of noStrings.matchAll(/([a-zA-Z_:][\w:]*)\s*\{([^}]*)\}/g)) {
    const labels = [...m[2]!.matchAll(/([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)/g)].map((l) => l[1]!);
    matchers.set(m[1]!, [...(matchers.get(m[1]!) ?? []), ...labels]);
  }
  const grouping = [
    ...noStrings.matchAll(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g),
  ].flatMap((m) =>
    m[1]!
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  );
  return { matchers, grouping };
}

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './compose';

/** The Dockerfile as instructions: continuation lines joined, comments dropped. */
interface Instruction {
  op: string;
  args: string;
}
interface Stage {
  name: string;
  from: string;
  body: Instruction[];
}

const text = readFileSync(join(repoRoot, 'Dockerfile'), 'utf8');
const instructions: Instruction[] = text
  // Docker drops comment lines even inside a continued instruction, so drop them before joining.
  .split('\n')
  .filter((l) => !l.trim().startsWith('#'))
  .join('\n')
  .replace(/\\\n/g, ' ')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith('#'))
  .map((l) => {
    const [op = '', ...rest] = l.split(/\s+/);
    return { op: op.toUpperCase(), args: rest.join(' ') };
  });
const args = new Map(
  instructions.filter((i) => i.op === 'ARG' && i.args.includes('=')).map((i) => i.args.split('=') as [string, string]),
);
const stages: Stage[] = [];
for (const i of instructions) {
  if (i.op === 'FROM') {
    const m = /^(\S+) AS (\S+)$/i.exec(i.args);
    if (!m) throw new Error(`FROM without a stage name: ${i.args}`);
    stages.push({ from: m[1]!.replace(/^\$\{(\w+)\}$/, (_, a: string) => args.get(a) ?? ''), name: m[2]!, body: [] });
  } else stages.at(-1)?.body.push(i);
}
const stage = (name: string) => stages.find((s) => s.name === name)!;

/** The instructions a target inherits: its ancestors' stages first, then its own. */
function lineage(name: string): Stage[] {
  const s = stage(name);
  return stages.some((p) => p.name === s.from) ? [...lineage(s.from), s] : [s];
}
const last = (name: string, op: string) =>
  lineage(name)
    .flatMap((s) => s.body)
    .filter((i) => i.op === op)
    .at(-1);
const baseImage = (name: string) => lineage(name)[0]!.from;

const serviceTargets = ['users', 'images', 'inference'];

describe('Dockerfile', () => {
  test('bases are pinned to an exact version (no latest, no bare major); Node 20 or newer, slim', () => {
    const bases = new Set(stages.map((s) => s.from).filter((f) => !stages.some((p) => p.name === f)));
    expect(bases.size).toBe(2);
    for (const b of bases) expect(b).toMatch(/:\d+\.\d+\.\d+-[a-z]+/);
    const node = [...bases].find((b) => b.startsWith('node:'))!;
    expect(Number(/^node:(\d+)/.exec(node)![1])).toBeGreaterThanOrEqual(20);
    expect(node).toMatch(/-slim$/);
  });

  test('multi-stage: one build stage compiles, the runtime images only copy its output', () => {
    expect(stages.length).toBeGreaterThanOrEqual(5);
    for (const t of serviceTargets) {
      const own = lineage(t).flatMap((s) => s.body);
      // No compiler, no package manager run in what ships.
      expect(own.filter((i) => i.op === 'RUN')).toEqual([]);
      expect(own.some((i) => i.op === 'COPY' && i.args.startsWith(`--from=build /out/${t} `))).toBe(true);
    }
    // Production dependencies only: pnpm deploy --prod, one folder per service.
    expect(stage('build').body.some((i) => i.op === 'RUN' && /pnpm .*deploy --prod/.test(i.args))).toBe(true);
  });

  test('every service image runs as a non-root user', () => {
    for (const t of serviceTargets) expect([t, last(t, 'USER')?.args]).toEqual([t, 'node']);
    // nginx: the unprivileged image's own user (uid 101), which our stage does not override.
    expect(baseImage('nginx')).toMatch(/^nginxinc\/nginx-unprivileged:/);
    expect(last('nginx', 'USER')).toBeUndefined();
  });

  test('HEALTHCHECK on /healthz, exec form', () => {
    for (const t of [...serviceTargets, 'nginx']) {
      const hc = last(t, 'HEALTHCHECK')?.args ?? '';
      expect([t, /CMD \[.*\/healthz/.test(hc)]).toEqual([t, true]);
    }
  });

  test('exec-form CMD with node as PID 1, so SIGTERM reaches it', () => {
    for (const t of serviceTargets) {
      const cmd = JSON.parse(last(t, 'CMD')!.args) as string[];
      expect([t, cmd[0], cmd[1]]).toEqual([t, 'node', 'dist/main.js']);
      expect(last(t, 'ENTRYPOINT')).toBeUndefined();
      expect(last(t, 'STOPSIGNAL')?.args).toBe('SIGTERM');
    }
    expect(last('nginx', 'STOPSIGNAL')?.args).toBe('SIGQUIT');
  });

  test('the model is baked into the inference image, and only there', () => {
    const copies = (t: string) => lineage(t).flatMap((s) => s.body.filter((i) => i.op === 'COPY'));
    expect(copies('inference').map((i) => i.args)).toContain('models/ /app/models/');
    expect(last('inference', 'ENV')?.args).toMatch(/MODEL_DIR=\/app\/models/);
    for (const t of ['users', 'images']) expect(copies(t).some((i) => i.args.includes('models/'))).toBe(false);
  });

  test('nginx serves the web build and the error pages at the paths nginx.conf reads', () => {
    const copies = lineage('nginx').flatMap((s) => s.body.filter((i) => i.op === 'COPY').map((i) => i.args));
    expect(copies).toEqual(
      expect.arrayContaining([
        'nginx/nginx.conf /etc/nginx/nginx.conf',
        'nginx/errors/ /usr/share/nginx/errors/',
        '--from=web-build /src/web/dist/ /usr/share/nginx/html/',
      ]),
    );
    const conf = readFileSync(join(repoRoot, 'nginx', 'nginx.conf'), 'utf8');
    expect(conf).toContain('/usr/share/nginx/errors/');
    expect(conf).toMatch(/root \/usr\/share\/nginx\/html;/);
    expect(conf).toMatch(/listen 8080;/);
  });

  test('.dockerignore keeps local state, secrets and build output out of the context', () => {
    const ignored = readFileSync(join(repoRoot, '.dockerignore'), 'utf8').split('\n');
    for (const p of ['.git', '**/node_modules', '**/dist', '.env', 'deploy/secrets', 'data'])
      expect(ignored).toContain(p);
    expect(ignored).not.toContain('models');
  });
});

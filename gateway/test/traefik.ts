/**
 * Traefik's configuration as data, for the gateway tests: typed (zod, strict objects, so an option
 * misspelt or in the wrong place fails) over exactly the options this project uses, the file
 * provider's env templating rendered as Traefik renders it, the compose labels read back into the
 * same shape, and a small evaluator for the rule matchers we use.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';
import { loadCompose, repoRoot } from '../../deploy/test/compose';

const duration = z.string().regex(/^\d+(ms|s|m|h)$/);
const port = z.string().regex(/^:\d+$/);
/** Values Traefik reads as numbers; paerser converts the rendered strings. */
const int = z.union([z.number().int(), z.string().regex(/^\d+$/).transform(Number)]);

// ---- static configuration (gateway/traefik.yml) ----------------------------------------------
const entryPoint = z.strictObject({
  address: port,
  asDefault: z.boolean().optional(),
  http: z
    .strictObject({
      middlewares: z.array(z.string()).optional(),
      tls: z.strictObject({ certResolver: z.string().optional() }).optional(),
    })
    .optional(),
  forwardedHeaders: z.strictObject({ trustedIPs: z.array(z.string()) }).optional(),
  transport: z.strictObject({ lifeCycle: z.strictObject({ graceTimeOut: duration }) }).optional(),
});

export const staticSchema = z.strictObject({
  global: z.strictObject({ checkNewVersion: z.boolean(), sendAnonymousUsage: z.boolean() }),
  entryPoints: z.record(z.string(), entryPoint),
  api: z.strictObject({
    dashboard: z.boolean(),
    basePath: z.string().startsWith('/'),
    insecure: z.literal(false).optional(),
  }),
  ping: z.strictObject({ entryPoint: z.string() }),
  metrics: z.strictObject({
    prometheus: z.strictObject({
      entryPoint: z.string(),
      addRoutersLabels: z.boolean(),
      addServicesLabels: z.boolean(),
    }),
  }),
  providers: z.strictObject({
    docker: z.strictObject({ exposedByDefault: z.boolean(), network: z.string(), defaultRule: z.string() }),
    file: z.strictObject({ directory: z.string(), watch: z.boolean() }),
  }),
  certificatesResolvers: z.record(
    z.string(),
    z.strictObject({
      acme: z.strictObject({
        email: z.email().optional(),
        storage: z.string(),
        tlsChallenge: z.strictObject({}).optional(),
        httpChallenge: z.strictObject({ entryPoint: z.string() }).optional(),
      }),
    }),
  ),
  log: z.strictObject({ level: z.enum(['DEBUG', 'INFO', 'WARN', 'ERROR']), format: z.enum(['json', 'common']) }),
  accessLog: z.strictObject({
    format: z.enum(['json', 'common']),
    fields: z.strictObject({ headers: z.strictObject({ defaultMode: z.enum(['keep', 'drop', 'redact']) }) }).optional(),
  }),
});
export type StaticConfig = z.infer<typeof staticSchema>;

// ---- dynamic configuration (gateway/dynamic/*.yml and the compose labels) ----------------------
const ipStrategy = z.strictObject({ depth: int.optional(), excludedIPs: z.array(z.string()).optional() });
const csv = z.union([z.array(z.string()), z.string().transform((s) => s.split(',').map((x) => x.trim()))]);

const middleware = z.union([
  z.strictObject({
    rateLimit: z.strictObject({
      average: int,
      period: duration,
      burst: int,
      sourceCriterion: z.strictObject({ ipStrategy }),
    }),
  }),
  z.strictObject({
    ipAllowList: z.strictObject({
      // A YAML list: Traefik's file provider refuses a comma-separated string where it expects a list.
      sourceRange: z.array(z.string().regex(/^[\da-f.:]+\/\d{1,3}$/i)).min(1),
      ipStrategy: ipStrategy.optional(),
      rejectStatusCode: int.optional(),
    }),
  }),
  z.strictObject({
    errors: z.strictObject({
      status: z.array(z.string().regex(/^\d{3}(-\d{3})?$/)),
      service: z.string(),
      query: z.string(),
    }),
  }),
  z.strictObject({ retry: z.strictObject({ attempts: int, initialInterval: duration.optional() }) }),
  z.strictObject({ stripPrefix: z.strictObject({ prefixes: z.array(z.string().startsWith('/')) }) }),
  z.strictObject({
    redirectScheme: z.strictObject({
      scheme: z.enum(['https']),
      permanent: z.union([z.boolean(), z.enum(['true', 'false'])]),
    }),
  }),
]);

const healthCheck = z.strictObject({ path: z.string().startsWith('/'), interval: duration, timeout: duration });
const service = z.union([
  z.strictObject({
    loadBalancer: z.strictObject({
      server: z.strictObject({ port: z.string().regex(/^\d+$/) }).optional(),
      servers: z.array(z.strictObject({ url: z.url() })).optional(),
      healthCheck: healthCheck.optional(),
    }),
  }),
  z.strictObject({
    failover: z.strictObject({ service: z.string(), fallback: z.string(), healthCheck: z.strictObject({}).optional() }),
  }),
]);

const router = z.strictObject({
  rule: z.string(),
  priority: int.optional(),
  service: z.string(),
  middlewares: csv.optional(),
  entryPoints: csv.optional(),
  tls: z
    .strictObject({
      certResolver: z.string().optional(),
      domains: z.array(z.strictObject({ main: z.string() })).optional(),
    })
    .optional(),
});

export const dynamicSchema = z.strictObject({
  http: z.strictObject({
    routers: z.record(z.string(), router).optional(),
    middlewares: z.record(z.string(), middleware).optional(),
    services: z.record(z.string(), service).optional(),
  }),
});
export type DynamicConfig = z.infer<typeof dynamicSchema>;
export type Router = z.infer<typeof router>;
export type Middleware = z.infer<typeof middleware>;
export type Service = z.infer<typeof service>;

// ---- loading -----------------------------------------------------------------------------------
export const gatewayDir = join(repoRoot, 'gateway');

export function loadStatic(): StaticConfig {
  return staticSchema.parse(parse(readFileSync(join(gatewayDir, 'traefik.yml'), 'utf8')));
}

/**
 * The file provider's Go templating, for the only forms used here: `{{ env "X" }}` and
 * `{{ env "X" | default "v" }}` (sprig: an empty or unset X gives v). Anything else is refused, so
 * a template these tests cannot read fails instead of passing unread.
 */
export function renderTemplate(text: string, env: Record<string, string> = {}): string {
  return text.replace(/\{\{(.*?)\}\}/g, (whole, body: string) => {
    const m = /^\s*env "([A-Z_]+)"(?:\s*\|\s*default "([^"]*)")?\s*$/.exec(body);
    if (!m) throw new Error(`unsupported template: ${whole}`);
    return env[m[1]!] || m[2] || '';
  });
}

export interface DynamicFile {
  file: string;
  config: DynamicConfig;
}

export function loadDynamicFiles(env: Record<string, string> = {}): DynamicFile[] {
  const dir = join(gatewayDir, 'dynamic');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yml'))
    .sort()
    .map((file) => ({
      file,
      config: dynamicSchema.parse(parse(renderTemplate(readFileSync(join(dir, file), 'utf8'), env))),
    }));
}

/** Traefik label keys are case-insensitive; these are the option names they stand for. */
const labelNames: Record<string, string> = {
  loadbalancer: 'loadBalancer',
  healthcheck: 'healthCheck',
  ipallowlist: 'ipAllowList',
  sourcerange: 'sourceRange',
  ipstrategy: 'ipStrategy',
  redirectscheme: 'redirectScheme',
  certresolver: 'certResolver',
  entrypoints: 'entryPoints',
};

/** `traefik.http.…` labels of one compose service (with compose's ${VAR} left as text) as dynamic config. */
export function labelsToDynamic(labels: Record<string, string>): unknown {
  const root: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(labels)) {
    if (!key.startsWith('traefik.http.')) continue;
    const path = key.slice('traefik.'.length).split('.');
    let node = root;
    path.forEach((raw, i) => {
      const indexed = /^(\w+)\[(\d+)\]$/.exec(raw);
      const name = labelNames[indexed ? indexed[1]! : raw] ?? (indexed ? indexed[1]! : raw);
      if (indexed) {
        const list = (node[name] ??= []) as Record<string, unknown>[];
        node = list[Number(indexed[2])] ??= {};
        return;
      }
      if (i === path.length - 1) node[name] = value;
      else node = (node[name] ??= {}) as Record<string, unknown>;
    });
  }
  return root;
}

/** Dynamic config from every compose service's labels, by compose service name. */
export function loadLabelConfigs(file = 'docker-compose.yml'): Map<string, DynamicConfig> {
  const out = new Map<string, DynamicConfig>();
  for (const [name, s] of Object.entries(loadCompose(file).services)) {
    if (s.labels?.['traefik.enable'] !== 'true') continue;
    out.set(name, dynamicSchema.parse(labelsToDynamic(s.labels)));
  }
  return out;
}

// ---- rules -------------------------------------------------------------------------------------
export interface Request {
  path: string;
  headers?: Record<string, string>;
  host?: string;
}

type Node =
  | { op: 'and' | 'or'; left: Node; right: Node }
  | { op: 'not'; arg: Node }
  | { op: 'matcher'; name: string; args: string[] };

/** Parses the Traefik v3 rule syntax we use: matchers with backquoted arguments, &&, ||, !, (). */
export function parseRule(rule: string): Node {
  const tokens = rule.match(/&&|\|\||!|\(|\)|,|`[^`]*`|[A-Za-z]+/g) ?? [];
  let i = 0;
  const peek = () => tokens[i];
  const take = (expected?: string) => {
    const t = tokens[i++];
    if (t === undefined || (expected && t !== expected))
      throw new Error(`rule ${rule}: expected ${expected}, got ${t}`);
    return t;
  };
  const or = (): Node => {
    let left = and();
    while (peek() === '||') {
      take();
      left = { op: 'or', left, right: and() };
    }
    return left;
  };
  const and = (): Node => {
    let left = unary();
    while (peek() === '&&') {
      take();
      left = { op: 'and', left, right: unary() };
    }
    return left;
  };
  const unary = (): Node => {
    if (peek() === '!') return (take(), { op: 'not', arg: unary() });
    if (peek() === '(') {
      take('(');
      const inner = or();
      take(')');
      return inner;
    }
    const name = take();
    take('(');
    const args: string[] = [];
    while (peek() !== ')') {
      const arg = take();
      if (!arg.startsWith('`')) throw new Error(`rule ${rule}: argument ${arg} is not backquoted`);
      args.push(arg.slice(1, -1));
      if (peek() === ',') take(',');
    }
    take(')');
    return { op: 'matcher', name, args };
  };
  const tree = or();
  if (i !== tokens.length) throw new Error(`rule ${rule}: unexpected ${tokens[i]}`);
  return tree;
}

export function matches(rule: string, req: Request): boolean {
  const evaluate = (n: Node): boolean => {
    switch (n.op) {
      case 'and':
        return evaluate(n.left) && evaluate(n.right);
      case 'or':
        return evaluate(n.left) || evaluate(n.right);
      case 'not':
        return !evaluate(n.arg);
      case 'matcher': {
        const [a = '', b = ''] = n.args;
        const header = (name: string) =>
          Object.entries(req.headers ?? {}).find(([k]) => k.toLowerCase() === name.toLowerCase())?.[1];
        switch (n.name) {
          case 'Path':
            return req.path === a;
          case 'PathPrefix':
            return req.path.startsWith(a);
          case 'Host':
            return req.host?.toLowerCase() === a.toLowerCase();
          case 'HeaderRegexp': {
            const v = header(a);
            return v !== undefined && new RegExp(b).test(v);
          }
          default:
            throw new Error(`matcher ${n.name} is not understood by these tests`);
        }
      }
    }
  };
  return evaluate(parseRule(rule));
}

/** Every Path/PathPrefix argument in a rule. */
export function pathLiterals(rule: string): string[] {
  const out: string[] = [];
  const walk = (n: Node) => {
    if (n.op === 'matcher') {
      if (n.name === 'Path' || n.name === 'PathPrefix') out.push(n.args[0]!);
    } else if (n.op === 'not') walk(n.arg);
    else {
      walk(n.left);
      walk(n.right);
    }
  };
  walk(parseRule(rule));
  return out;
}

import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Express } from 'express';
import { createModulesApp, createShell, listRoutes, loadConfig, openEventBus, statusOfKind } from '@capcheck/shared';
import { localConfigSchema } from '@capcheck/local';
import * as users from '@capcheck/users';
import * as images from '@capcheck/images';
import * as inference from '@capcheck/inference';
import { buildTarget, loadCompose } from '../../deploy/test/compose';
import {
  gatewayDir,
  loadDynamicFiles,
  loadLabelConfigs,
  loadStatic,
  matches,
  pathLiterals,
  renderTemplate,
  staticSchema,
  type Middleware,
  type Request,
  type Router,
  type Service,
} from './traefik';

const staticConfig = loadStatic();
const files = loadDynamicFiles();
const labelConfigs = loadLabelConfigs();
const compose = loadCompose();

// ---- everything Traefik would hold, by provider-qualified name ---------------------------------
const qualify = (ref: string, provider: string) => (ref.includes('@') ? ref : `${ref}@${provider}`);
const routers = new Map<string, Router>();
const middlewares = new Map<string, Middleware[]>(); // a list: a name defined twice must show up
const services = new Map<string, Service>();
const dockerServiceOwners = new Map<string, string[]>(); // Traefik service -> compose services
for (const { config } of files) {
  for (const [n, r] of Object.entries(config.http.routers ?? {})) routers.set(`${n}@file`, r);
  for (const [n, m] of Object.entries(config.http.middlewares ?? {}))
    middlewares.set(`${n}@file`, [...(middlewares.get(`${n}@file`) ?? []), m]);
  for (const [n, s] of Object.entries(config.http.services ?? {})) services.set(`${n}@file`, s);
}
for (const [composeName, config] of labelConfigs) {
  for (const [n, m] of Object.entries(config.http.middlewares ?? {}))
    middlewares.set(`${n}@docker`, [...(middlewares.get(`${n}@docker`) ?? []), m]);
  for (const [n, s] of Object.entries(config.http.services ?? {})) {
    services.set(`${n}@docker`, s);
    dockerServiceOwners.set(`${n}@docker`, [...(dockerServiceOwners.get(`${n}@docker`) ?? []), composeName]);
  }
}
const routerMiddlewares = (r: Router) => (r.middlewares as string[] | undefined)?.map((m) => qualify(m, 'file')) ?? [];

/** The compose services a Traefik service sends to (through failover; file servers by DNS name). */
function backends(ref: string): string[] {
  if (ref === 'api@internal') return ['traefik'];
  const s = services.get(ref);
  if (!s) throw new Error(`unknown service ${ref}`);
  if ('failover' in s) {
    const provider = ref.split('@')[1]!;
    return [...backends(qualify(s.failover.service, provider)), ...backends(qualify(s.failover.fallback, provider))];
  }
  const byUrl = (s.loadBalancer.servers ?? []).map(({ url }) => new URL(url).hostname);
  return [...(dockerServiceOwners.get(ref) ?? []), ...byUrl];
}

/**
 * The routers Traefik keeps when the given @docker services are missing (Docker drops a service
 * whose replicas are all unhealthy): a router is dropped when its service, or a service one of its
 * middlewares or failovers needs, cannot be built.
 */
function liveRouters(missing: ReadonlySet<string>): Map<string, Router> {
  const serviceBuilds = (ref: string): boolean => {
    if (ref === 'api@internal') return true;
    const s = services.get(ref);
    if (!s || missing.has(ref)) return false;
    if (!('failover' in s)) return true;
    const provider = ref.split('@')[1]!;
    return (
      serviceBuilds(qualify(s.failover.service, provider)) && serviceBuilds(qualify(s.failover.fallback, provider))
    );
  };
  const middlewareBuilds = (ref: string) =>
    (middlewares.get(ref) ?? []).every((m) => !('errors' in m) || serviceBuilds(qualify(m.errors.service, 'file')));
  return new Map(
    [...routers].filter(
      ([, r]) => serviceBuilds(qualify(r.service, 'file')) && routerMiddlewares(r).every(middlewareBuilds),
    ),
  );
}

/** The router Traefik picks for a request: the highest priority among those whose rule matches. */
function route(req: Request, among: Map<string, Router> = routers): [string, Router] | undefined {
  const hits = [...among].filter(([, r]) => matches(r.rule, req));
  hits.sort((a, b) => Number(b[1].priority ?? b[1].rule.length) - Number(a[1].priority ?? a[1].rule.length));
  if (hits.length > 1) expect(hits[0]![1].priority).not.toEqual(hits[1]![1].priority); // no ties
  return hits[0];
}

const bearer = { authorization: 'Bearer eyJhbGciOiJFUzI1NiJ9.e30.sig' };

describe('Traefik static configuration (gateway/traefik.yml)', () => {
  test('is typed: the schema rejects a misspelt option', () => {
    expect(() => loadStatic()).not.toThrow();
    const broken = { ...staticConfig, providers: { ...staticConfig.providers, docker: { exposedbydefault: false } } };
    expect(staticSchema.safeParse(broken).success).toBe(false);
  });

  test('the Docker provider exposes nothing by default and creates no Host-header routers', () => {
    const docker = staticConfig.providers.docker;
    expect(docker.exposedByDefault).toBe(false);
    // Renders to the empty string: Traefik then drops the default router ("Undefined rule").
    expect(docker.defaultRule).toBe('{{ "" }}');
    expect(docker.network).toBe(compose.networks?.backend?.name);
    expect(staticConfig.providers.file.directory).toBe('/etc/traefik/dynamic');
    expect(compose.services.traefik?.volumes).toContain('./gateway/dynamic:/etc/traefik/dynamic:ro');
    expect(compose.services.traefik?.volumes).toContain('./gateway/traefik.yml:/etc/traefik/traefik.yml:ro');
  });

  test('metrics and ping on an internal entry point that Prometheus scrapes at traefik:8082', () => {
    expect(staticConfig.entryPoints.metrics?.address).toBe(':8082');
    expect(staticConfig.metrics.prometheus.entryPoint).toBe('metrics');
    expect(staticConfig.ping.entryPoint).toBe('metrics');
    expect(readFileSync(join(gatewayDir, '..', 'monitoring/prometheus/prometheus.yml'), 'utf8')).toContain(
      "'traefik:8082'",
    );
    expect(staticConfig.entryPoints.metrics?.asDefault).toBeUndefined();
  });

  test("TLS is ready and off by default: websecure and Let's Encrypt exist, port 443 is published only by the TLS override", () => {
    expect(staticConfig.entryPoints.websecure?.http?.tls).toEqual({});
    expect(staticConfig.certificatesResolvers.letsencrypt?.acme.tlsChallenge).toEqual({});
    expect(JSON.stringify(compose.services.traefik?.ports)).not.toContain('8443');
    const tls = loadCompose('deploy/compose.tls.yml').services.traefik!;
    expect(tls.ports).toEqual(['443:8443']);
    const tlsRouters = loadLabelConfigs('deploy/compose.tls.yml').get('traefik')!.http.routers!;
    expect(tlsRouters['tls-certificate']?.tls?.certResolver).toBe('letsencrypt');
    expect(tlsRouters['to-https']?.middlewares).toEqual(['to-https']);
  });

  test('with TLS on, the certificate router never answers and never ties with a path router on websecure', () => {
    const tlsRouters = loadLabelConfigs('deploy/compose.tls.yml').get('traefik')!.http.routers!;
    const onWebsecure = new Map(routers);
    for (const [n, r] of Object.entries(tlsRouters))
      if ((r.entryPoints as string[] | undefined)?.includes('websecure')) onWebsecure.set(`${n}@docker`, r);
    expect([...onWebsecure.keys()]).toContain('tls-certificate@docker');
    const host = 'capcheck.example.org';
    for (const path of ['/', '/predict/x', '/images', '/admin', '/admin/x', '/no/such/page', '/.well-known/jwks.json'])
      for (const headers of [{}, bearer]) {
        // `route` fails on a tie between the two best matches.
        const hit = route({ path, headers, host: '${PUBLIC_HOST:?set PUBLIC_HOST in .env}' }, onWebsecure);
        expect([path, hit?.[0]]).not.toEqual([path, 'tls-certificate@docker']);
        expect(route({ path, headers, host }, onWebsecure)?.[0]).not.toBe('tls-certificate@docker');
      }
  });

  test('Traefik is pinned to a v3.6 patch with the Docker API negotiation and the path-routing fixes', () => {
    const m = /^traefik:v3\.6\.(\d+)$/.exec(compose.services.traefik?.image ?? '');
    expect(m).not.toBeNull();
    // v3.6.1 negotiates the Docker API version (v3.6.0 asks 1.24, which Docker Engine 29 refuses);
    // v3.6.19 is the later of the path-routing CVE fixes that matter to /admin + stripPrefix.
    expect(Number(m![1])).toBeGreaterThanOrEqual(19);
  });

  test('the dashboard is only reachable through the allow-listed /admin/traefik router', () => {
    expect(staticConfig.api.insecure).toBeUndefined();
    expect(staticConfig.api.basePath).toBe('/admin/traefik');
    const [name, r] = route({ path: '/admin/traefik/dashboard/' })!;
    expect([name, r.service]).toEqual(['admin-traefik@file', 'api@internal']);
  });
});

describe('Traefik dynamic configuration (gateway/dynamic/*.yml and the compose labels)', () => {
  test('the templates render, with the defaults and with settings', () => {
    const set = loadDynamicFiles({ CLIENT_IP_DEPTH: '1' });
    const allow = set.flatMap((f) => Object.values(f.config.http.middlewares ?? {})).find((m) => 'ipAllowList' in m)!;
    expect(allow).toMatchObject({
      ipAllowList: { sourceRange: ['172.30.0.1/32', '127.0.0.1/32', '::1/128'], ipStrategy: { depth: 1 } },
    });
    const byDefault = middlewares.get('admin-allowlist@file')![0]!;
    expect(byDefault).toMatchObject({ ipAllowList: { ipStrategy: { depth: 0 }, rejectStatusCode: 404 } });
    expect(() => renderTemplate('{{ .Name }}')).toThrow(/unsupported/);
  });

  test('every reference resolves: routers to services and middlewares, failover to its groups', () => {
    for (const [name, r] of routers) {
      const target = qualify(r.service, 'file');
      expect([name, target === 'api@internal' || services.has(target)]).toEqual([name, true]);
      for (const m of routerMiddlewares(r)) expect([name, m, middlewares.has(m)]).toEqual([name, m, true]);
    }
    for (const ep of Object.values(staticConfig.entryPoints))
      for (const m of ep.http?.middlewares ?? []) expect(middlewares.has(m)).toBe(true);
    for (const [name, m] of middlewares) expect([name, m.length]).toEqual([name, 1]);
  });

  test('every load-balanced service is health checked; the services on /readyz', () => {
    const lbs = [...services].filter(([, s]) => 'loadBalancer' in s);
    expect(lbs.length).toBeGreaterThanOrEqual(7);
    for (const [name, s] of lbs) {
      const hc = 'loadBalancer' in s ? s.loadBalancer.healthCheck : undefined;
      expect([name, hc?.path !== undefined]).toEqual([name, true]);
    }
    for (const name of ['users', 'images', 'inference', 'inference-general']) {
      const s = services.get(`${name}@docker`)!;
      expect('loadBalancer' in s && s.loadBalancer.healthCheck?.path).toBe('/readyz');
      // Each compose service's labels name the port its process listens on.
      const target = buildTarget(compose.services[name]!)!;
      expect('loadBalancer' in s && s.loadBalancer.server?.port).toBe(
        { users: '8081', images: '8082', inference: '8083' }[target],
      );
    }
  });

  test('a backup server group: the dedicated inference pool fails over to the general one', () => {
    const s = services.get('inference-dedicated@file')!;
    expect(s).toEqual({
      failover: { service: 'inference@docker', fallback: 'inference-general@docker', healthCheck: {} },
    });
    // Failover needs the main group's health check to know it is down (or saturated).
    expect(backends('inference-dedicated@file')).toEqual(['inference', 'inference-general']);
    expect(compose.services.inference?.environment?.INFERENCE_READY_MAX_QUEUE).toBeDefined();
  });

  test('requests with a Bearer token go to the dedicated pool, others to the general one', () => {
    expect(route({ path: '/predict/abc', headers: bearer })![1].service).toBe('inference-dedicated');
    expect(route({ path: '/predict/abc', headers: { authorization: 'bearer x' } })![1].service).toBe(
      'inference-dedicated',
    );
    expect(route({ path: '/predict/abc' })![1].service).toBe('inference-general@docker');
    expect(route({ path: '/predict/abc', headers: { authorization: 'Basic eDp5' } })![1].service).toBe(
      'inference-general@docker',
    );
  });

  test("the line camera's routes are Bearer traffic too: POST /predict, /predict/batch and the Open Inference Protocol", () => {
    for (const path of ['/predict', '/predict/batch', '/v2', '/v2/health/ready', '/v2/models/bottle-state/infer']) {
      expect([path, route({ path, headers: bearer })![1].service]).toEqual([path, 'inference-dedicated']);
      expect([path, route({ path })![1].service]).toEqual([path, 'inference-general@docker']);
    }
    // ...and no path merely starting with those letters is taken from the web UI.
    expect(route({ path: '/v2x', headers: bearer })![0]).toBe('web@file');
  });

  test('the rate limit is defined exactly once and applied once, at the public entry points', () => {
    const limits = [...middlewares].filter(([, [m]]) => m && 'rateLimit' in m);
    expect(limits.map(([n]) => n)).toEqual(['edge-ratelimit@file']);
    const rl = limits[0]![1][0]!;
    // In memory: nothing outside Traefik (no Redis, whose errors would answer 500 to every
    // request) can fail the edge. The typed schema has no `redis` option, so it cannot creep back.
    expect('rateLimit' in rl && Object.keys(rl.rateLimit).sort()).toEqual([
      'average',
      'burst',
      'period',
      'sourceCriterion',
    ]);
    expect(compose.services.traefik?.depends_on).not.toHaveProperty('redis');
    expect('rateLimit' in rl && rl.rateLimit.average).toBeGreaterThan(0);
    for (const ep of ['web', 'websecure'])
      expect(staticConfig.entryPoints[ep]?.http?.middlewares).toEqual(['edge-ratelimit@file']);
    // ...so no router names it again (that would spend a client's budget twice per request).
    for (const [name, r] of routers)
      expect([name, routerMiddlewares(r).includes('edge-ratelimit@file')]).toEqual([name, false]);
    // The rate limit's client IP follows the allow-list's rule (one setting, CLIENT_IP_DEPTH).
    const allow = middlewares.get('admin-allowlist@file')![0]!;
    expect('rateLimit' in rl && rl.rateLimit.sourceCriterion.ipStrategy).toEqual(
      'ipAllowList' in allow && allow.ipAllowList.ipStrategy,
    );
  });

  test("the errors middleware sends gateway failures to nginx and leaves the services' own errors alone", () => {
    const [m] = middlewares.get('gateway-errors@file')!;
    expect(m).toEqual({ errors: { status: ['502', '504'], service: 'error-pages', query: '/errors/{status}' } });
    expect(backends('error-pages@file')).toEqual(['nginx']);
    // ...at the port nginx listens on.
    const errorPages = services.get('error-pages@file')!;
    const nginxPort = services.get('nginx@docker')!;
    expect('loadBalancer' in errorPages && new URL(errorPages.loadBalancer.servers![0]!.url).port).toBe(
      'loadBalancer' in nginxPort && nginxPort.loadBalancer.server?.port,
    );
    // nginx has a page for each status it is asked for.
    const nginxConf = readFileSync(join(gatewayDir, '..', 'nginx', 'nginx.conf'), 'utf8');
    for (const code of ['502', '504']) expect(nginxConf).toContain(`location = /errors/${code} { return ${code}; }`);
    // The services never send 502/504 themselves, so their JSON errors are never replaced.
    expect(Object.values(statusOfKind).filter((s) => s === 502 || s === 504)).toEqual([]);
    // Every router to a service carries it.
    for (const [name, r] of routers) {
      const toService = backends(qualify(r.service, 'file')).some((b) =>
        ['users', 'images', 'inference'].includes(buildTarget(compose.services[b]!) ?? ''),
      );
      if (toService) expect([name, routerMiddlewares(r).includes('gateway-errors@file')]).toEqual([name, true]);
    }
  });

  test('every router whose rule can match /admin carries the allow-list, first', () => {
    const adminPaths = [
      '/admin',
      '/admin/',
      '/administrator',
      '/admin/x',
      '/admin/api/users',
      '/admin/api/users/1',
      '/admin/api/prediction-logs',
      '/admin/api/feedback',
      '/admin/grafana/',
      '/admin/prometheus/graph',
      '/admin/traefik/dashboard/',
      '/admin/api/other',
    ];
    let checked = 0;
    for (const path of adminPaths)
      for (const headers of [{}, bearer])
        for (const [name, r] of routers)
          if (matches(r.rule, { path, headers })) {
            checked++;
            expect([path, name, routerMiddlewares(r)[0]]).toEqual([path, name, 'admin-allowlist@file']);
          }
    expect(checked).toBeGreaterThan(adminPaths.length);
    // ...and the rules say so: any router mentioning /admin is allow-listed, and no other can match it.
    for (const [name, r] of routers) {
      if (r.rule.includes('/admin')) {
        const negatedOnly = /!PathPrefix\(`\/admin`\)/.test(r.rule);
        if (!negatedOnly) expect([name, routerMiddlewares(r)[0]]).toEqual([name, 'admin-allowlist@file']);
      }
    }
  });

  test('degrade, not cascade: no middleware depends on a @docker service', () => {
    for (const [name, [m]] of middlewares)
      if (m && 'errors' in m)
        expect([name, qualify(m.errors.service, 'file').endsWith('@docker')]).toEqual([name, false]);
    // A sick nginx costs the web UI and the error pages; every API router stays.
    const withoutNginx = liveRouters(new Set(['nginx@docker']));
    expect([...routers.keys()].filter((n) => !withoutNginx.has(n)).sort()).toEqual(['admin@file', 'web@file']);
  });

  test('degrade, not cascade: Bearer traffic reaches the general pool when the dedicated one vanishes', () => {
    const live = liveRouters(new Set(['inference@docker']));
    expect(live.has('inference-bearer@file')).toBe(false); // its failover cannot be built...
    const [name, r] = route({ path: '/predict/abc', headers: bearer }, live)!;
    expect([name, r.service]).toEqual(['inference@file', 'inference-general@docker']); // ...so this one answers
    for (const path of ['/admin/api/prediction-logs', '/admin/api/feedback']) {
      const [adminName, admin] = route({ path, headers: bearer }, live)!;
      expect([path, adminName, admin.service, routerMiddlewares(admin)[0]]).toEqual([
        path,
        'admin-inference-general@file',
        'inference-general@docker',
        'admin-allowlist@file',
      ]);
    }
  });

  test("the web UI and anything unknown go to nginx; the services' health and metrics are not public", () => {
    for (const path of [
      '/',
      '/index.html',
      '/assets/app-1234.js',
      '/no/such/page',
      '/healthz',
      '/readyz',
      '/metrics',
      '/errors/502',
    ])
      expect([path, route({ path })![0]]).toEqual([path, 'web@file']);
  });
});

describe('gateway routes against the routes the services register', () => {
  type Svc = 'users' | 'images' | 'inference';
  const served = new Map<Svc, string[]>();
  const prefixes: Record<Svc, string[]> = {
    users: users.usersPathPrefixes,
    images: images.imagesPathPrefixes,
    inference: inference.inferencePathPrefixes,
  };
  let closeAll: () => Promise<void> = async () => {};

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'capcheck-gateway-'));
    const config = loadConfig(localConfigSchema, {
      DATA_DIR: dir,
      LOG_LEVEL: 'silent',
      INFERENCE_WORKERS: '1',
      BCRYPT_COST: '4',
    });
    // Each service's module, as its own process opens it (events on one in-process bus, so its queues close once).
    const processShell = createShell(config, 'gateway-test');
    const events = await openEventBus(config, processShell.logger, processShell.metrics);
    const modules = {
      users: await users.openUsersModule(config, processShell),
      images: await images.openImagesModule(config, processShell, { events }),
      inference: await inference.openInferenceModule(config, processShell, { events }),
    };
    closeAll = async () => {
      for (const closer of Object.values(modules).flatMap((m) => m.closers)) await closer.close();
      await events.close();
    };
    const apps = Object.fromEntries(
      Object.entries(modules).map(([name, module]) => [name, createModulesApp(name, processShell, [module])]),
    ) as Record<Svc, Express>;
    const all = Object.fromEntries(Object.entries(apps).map(([n, app]) => [n, listRoutes(app)])) as Record<
      Svc,
      string[]
    >;
    // The HTTP shell's own routes (/healthz, /readyz, /metrics) are in every app: not the gateway's business.
    const shell = all.users.filter((r) => all.images.includes(r) && all.inference.includes(r));
    expect(shell).toEqual(['GET /healthz', 'GET /readyz', 'GET /metrics']);
    for (const n of Object.keys(all) as Svc[])
      served.set(
        n,
        all[n].filter((r) => !shell.includes(r)),
      );
  });
  afterAll(() => closeAll());

  /** A concrete request for a route template: `:id` becomes a sample id. */
  const sample = (route: string) => route.split(' ')[1]!.replace(/:\w+/g, '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b');

  test('the apps register routes (the check below is not empty)', () => {
    expect(served.get('users')).toContain('POST /auth/login');
    expect(served.get('images')).toContain('POST /images');
    expect(served.get('inference')).toContain('GET /predict/:id');
  });

  test('every service route reaches exactly its own service through the gateway, with or without a token', () => {
    for (const [svc, routes] of served) {
      for (const r of routes) {
        for (const headers of [{}, bearer]) {
          const hit = route({ path: sample(r), headers });
          expect([r, hit !== undefined]).toEqual([r, true]);
          const [name, router] = hit!;
          const targets = backends(qualify(router.service, 'file')).map((b) => buildTarget(compose.services[b]!));
          expect([r, name, [...new Set(targets)]]).toEqual([r, name, [svc]]);
          if (r.split(' ')[1]!.startsWith('/admin'))
            expect([r, routerMiddlewares(router)[0]]).toEqual([r, 'admin-allowlist@file']);
          else expect([r, routerMiddlewares(router)]).not.toContain('admin-allowlist@file');
        }
      }
    }
  });

  test('with any one @docker service gone, every service route still reaches its service while it has a pool', () => {
    for (const gone of [...services.keys()].filter((n) => n.endsWith('@docker'))) {
      const live = liveRouters(new Set([gone]));
      for (const [svc, routes] of served) {
        // The compose services (pools) that still serve this service's routes.
        const pools = Object.entries(compose.services)
          .filter(([, c]) => buildTarget(c) === svc)
          .map(([n]) => n)
          .filter((n) => !(dockerServiceOwners.get(gone) ?? []).includes(n));
        if (pools.length === 0) continue;
        for (const r of routes)
          for (const headers of [{}, bearer]) {
            const hit = route({ path: sample(r), headers }, live);
            const targets = hit
              ? backends(qualify(hit[1].service, 'file')).map((b) => buildTarget(compose.services[b]!))
              : [];
            expect([gone, r, [...new Set(targets)]]).toEqual([gone, r, [svc]]);
          }
      }
    }
  });

  test("each service's exported path prefixes cover its routes", () => {
    for (const [svc, routes] of served)
      for (const r of routes) {
        const path = sample(r);
        expect([r, prefixes[svc].some((p) => path === p || path.startsWith(`${p}/`))]).toEqual([r, true]);
      }
  });

  test('no gateway router names a path prefix its service does not serve, and every prefix has a router', () => {
    const used = new Map<Svc, Set<string>>();
    for (const [name, r] of routers) {
      const targets = [...new Set(backends(qualify(r.service, 'file')).map((b) => buildTarget(compose.services[b]!)))];
      const svc = targets[0] as Svc | undefined;
      if (!svc || !(svc in prefixes)) continue;
      expect([name, targets.length]).toEqual([name, 1]);
      for (const literal of pathLiterals(r.rule)) {
        const prefix = literal.replace(/\/$/, '');
        expect([name, literal, prefixes[svc].includes(prefix)]).toEqual([name, literal, true]);
        used.set(svc, (used.get(svc) ?? new Set()).add(prefix));
      }
    }
    for (const svc of Object.keys(prefixes) as Svc[])
      expect([svc, [...(used.get(svc) ?? [])].sort()]).toEqual([svc, [...prefixes[svc]].sort()]);
  });
});

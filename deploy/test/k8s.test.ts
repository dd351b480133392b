import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { buildTarget, loadCompose, repoRoot } from './compose';
import { matches, type Router } from '../../gateway/test/traefik';
import { suiteFor } from '../../test-support/http';
import { k8sDir, kubectlMissing, overlays, render, validate, type K8sObject } from './k8s';

type Container = {
  name: string;
  image: string;
  ports: { name: string; containerPort: number }[];
  env?: { name: string; value?: string; valueFrom?: Record<string, { name: string; key: string }> }[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  startupProbe?: { httpGet: { path: string } };
  livenessProbe?: { httpGet: { path: string } };
  readinessProbe?: { httpGet: { path: string } };
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: {
    allowPrivilegeEscalation?: boolean;
    readOnlyRootFilesystem?: boolean;
    capabilities?: { drop?: string[] };
  };
};
type PodSpec = {
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number };
  containers: Container[];
  volumes?: { name: string; secret?: { secretName: string } }[];
};
type Route = {
  match: string;
  priority: number;
  middlewares: { name: string }[];
  services: { name: string; port: number }[];
};

const compose = loadCompose();
const gatewayRouters = (
  parse(readFileSync(join(repoRoot, 'gateway', 'dynamic', 'routes.yml'), 'utf8')) as {
    http: { routers: Record<string, Router> };
  }
).http.routers;
const gatewayMiddlewares = (
  parse(
    readFileSync(join(repoRoot, 'gateway', 'dynamic', 'middlewares.yml'), 'utf8').replace(/\{\{[^}]*\}\}/g, ''),
  ) as {
    http: { middlewares: Record<string, Record<string, Record<string, unknown>>> };
  }
).http.middlewares;
/** The gateway's Traefik services and the Kubernetes Service each stands for. */
const serviceTwins: Record<string, string> = {
  'users@docker': 'users',
  'images@docker': 'images',
  'inference-dedicated': 'inference',
  'inference@docker': 'inference',
  'inference-general@docker': 'inference-general',
  'nginx@docker': 'nginx',
};
const appDeployments = ['users', 'images', 'inference', 'inference-general'];

suiteFor('Kubernetes manifests (deploy/k8s): kustomize, schemas, cross-checks', 'kubectl', kubectlMissing(), () => {
  const rendered = new Map<string, K8sObject[]>();
  beforeAll(() => {
    for (const o of overlays) rendered.set(o, render(join(k8sDir, 'overlays', o)));
  });
  const each = (fn: (objects: K8sObject[], overlay: string) => void) => {
    for (const [overlay, objects] of rendered) fn(objects, overlay);
  };
  const find = (objects: K8sObject[], kind: string, name: string) =>
    objects.find((o) => o.kind === kind && o.metadata.name === name);
  const podSpec = (d: K8sObject) => (d.spec as { template: { spec: PodSpec } }).template.spec;

  test('every overlay renders, and every object is valid for its schema with no unknown field', () => {
    each((objects, overlay) => {
      expect(objects.length).toBeGreaterThan(40);
      for (const o of objects)
        expect([overlay, o.kind, o.metadata.name, validate(o)]).toEqual([overlay, o.kind, o.metadata.name, []]);
    });
  });

  test('the validation is real: a wrong type and an unknown field both fail', () => {
    const d = structuredClone(find(rendered.get('local')!, 'Deployment', 'users')!);
    expect(validate(d)).toEqual([]);
    (podSpec(d).containers[0] as unknown as Record<string, unknown>).readinesProbe = { httpGet: { path: '/readyz' } };
    expect(validate(d)).toEqual(['Deployment/users.spec.template.spec.containers[0].readinesProbe']);
    (d.spec as Record<string, unknown>).replicas = 'three';
    expect(() => validate(d)).toThrow(/replicas must be integer/);
    const route = structuredClone(find(rendered.get('local')!, 'IngressRoute', 'users')!);
    (route.spec as { routes: Record<string, unknown>[] }).routes[0]!.priorty = 1;
    expect(validate(route)).toEqual(['IngressRoute/users.spec.routes[0].priorty']);
  });

  test('no Secret is committed: the Deployments reference Secrets made out of band (README)', () => {
    const readme = readFileSync(join(k8sDir, 'README.md'), 'utf8');
    each((objects) => {
      expect(objects.filter((o) => o.kind === 'Secret')).toEqual([]);
      for (const d of objects.filter((o) => o.kind === 'Deployment')) {
        const spec = podSpec(d);
        const refs = [
          ...spec.containers.flatMap((c) => (c.env ?? []).map((e) => e.valueFrom?.secretKeyRef)),
          ...(spec.volumes ?? []).map((v) => v.secret && { name: v.secret.secretName, key: '' }),
        ].filter((r): r is { name: string; key: string } => r !== undefined);
        for (const r of refs) {
          expect([d.metadata.name, r.name, readme.includes(r.name)]).toEqual([d.metadata.name, r.name, true]);
          if (r.key) expect([d.metadata.name, r.key, readme.includes(r.key)]).toEqual([d.metadata.name, r.key, true]);
        }
      }
    });
  });

  test('every Deployment: probes, resources, non-root, read-only root filesystem, no privilege escalation', () => {
    each((objects, overlay) => {
      const deployments = objects.filter((o) => o.kind === 'Deployment');
      expect(deployments.map((d) => d.metadata.name).sort()).toEqual([...appDeployments, 'nginx'].sort());
      for (const d of deployments) {
        const spec = podSpec(d);
        const name = `${overlay}/${d.metadata.name}`;
        expect([name, spec.securityContext?.runAsNonRoot, spec.securityContext?.runAsUser]).toEqual([
          name,
          true,
          d.metadata.name === 'nginx' ? 101 : 1000,
        ]);
        for (const c of spec.containers) {
          expect([name, c.securityContext]).toEqual([
            name,
            { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
          ]);
          expect([name, Object.keys(c.resources?.requests ?? {}), Object.keys(c.resources?.limits ?? {})]).toEqual([
            name,
            ['cpu', 'memory'],
            ['cpu', 'memory'],
          ]);
          expect([name, !!c.startupProbe, !!c.livenessProbe, !!c.readinessProbe]).toEqual([name, true, true, true]);
        }
      }
    });
  });

  test('health paths and ports are the ones compose and the gateway use', () => {
    each((objects) => {
      for (const name of [...appDeployments, 'nginx']) {
        const c = podSpec(find(objects, 'Deployment', name)!).containers[0]!;
        const composeService = compose.services[name]!;
        const labels = composeService.labels ?? {};
        const traefikName = Object.keys(labels)
          .find((k) => k.endsWith('.loadbalancer.server.port'))!
          .split('.')[3]!;
        // Port: the compose label's, which is the Dockerfile target's EXPOSE (deploy/test).
        expect([name, String(c.ports[0]!.containerPort)]).toEqual([
          name,
          labels[`traefik.http.services.${traefikName}.loadbalancer.server.port`],
        ]);
        // Readiness: what Traefik health-checks in compose; liveness: compose's own health check.
        expect([name, c.readinessProbe!.httpGet.path]).toEqual([
          name,
          labels[`traefik.http.services.${traefikName}.loadbalancer.healthcheck.path`],
        ]);
        expect([name, c.livenessProbe!.httpGet.path, c.startupProbe!.httpGet.path]).toEqual([
          name,
          '/healthz',
          '/healthz',
        ]);
        const svc = find(objects, 'Service', name)!;
        const spec = svc.spec as { selector: Record<string, string>; ports: { port: number }[] };
        expect([name, spec.ports[0]!.port]).toEqual([name, c.ports[0]!.containerPort]);
        expect(spec.selector).toEqual({ 'app.kubernetes.io/name': name });
        // The image is the compose service's Dockerfile target (capcheck-<target>, or <registry>/capcheck/<target>).
        const image = c.image
          .split(':')[0]!
          .split('/')
          .pop()!
          .replace(/^capcheck-/, '');
        expect([name, image]).toEqual([name, buildTarget(composeService) ?? 'nginx']);
      }
    });
  });

  test('the same environment variable names as the compose services, and the same fixed values', () => {
    each((objects, overlay) => {
      const configMaps = new Map(
        objects.filter((o) => o.kind === 'ConfigMap').map((o) => [o.metadata.name, o.data ?? {}]),
      );
      for (const name of appDeployments) {
        const c = podSpec(find(objects, 'Deployment', name)!).containers[0]!;
        const env = new Map<string, string | undefined>();
        // Credentials come from Secrets here; compose fixes some of their non-secret halves (e.g. the
        // per-service MinIO access key id), which a cluster's object store generates instead.
        const fromSecrets = new Set((c.env ?? []).filter((e) => e.valueFrom?.secretKeyRef).map((e) => e.name));
        for (const ref of c.envFrom ?? [])
          for (const [k, v] of Object.entries(configMaps.get(ref.configMapRef!.name) ?? {})) env.set(k, v);
        for (const e of c.env ?? []) env.set(e.name, e.value);
        const composeEnv = compose.services[name]!.environment ?? {};
        expect([name, [...env.keys()].sort()]).toEqual([name, Object.keys(composeEnv).sort()]);
        // Values that are not per-deployment (no ${...} in compose, not addresses that differ by design).
        for (const [k, v] of Object.entries(composeEnv)) {
          if (typeof v !== 'string' || v.includes('${') || k === 'TRUST_PROXY' || fromSecrets.has(k)) continue;
          if (overlay === 'production' && k === 'S3_ENDPOINT') continue; // Amazon S3 instead of MinIO
          expect([name, k, env.get(k)]).toEqual([name, k, v]);
        }
      }
    });
  });

  test('every host name the services use (compose URLs) is a Service in the namespace', () => {
    const hosts = new Set<string>();
    for (const name of appDeployments)
      for (const v of Object.values(compose.services[name]!.environment ?? {}))
        for (const [, host] of String(v).matchAll(/\w+:\/\/(?:[^@/]*@)?([a-z][\w-]*)[:/]/g)) hosts.add(host!);
    expect([...hosts].sort()).toEqual(['images', 'minio', 'mongo', 'rabbitmq', 'redis', 'users']);
    each((objects) => {
      for (const host of hosts) expect([host, !!find(objects, 'Service', host)]).toEqual([host, true]);
    });
  });

  test('every service Deployment scales at 70 % CPU and keeps a pod through disruptions', () => {
    each((objects) => {
      for (const name of [...appDeployments, 'nginx']) {
        const hpa = find(objects, 'HorizontalPodAutoscaler', name)!.spec as {
          scaleTargetRef: { kind: string; name: string };
          minReplicas: number;
          maxReplicas: number;
          metrics: { resource: { name: string; target: { type: string; averageUtilization: number } } }[];
        };
        expect(hpa.scaleTargetRef).toMatchObject({ kind: 'Deployment', name });
        expect(hpa.metrics).toEqual([
          { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } },
        ]);
        expect(hpa.maxReplicas).toBeGreaterThan(hpa.minReplicas);
        const pdb = find(objects, 'PodDisruptionBudget', name)!.spec as {
          selector: { matchLabels: Record<string, string> };
        };
        expect(pdb.selector.matchLabels).toEqual({ 'app.kubernetes.io/name': name });
      }
    });
  });

  test('network policies: deny by default; only the gateway reaches the services, only inference reads images', () => {
    each((objects) => {
      const policies = objects.filter((o) => o.kind === 'NetworkPolicy' && o.metadata.namespace === 'capcheck');
      const deny = policies.find((p) => p.metadata.name === 'default-deny')!.spec;
      expect(deny).toEqual({ podSelector: {}, policyTypes: ['Ingress', 'Egress'] });
      type Peer = {
        namespaceSelector?: { matchLabels: Record<string, string> };
        podSelector?: Record<string, unknown>;
      };
      const ingressFrom = (name: string) =>
        ((find(objects, 'NetworkPolicy', name)!.spec as { ingress: { from: Peer[] }[] }).ingress ?? []).flatMap(
          (i) => i.from,
        );
      expect(ingressFrom('from-gateway')).toEqual([
        {
          namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'traefik' } },
          podSelector: { matchLabels: { 'app.kubernetes.io/name': 'traefik' } },
        },
      ]);
      expect(ingressFrom('images-from-inference')).toEqual([
        { podSelector: { matchLabels: { 'app.kubernetes.io/component': 'inference' } } },
      ]);
      // Every ingress rule into the namespace comes from the gateway, Prometheus, or a named peer service.
      for (const p of policies)
        for (const peer of ((p.spec as { ingress?: { from: Peer[] }[] }).ingress ?? []).flatMap((i) => i.from))
          expect([
            p.metadata.name,
            peer.namespaceSelector === undefined ||
              ['traefik', 'monitoring'].includes(peer.namespaceSelector.matchLabels['kubernetes.io/metadata.name']!),
          ]).toEqual([p.metadata.name, true]);
    });
  });

  test("the IngressRoutes carry the gateway's routers: same matches, priorities, middlewares and targets", () => {
    each((objects) => {
      const routes = new Map(
        objects
          .filter((o) => o.kind === 'IngressRoute')
          .map((o) => [o.metadata.name, (o.spec as { routes: Route[] }).routes[0]!] as const),
      );
      const twins = Object.entries(gatewayRouters).filter(([, r]) => r.service in serviceTwins);
      expect([...routes.keys()].sort()).toEqual(twins.map(([n]) => n).sort());
      for (const [name, r] of twins) {
        const k = routes.get(name)!;
        expect([name, k.match, k.priority]).toEqual([name, r.rule, r.priority]);
        expect([name, k.middlewares.map((m) => m.name)]).toEqual([
          name,
          ['edge-ratelimit', ...((r.middlewares as string[]) ?? [])],
        ]);
        expect([name, k.services.map((s) => s.name)]).toEqual([name, [serviceTwins[r.service]]]);
        const svc = find(objects, 'Service', serviceTwins[r.service]!)!.spec as { ports: { port: number }[] };
        expect([name, k.services[0]!.port]).toEqual([name, svc.ports[0]!.port]);
      }
    });
  });

  test("the Middlewares carry the gateway's settings (rate limit, errors, retry, allow-list reject code)", () => {
    const m = (objects: K8sObject[], name: string) =>
      find(objects, 'Middleware', name)!.spec as Record<string, Record<string, unknown>>;
    each((objects) => {
      const rate = m(objects, 'edge-ratelimit').rateLimit!;
      expect({ average: rate.average, burst: rate.burst, period: rate.period }).toEqual({
        average: 50,
        burst: 100,
        period: '1s',
      });
      expect(gatewayMiddlewares['edge-ratelimit']!.rateLimit).not.toHaveProperty('redis');
      expect(m(objects, 'gateway-errors').errors).toMatchObject({
        status: gatewayMiddlewares['gateway-errors']!.errors!.status,
        query: gatewayMiddlewares['gateway-errors']!.errors!.query,
        service: { name: 'error-pages', port: 8080 },
      });
      expect(m(objects, 'retry').retry).toEqual(gatewayMiddlewares.retry!.retry);
      expect(m(objects, 'admin-allowlist').ipAllowList).toMatchObject({ rejectStatusCode: 404 });
      // Error pages through a DNS name, so a sick nginx drops no route (nginx.yaml).
      expect(find(objects, 'Service', 'error-pages')!.spec).toMatchObject({
        type: 'ExternalName',
        externalName: 'nginx.capcheck.svc.cluster.local',
      });
    });
  });

  test('degrade, not cascade: with no ready pod in a pool, its routes are skipped and the understudies answer', () => {
    const objects = rendered.get('local')!;
    const routes = objects
      .filter((o) => o.kind === 'IngressRoute')
      .map((o) => [o.metadata.name, (o.spec as { routes: Route[] }).routes[0]!] as const);
    const pick = (path: string, headers: Record<string, string>, unready: string) =>
      routes
        .filter(([, r]) => r.services[0]!.name !== unready && matches(r.match, { path, headers }))
        .sort((a, b) => b[1].priority - a[1].priority)[0]?.[1].services[0]!.name;
    const bearer = { authorization: 'Bearer x.y.z' };
    expect(pick('/predict/1', bearer, 'none')).toBe('inference');
    expect(pick('/predict/1', bearer, 'inference')).toBe('inference-general');
    expect(pick('/predict/1', {}, 'inference-general')).toBe('inference');
    expect(pick('/admin/api/prediction-logs', bearer, 'inference')).toBe('inference-general');
    expect(pick('/admin/api/feedback', bearer, 'inference')).toBe('inference-general');
    expect(pick('/images/1', bearer, 'nginx')).toBe('images');
  });

  test('production: HTTPS only, release images from a registry, dedicated inference nodes', () => {
    const objects = rendered.get('production')!;
    for (const r of objects.filter((o) => o.kind === 'IngressRoute'))
      expect([r.metadata.name, r.spec!.entryPoints, r.spec!.tls]).toEqual([
        r.metadata.name,
        ['websecure'],
        { certResolver: 'letsencrypt' },
      ]);
    for (const d of objects.filter((o) => o.kind === 'Deployment'))
      expect(podSpec(d).containers[0]!.image).toMatch(/^registry\.example\.org\/capcheck\/\w+:\d+\.\d+\.\d+$/);
    const dedicated = podSpec(find(objects, 'Deployment', 'inference')!) as PodSpec & {
      nodeSelector?: Record<string, string>;
    };
    expect(dedicated.nodeSelector).toEqual({ 'capcheck.io/node-pool': 'inference' });
    const general = podSpec(find(objects, 'Deployment', 'inference-general')!) as PodSpec & { nodeSelector?: unknown };
    expect(general.nodeSelector).toBeUndefined();
  });
});

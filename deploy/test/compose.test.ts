import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv from 'ajv';
import draft7 from 'ajv/dist/refs/json-schema-draft-07.json';
import { parse } from 'yaml';
import { buildTarget, loadCompose, repoRoot, type ComposeService } from './compose';

const compose = loadCompose();
const services = Object.entries(compose.services);
const schema = JSON.parse(readFileSync(join(__dirname, 'vendor', 'compose-spec.json'), 'utf8')) as object;
// strict: false because the upstream schema uses the `deprecated` annotation keyword.
const ajv = new Ajv({ strict: false, allErrors: true });
// The schema names its meta-schema by the https URI; it is draft-07, which Ajv knows under http.
ajv.addMetaSchema({ ...draft7, $id: 'https://json-schema.org/draft-07/schema' });
const validate = ajv.compile(schema);

describe('docker-compose.yml against the Compose Specification schema (vendored, offline)', () => {
  test.each(['docker-compose.yml', 'deploy/compose.tls.yml'])('%s is valid', (file) => {
    const ok = validate(loadCompose(file));
    expect(validate.errors ?? []).toEqual([]);
    expect(ok).toBe(true);
  });

  test('the schema really rejects a broken file (a typo, a wrong type)', () => {
    expect(validate({ services: { a: { imagee: 'x:1' } } })).toBe(false);
    expect(validate({ services: { a: { image: 'x:1', depends_on: { b: { condition: 'healthy' } } } } })).toBe(false);
  });
});

describe('docker-compose.yml invariants', () => {
  test('replicas: users 3, images and the dedicated inference pool at least 2', () => {
    expect(compose.services.users?.deploy?.replicas).toBe(3);
    expect(compose.services.images?.deploy?.replicas).toBeGreaterThanOrEqual(2);
    expect(compose.services.inference?.deploy?.replicas).toBeGreaterThanOrEqual(2);
    // Both inference pools run the inference image.
    expect(buildTarget(compose.services['inference-general']!)).toBe('inference');
  });

  test('every service has a health check', () => {
    for (const [name, s] of services) {
      expect([name, s.healthcheck?.disable]).toEqual([name, undefined]);
      expect([name, Array.isArray(s.healthcheck?.test) && s.healthcheck.test.length > 1]).toEqual([name, true]);
    }
  });

  test('depends_on always waits for service_healthy, on services that have a health check', () => {
    let edges = 0;
    for (const [name, s] of services) {
      if (!s.depends_on) continue;
      expect([name, Array.isArray(s.depends_on)]).toEqual([name, false]);
      for (const [dep, cond] of Object.entries(s.depends_on as Record<string, { condition: string }>)) {
        expect([name, dep, cond.condition]).toEqual([name, dep, 'service_healthy']);
        expect(compose.services[dep]?.healthcheck).toBeDefined();
        edges++;
      }
    }
    expect(edges).toBeGreaterThan(10);
  });

  test('stateful services keep their data on named volumes', () => {
    const stateful: Record<string, string> = {
      mongo: '/data/db',
      minio: '/data',
      rabbitmq: '/var/lib/rabbitmq',
      redis: '/data',
      prometheus: '/prometheus',
      grafana: '/var/lib/grafana',
      traefik: '/letsencrypt',
    };
    for (const [name, path] of Object.entries(stateful)) {
      const mount = (compose.services[name]?.volumes ?? [])
        .map((v) => (typeof v === 'string' ? v : `${v.source}:${v.target}`))
        .find((v) => v.split(':')[1] === path);
      const source = mount?.split(':')[0] ?? '';
      expect([name, source in (compose.volumes ?? {})]).toEqual([name, true]);
    }
  });

  test('only Traefik publishes ports; everything else is on the internal network', () => {
    const publishing = services.filter(([, s]) => s.ports?.length).map(([n]) => n);
    expect(publishing).toEqual(['traefik']);
    expect(compose.services.traefik?.ports).toEqual(['${HTTP_PORT:-80}:8000']);
    expect(compose.networks?.backend?.internal).toBe(true);
    const onEdge = services.filter(([, s]) => networksOf(s).includes('edge')).map(([n]) => n);
    expect(onEdge).toEqual(['traefik']);
  });

  test('no secret value is written in the file: credentials are interpolated from .env or read from secret files', () => {
    const secretName = /(PASSWORD|PASS|SECRET|_KEY|_KEYS|TOKEN)$/;
    let checked = 0;
    for (const [name, s] of services) {
      for (const [key, raw] of Object.entries(s.environment ?? {})) {
        const value = String(raw ?? '');
        if (secretName.test(key)) {
          checked++;
          expect([name, key, /^\$\{[A-Z_]+(:\?[^}]*)?\}$/.test(value)]).toEqual([name, key, true]);
        }
        // user:password@ inside a URL: a user name may be written, the password only interpolated.
        const cred = /:\/\/(.*)@[a-z]/.exec(value)?.[1];
        if (cred !== undefined) {
          checked++;
          const password = cred.slice(cred.indexOf(':') + 1);
          expect([name, key, /^\$\{[A-Z_]+(:\?[^}]*)?\}$/.test(password)]).toEqual([name, key, true]);
        }
      }
    }
    expect(checked).toBeGreaterThan(10);
    expect(compose.secrets?.jwt_signing_keys?.file).toBe('./deploy/secrets/jwt_signing_keys.json');
    expect(compose.services.users?.environment?.JWT_SIGNING_KEYS_FILE).toBe('/run/secrets/jwt_signing_keys');
    // ...and that folder keeps every secret out of git.
    expect(readFileSync(join(repoRoot, 'deploy', 'secrets', '.gitignore'), 'utf8')).toMatch(/^\*$/m);
  });

  test('each service logs in with its own accounts, allowed only what it does; none gets a root credential', () => {
    const envOf = (name: string) => compose.services[name]!.environment as Record<string, string>;
    const rootVariables = /\$\{(MONGO_ROOT_|MINIO_ROOT_|RABBITMQ_USER|RABBITMQ_PASSWORD)/;
    const mongo = (user: string) =>
      `mongodb://${user}:\${MONGO_${user.toUpperCase()}_PASSWORD:?set in .env}@mongo:27017/capcheck_${user}?authSource=capcheck_${user}`;
    const expected: Record<string, Record<string, string | undefined>> = {
      users: { MONGO_URL: mongo('users'), S3_ACCESS_KEY_ID: undefined, RABBITMQ_URL: undefined },
      images: {
        MONGO_URL: mongo('images'),
        S3_ACCESS_KEY_ID: 'capcheck-images',
        S3_SECRET_ACCESS_KEY: '${MINIO_IMAGES_SECRET_KEY:?set in .env}',
        RABBITMQ_URL: 'amqp://capcheck-images:${RABBITMQ_IMAGES_PASSWORD:?set in .env}@rabbitmq:5672',
      },
      inference: {
        MONGO_URL: mongo('inference'),
        S3_ACCESS_KEY_ID: 'capcheck-inference',
        S3_SECRET_ACCESS_KEY: '${MINIO_INFERENCE_SECRET_KEY:?set in .env}',
        RABBITMQ_URL: 'amqp://capcheck-inference:${RABBITMQ_INFERENCE_PASSWORD:?set in .env}@rabbitmq:5672',
      },
    };
    expected['inference-general'] = expected.inference!;
    for (const [name, credentials] of Object.entries(expected)) {
      const env = envOf(name);
      for (const [key, value] of Object.entries(credentials)) expect([name, key, env[key]]).toEqual([name, key, value]);
      for (const [key, value] of Object.entries(env))
        expect([name, key, rootVariables.test(value)]).toEqual([name, key, false]);
    }

    // MongoDB: the init script makes one user per service, with readWrite on its own database only.
    expect(compose.services.mongo?.volumes).toContain(
      './deploy/mongo/init-services.js:/docker-entrypoint-initdb.d/init-services.js:ro',
    );
    const init = readFileSync(join(repoRoot, 'deploy/mongo/init-services.js'), 'utf8');
    for (const service of ['users', 'images', 'inference']) {
      expect(init).toContain(`${service}: 'MONGO_${service.toUpperCase()}_PASSWORD'`);
      expect(envOf('mongo')[`MONGO_${service.toUpperCase()}_PASSWORD`]).toBeDefined();
    }
    expect(init).toContain("roles: [{ role: 'readWrite', db: database }]");

    // MinIO: inference's policy only reads; images' also writes and deletes; the start script applies both.
    const policy = (service: string) =>
      JSON.parse(readFileSync(join(repoRoot, `deploy/minio/${service}-policy.json`), 'utf8')) as {
        Statement: { Action: string[] }[];
      };
    const actions = (service: string) =>
      policy(service)
        .Statement.flatMap((s) => s.Action)
        .sort();
    expect(actions('inference')).toEqual(['s3:GetBucketLocation', 's3:GetObject', 's3:ListBucket']);
    expect(actions('images')).toEqual([
      's3:DeleteObject',
      's3:GetBucketLocation',
      's3:GetObject',
      's3:ListBucket',
      's3:PutObject',
    ]);
    const start = readFileSync(join(repoRoot, 'deploy/minio/start.sh'), 'utf8');
    for (const service of ['images', 'inference']) {
      expect(start).toContain(
        `mc admin user add capcheck capcheck-${service} "$MINIO_${service.toUpperCase()}_SECRET_KEY"`,
      );
      expect(start).toContain(`mc admin policy attach capcheck capcheck-${service} --user capcheck-${service}`);
    }

    // RabbitMQ: users and permissions from the generated definitions, loaded at boot.
    expect(compose.secrets?.rabbitmq_definitions?.file).toBe('./deploy/secrets/rabbitmq-definitions.json');
    expect(readFileSync(join(repoRoot, 'deploy/rabbitmq/20-capcheck.conf'), 'utf8')).toMatch(
      /^load_definitions = \/run\/secrets\/rabbitmq_definitions$/m,
    );
  });

  test('.env.example names every variable the compose files read, with no real secret in it', () => {
    const example = readFileSync(join(repoRoot, '.env.example'), 'utf8');
    const documented = new Set([...example.matchAll(/^([A-Z_]+)=/gm)].map((m) => m[1]));
    const text = ['docker-compose.yml', 'deploy/compose.tls.yml']
      .map((f) => readFileSync(join(repoRoot, f), 'utf8'))
      .join('\n');
    const used = new Set([...text.matchAll(/(?<!\$)\$\{([A-Z_]+)/g)].map((m) => m[1]));
    expect([...used].filter((v) => !documented.has(v))).toEqual([]);
    for (const line of example.split('\n').filter((l) => /(PASSWORD)=/.test(l))) expect(line).toMatch(/=change-me$/);
  });

  test('images are pinned: an explicit version tag, never latest', () => {
    for (const [name, s] of services) {
      const image = s.image ?? '';
      const tag = /:([^/:]+)$/.exec(image)?.[1] ?? '';
      expect([name, tag !== '' && tag !== 'latest']).toEqual([name, true]);
      // Pulled images name a real version (digits), not a moving tag like `alpine` or `stable`.
      if (!s.build) expect([name, /\d/.test(tag)]).toEqual([name, true]);
    }
  });

  test('every build target exists in the Dockerfile', () => {
    const stages = [...readFileSync(join(repoRoot, 'Dockerfile'), 'utf8').matchAll(/^FROM \S+ AS (\S+)$/gm)].map(
      (m) => m[1],
    );
    const targets = services.map(([, s]) => buildTarget(s)).filter(Boolean);
    expect(targets.length).toBe(5);
    for (const t of targets) expect(stages).toContain(t);
  });

  test('the services run on the production adapters, with the settings the gateway relies on', () => {
    for (const name of ['users', 'images', 'inference', 'inference-general']) {
      const env = compose.services[name]!.environment!;
      expect([name, env.METADATA_STORE, env.TRUST_PROXY]).toEqual([name, 'mongo', '172.31.0.2']);
    }
    for (const name of ['images', 'inference', 'inference-general']) {
      const env = compose.services[name]!.environment!;
      expect([name, env.BLOB_STORE, env.EVENT_BUS]).toEqual([name, 's3', 'rabbitmq']);
    }
    expect(compose.services.users?.environment?.RATE_LIMIT_STORE).toBe('redis');
    // TRUST_PROXY is Traefik's fixed address on the internal network.
    const traefikNets = compose.services.traefik?.networks as Record<string, { ipv4_address?: string }>;
    expect(traefikNets.backend?.ipv4_address).toBe('172.31.0.2');
    // The general pool answers to `inference` in DNS too, so Prometheus scrapes both pools.
    const general = compose.services['inference-general']?.networks as Record<string, { aliases?: string[] }>;
    expect(general.backend?.aliases).toContain('inference');
  });

  test('monitoring mounts the paths the monitoring config expects', () => {
    const prom = compose.services.prometheus!;
    expect(prom.volumes).toContain('./monitoring/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro');
    expect(prom.volumes).toContain('./monitoring/prometheus/rules:/etc/prometheus/rules:ro');
    const promConfig = parse(readFileSync(join(repoRoot, 'monitoring/prometheus/prometheus.yml'), 'utf8')) as {
      rule_files: string[];
    };
    expect(promConfig.rule_files).toEqual(['/etc/prometheus/rules/*.yml']);
    const grafana = compose.services.grafana!;
    const dashboardsProvider = readFileSync(
      join(repoRoot, 'monitoring/grafana/provisioning/dashboards/capcheck.yml'),
      'utf8',
    );
    const dashboardsPath = /path:\s*(\S+)/.exec(dashboardsProvider)?.[1];
    expect(grafana.volumes).toContain(`./monitoring/grafana/dashboards:${dashboardsPath}:ro`);
    expect(grafana.environment?.GF_SERVER_SERVE_FROM_SUB_PATH).toBe('true');
    expect(String(grafana.environment?.GF_SERVER_ROOT_URL)).toMatch(/\/admin\/grafana\/$/);
  });
});

function networksOf(s: ComposeService): string[] {
  if (!s.networks) return [];
  return Array.isArray(s.networks) ? s.networks : Object.keys(s.networks);
}

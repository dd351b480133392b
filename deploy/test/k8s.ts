/**
 * The Kubernetes manifests as data for the tests: every overlay rendered by `kubectl kustomize`,
 * and each object validated: Kubernetes' own kinds with the npm `kubernetes-models` packages (its
 * OpenAPI schemas), Traefik's with the CRDs of the pinned Traefik; both failing on unknown fields,
 * which neither schema set refuses by itself.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv, { type ValidateFunction } from 'ajv';
import { parseAllDocuments } from 'yaml';
import { onPath } from '../../test-support/tools';
import { repoRoot } from './compose';

export const k8sDir = join(repoRoot, 'deploy', 'k8s');
export const overlays = ['local', 'production'] as const;

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  spec?: Record<string, unknown>;
  data?: Record<string, string>;
  [key: string]: unknown;
}

export function kubectlMissing(): string | null {
  return onPath('kubectl') ? null : 'kubectl is not on PATH (Debian: apt-get install kubectl)';
}

/** `kubectl kustomize <dir>`: what `kubectl apply -k` would send, as objects. */
export function render(dir: string): K8sObject[] {
  const result = spawnSync('kubectl', ['kustomize', dir], { encoding: 'utf8', timeout: 30_000 });
  if (result.status !== 0) throw new Error(`kubectl kustomize ${dir}: ${result.stderr}`);
  return parseAllDocuments(result.stdout).map((d) => d.toJS() as K8sObject);
}

/** The model class for one of Kubernetes' own kinds, from kubernetes-models. */
function modelOf(o: K8sObject): { prototype: { validate(): void } } {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mod = require(`kubernetes-models/${o.apiVersion}/${o.kind}`) as Record<
    string,
    { prototype: { validate(): void } }
  >;
  const model = mod[o.kind];
  if (!model) throw new Error(`no model for ${o.apiVersion} ${o.kind}`);
  return model;
}

/**
 * Traefik's own kinds, from the CRDs of the pinned Traefik (vendor/README.md), made strict: every
 * object schema that lists its properties refuses others, unless the CRD says it keeps unknown
 * fields. Validation errors are thrown like kubernetes-models does.
 */
const traefikValidators = (() => {
  const ajv = new Ajv({ strict: false, allErrors: true });
  const strict = (schema: Record<string, unknown>): Record<string, unknown> => {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(schema)) {
      if (k === 'properties') out[k] = Object.fromEntries(Object.entries(v as object).map(([p, s]) => [p, strict(s)]));
      else if (Array.isArray(v)) out[k] = v.map((x) => (x && typeof x === 'object' ? strict(x) : x));
      else out[k] = v && typeof v === 'object' ? strict(v as Record<string, unknown>) : v;
    }
    if (
      schema.properties &&
      schema.additionalProperties === undefined &&
      !schema['x-kubernetes-preserve-unknown-fields']
    )
      out.additionalProperties = false;
    return out;
  };
  const crds = parseAllDocuments(readFileSync(join(__dirname, 'vendor', 'traefik-v3.6.24-crds.yml'), 'utf8')).map(
    (d) =>
      d.toJS() as {
        spec: {
          group: string;
          names: { kind: string };
          versions: { name: string; schema: { openAPIV3Schema: Record<string, unknown> } }[];
        };
      },
  );
  const out = new Map<string, ValidateFunction>();
  for (const crd of crds)
    for (const v of crd.spec.versions)
      out.set(`${crd.spec.group}/${v.name} ${crd.spec.names.kind}`, ajv.compile(strict(v.schema.openAPIV3Schema)));
  return out;
})();

/**
 * Validates one object against its schema and returns the paths of fields the schema does not
 * know. The packages' validators accept unknown fields (Kubernetes' schemas rarely say
 * additionalProperties: false), so the object is handed to the validator behind proxies that note
 * every property it looks up: the compiled validator reads each property its schema defines, and
 * enumerates the objects its schema treats as maps (labels, resources, ...). A field of a
 * non-map object that it never read is one the schema does not have.
 */
export function validate(o: K8sObject): string[] {
  const traefik = traefikValidators.get(`${o.apiVersion} ${o.kind}`);
  if (traefik) {
    if (traefik(o)) return [];
    const unknown = (traefik.errors ?? []).filter((e) => e.keyword === 'additionalProperties');
    if (unknown.length === traefik.errors!.length)
      return unknown.map((e) =>
        `${o.kind}/${o.metadata.name}${e.instancePath.replaceAll('/', '.')}.${String(e.params.additionalProperty)}`.replace(
          /\.(\d+)(?=\.|$)/g,
          '[$1]',
        ),
      );
    throw new Error(ajvErrors(traefik.errors));
  }
  const read = new WeakMap<object, Set<string>>();
  const enumerated = new WeakSet<object>();
  const wrap = (value: unknown): unknown => {
    if (value === null || typeof value !== 'object') return value;
    const target = value as object;
    if (!read.has(target)) read.set(target, new Set());
    return new Proxy(target, {
      get(t, key, receiver) {
        if (typeof key === 'string') read.get(t)!.add(key);
        return wrap(Reflect.get(t, key, receiver));
      },
      ownKeys(t) {
        enumerated.add(t);
        return Reflect.ownKeys(t);
      },
    });
  };
  modelOf(o).prototype.validate.call(wrap(o)); // throws on a schema violation
  const unknown: string[] = [];
  const walk = (value: unknown, path: string) => {
    if (value === null || typeof value !== 'object') return;
    if (Array.isArray(value)) {
      value.forEach((v, i) => walk(v, `${path}[${i}]`));
      return;
    }
    const seen = read.get(value);
    for (const [key, v] of Object.entries(value)) {
      if (!enumerated.has(value) && !seen?.has(key)) unknown.push(`${path}.${key}`);
      else walk(v, `${path}.${key}`);
    }
  };
  walk(o, `${o.kind}/${o.metadata?.name}`);
  return unknown;
}

function ajvErrors(errors: ValidateFunction['errors']): string {
  return (errors ?? []).map((e) => `data${e.instancePath} ${e.message}`).join(', ');
}

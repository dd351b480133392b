/**
 * The Traefik files against Traefik's own option tree as SchemaStore publishes it (vendored, see
 * vendor/README.md), as a second opinion next to the typed schema in traefik.ts: that one knows
 * the options this project uses, this one knows every option Traefik has.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv from 'ajv';
import { parse } from 'yaml';
import { gatewayDir, renderTemplate } from './traefik';

const vendored = (file: string) => JSON.parse(readFileSync(join(__dirname, 'vendor', file), 'utf8')) as object;
// strict: false because the schemas use annotation keywords Ajv does not know (markdownDescription).
const ajv = new Ajv({ strict: false, allErrors: true });
const validateStatic = ajv.compile(vendored('traefik-v3.json'));
const validateDynamic = ajv.compile(vendored('traefik-v3-file-provider.json'));

const dynamicFiles = readdirSync(join(gatewayDir, 'dynamic')).filter((f) => f.endsWith('.yml'));
/**
 * A dynamic file as Traefik's typed decoding sees it. Our templates sit in quotes (the file must be
 * YAML before rendering too), so a number renders as the string "50"; Traefik's decoder (paerser)
 * turns it into the number its option is. Here a quoted template that renders to digits becomes a
 * YAML number, and every other value keeps its quotes.
 */
function readDynamic(file: string, env: Record<string, string> = {}): unknown {
  const text = readFileSync(join(gatewayDir, 'dynamic', file), 'utf8').replace(/'(\{\{[^}]*\}\})'/g, (_, t: string) => {
    const value = renderTemplate(t, env);
    return /^\d+$/.test(value) ? value : `'${value}'`;
  });
  return parse(renderTemplate(text, env));
}

describe("Traefik files against Traefik's SchemaStore schemas (vendored, offline)", () => {
  test('traefik.yml is a valid static configuration', () => {
    const ok = validateStatic(parse(readFileSync(join(gatewayDir, 'traefik.yml'), 'utf8')));
    expect(validateStatic.errors ?? []).toEqual([]);
    expect(ok).toBe(true);
  });

  test.each(dynamicFiles)(
    'dynamic/%s is a valid file-provider configuration, with defaults and with settings',
    (file) => {
      for (const env of [{}, { CLIENT_IP_DEPTH: '1', EDGE_RATE_AVERAGE: '20', EDGE_RATE_BURST: '40' }]) {
        const ok = validateDynamic(readDynamic(file, env));
        expect([file, env, validateDynamic.errors ?? []]).toEqual([file, env, []]);
        expect(ok).toBe(true);
      }
    },
  );

  test('the schemas really reject a misspelt or misplaced option and a wrong type', () => {
    expect(validateStatic({ providers: { docker: { exposedbydefault: false } } })).toBe(false);
    expect(validateStatic({ entryPoints: { web: { address: ':80', middlewares: ['x'] } } })).toBe(false);
    expect(validateDynamic({ http: { middlewares: { m: { rateLimit: { averge: 1 } } } } })).toBe(false);
    expect(validateDynamic({ http: { routers: { r: { rule: 'Path(`/`)', service: 's', priority: 'high' } } } })).toBe(
      false,
    );
  });
});

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { listRoutes } from '@capcheck/shared';
import { startLocal } from '../../test-support/local';

interface OpenApi {
  paths: Record<string, Record<string, unknown>>;
}

const spec = parse(readFileSync(join(__dirname, '..', '..', 'docs', 'openapi.yaml'), 'utf8')) as OpenApi;
const documented = Object.entries(spec.paths).flatMap(([path, ops]) =>
  Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`),
);

test('docs/openapi.yaml documents exactly the routes the local process serves', async () => {
  const sys = await startLocal();
  try {
    // Read from the real app, not from a copied list.
    const served = listRoutes(sys.app).map((r) => r.replace(/:(\w+)/g, '{$1}'));
    expect(served).toContain('POST /auth/login');
    expect(served.filter((r) => !documented.includes(r))).toEqual([]);
    expect(documented.filter((d) => !served.includes(d))).toEqual([]);
  } finally {
    await sys.close();
  }
});

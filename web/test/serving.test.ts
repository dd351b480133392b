import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import type { Logger } from '@capcheck/shared';
import { mountWebApp } from '../../local/src/web';
import { startLocal } from '../../test-support/local';

/*
 * How the local process serves the page, on a stand-in build (so this needs no `pnpm build`):
 * the page at / and at its own paths, API paths and non-navigations untouched (their 404s stay JSON).
 */
function fakeBuild(): string {
  const dir = mkdtempSync(join(tmpdir(), 'capcheck-web-'));
  mkdirSync(join(dir, 'assets'));
  writeFileSync(join(dir, 'index.html'), '<!doctype html><title>capcheck</title><p>the page</p>');
  writeFileSync(join(dir, 'assets', 'index-abc123.js'), 'console.log(1)');
  return dir;
}

const html = { accept: 'text/html,application/xhtml+xml;q=0.9,*/*;q=0.8' };

test('the page is served at /, at its own paths on navigation, with a CSP; API paths keep JSON 404s', async () => {
  const sys = await startLocal({ WEB_DIR: fakeBuild() });
  try {
    const root = await fetch(`${sys.baseUrl}/`);
    expect(root.status).toBe(200);
    expect(await root.text()).toContain('the page');
    expect(root.headers.get('content-security-policy')).toContain("script-src 'self'");

    const deep = await fetch(`${sys.baseUrl}/my-images`, { headers: html });
    expect(deep.status).toBe(200);
    expect(await deep.text()).toContain('the page');

    const asset = await fetch(`${sys.baseUrl}/assets/index-abc123.js`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get('cache-control')).toContain('immutable');

    // Not navigations, or API paths: the API's own JSON answers.
    for (const [path, headers] of [
      ['/nope', {}],
      ['/auth/nope', html],
      ['/admin/nope', html],
      ['/users/nope', html],
    ] as const) {
      const res = await fetch(`${sys.baseUrl}${path}`, { headers });
      expect([path, res.status, await res.json()]).toEqual([
        path,
        404,
        { error: { code: 'route_not_found', message: 'no such route' } },
      ]);
    }
    const images = await fetch(`${sys.baseUrl}/images`, { headers: html });
    expect(images.status).toBe(401);
    const post = await fetch(`${sys.baseUrl}/my-images`, { method: 'POST', headers: html });
    expect(post.status).toBe(404);
    expect(post.headers.get('content-type')).toMatch(/application\/json/);
  } finally {
    await sys.close();
  }
});

test('without a build, / is a JSON 404 and the process says why, once', async () => {
  const missing = join(tmpdir(), `capcheck-no-web-${process.pid}-${Date.now()}`);
  const sys = await startLocal({ WEB_DIR: missing });
  try {
    const res = await fetch(`${sys.baseUrl}/`, { headers: html });
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: { code: 'route_not_found', message: 'no such route' } });
  } finally {
    await sys.close();
  }

  const warnings: unknown[] = [];
  const logger = { warn: (...args: unknown[]) => warnings.push(args) } as unknown as Logger;
  mountWebApp(express(), missing, logger);
  expect(warnings).toHaveLength(1);
  expect(JSON.stringify(warnings[0])).toContain('pnpm build');
});

/**
 * Runs the real nginx on nginx/nginx.conf (paths and port rewritten to a temp dir) and checks what
 * it answers: error pages in JSON or HTML by Accept, the web UI with its SPA fallback, cache and
 * security headers, JSON access logs.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request, type IncomingHttpHeaders } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { webContentSecurityPolicy } from '../../local/src/web';
import { suiteFor } from '../../test-support/http';

const NGINX = '/usr/sbin/nginx';
const NGINX_DIR = path.resolve(__dirname, '..');

const BROWSER = 'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8';
const JSON_ACCEPT = 'application/json';
const CURL = '*/*';

const CODES: Record<number, string> = {
  404: 'not_found',
  429: 'rate_limited',
  500: 'internal_error',
  502: 'bad_gateway',
  503: 'service_unavailable',
  504: 'gateway_timeout',
};

const INDEX_HTML = '<!doctype html><html lang="en"><title>capcheck fixture</title><p id="app">fixture</p></html>\n';

/** The committed config with its production paths and port swapped for the test's; each must be there. */
function renderConfig(dirs: { html: string; run: string }, port: number): string {
  let conf = readFileSync(path.join(NGINX_DIR, 'nginx.conf'), 'utf8');
  const swap = (from: string | RegExp, to: string) => {
    const next = conf.replace(from, to);
    if (next === conf) throw new Error(`nginx.conf no longer contains ${from}: update the test`);
    conf = next;
  };
  // /tmp first: the temp dirs below live under /tmp themselves.
  swap(/\/tmp\//g, `${dirs.run}/`);
  swap('/usr/share/nginx/html', dirs.html);
  swap('/usr/share/nginx/errors/', `${path.join(NGINX_DIR, 'errors')}/`);
  swap(/listen 8080;/, `listen 127.0.0.1:${port};`);
  return conf;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** node:http rather than fetch: fetch always adds its own Accept, and some cases must send none. */
function get(port: number, urlPath: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: urlPath, method, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

function expectJsonError(answer: Answer, status: number, code: string): void {
  expect(answer.status).toBe(status);
  expect(answer.headers['content-type']).toMatch(/^application\/json/);
  const parsed = JSON.parse(answer.body) as { error: { code: string; message: string } };
  expect(Object.keys(parsed)).toEqual(['error']);
  expect(Object.keys(parsed.error).sort()).toEqual(['code', 'message']);
  expect(parsed.error.code).toBe(code);
  expect(parsed.error.message.length).toBeGreaterThan(0);
}

function expectHtmlError(answer: Answer, status: number): void {
  expect(answer.status).toBe(status);
  expect(answer.headers['content-type']).toMatch(/^text\/html/);
  expect(answer.body).toMatch(/^<!doctype html>/i);
  expect(answer.body).toContain('<html lang="en">');
  expect(answer.body).toMatch(new RegExp(`<title>${status} [^<]+</title>`));
  expect(answer.body).toContain(`Error ${status}`);
  // Self-contained: no script, no stylesheet or image to fetch, the only link is home.
  expect(answer.body).not.toMatch(/<script|<link|<img|src=|url\(/i);
  expect([...answer.body.matchAll(/href="([^"]*)"/g)].map((m) => m[1])).toEqual(['/']);
}

function expectSecurityHeaders(answer: Answer): void {
  expect(answer.headers['x-content-type-options']).toBe('nosniff');
  expect(answer.headers['referrer-policy']).toBe('no-referrer');
  expect(answer.headers['x-frame-options']).toBe('DENY');
  const csp = String(answer.headers['content-security-policy']);
  expect(csp).toContain("frame-ancestors 'none'");
  expect(csp).not.toMatch(/script-src[^;]*'unsafe-inline'/);
}

suiteFor('nginx', 'nginx', existsSync(NGINX) ? null : `${NGINX} not found (apt-get install nginx-light)`, () => {
  let work: string;
  let confPath: string;
  let prefix: string;
  let port: number;
  let nginx: ChildProcess | undefined;
  let stdoutPath: string;
  let stderr = '';
  // As root, nginx would switch its workers to `nobody`, which may lack a group of that name and
  // cannot read the temp dir; the committed config has no `user` (the container is not root).
  const globals = process.getuid?.() === 0 ? 'user root;' : '';

  beforeAll(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'capcheck-nginx-'));
    const html = path.join(work, 'html');
    prefix = path.join(work, 'run');
    mkdirSync(path.join(html, 'assets'), { recursive: true });
    mkdirSync(prefix);
    writeFileSync(path.join(html, 'index.html'), INDEX_HTML);
    writeFileSync(path.join(html, 'assets', 'index-4f2a9c1e.js'), 'console.log("capcheck");\n');
    port = await freePort();
    confPath = path.join(work, 'nginx.conf');
    writeFileSync(confPath, renderConfig({ html, run: prefix }, port));

    // stdout is a file, not node's default pipe: node's pipes are sockets, which `access_log
    // /dev/stdout` cannot open (ENXIO); in a container stdout is a pipe or a file and it can.
    stdoutPath = path.join(work, 'stdout.log');
    const stdoutFd = openSync(stdoutPath, 'a');
    nginx = spawn(NGINX, ['-p', prefix, '-c', confPath, '-g', `daemon off; ${globals}`], {
      stdio: ['ignore', stdoutFd, 'pipe'],
    });
    closeSync(stdoutFd);
    nginx.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    let exited = false;
    nginx.once('exit', () => (exited = true));

    // Poll until it answers; fail with its own words if it dies or never does.
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (exited) throw new Error(`nginx exited at start: ${stderr}`);
      const answer = await get(port, '/healthz').catch(() => null);
      if (answer?.status === 200) break;
      if (Date.now() > deadline) throw new Error(`nginx did not answer on :${port} within 10 s: ${stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  });

  afterAll(async () => {
    const child = nginx;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGQUIT'); // graceful: finish open requests, then exit
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test('nginx -t accepts the config', () => {
    const result = spawnSync(NGINX, ['-t', '-p', prefix, '-c', confPath, ...(globals ? ['-g', globals] : [])], {
      encoding: 'utf8',
      stdio: ['ignore', 'ignore', 'pipe'], // not a socket: see the note on stdout in beforeAll
    });
    expect(result.stderr).toContain('test is successful');
    expect(result.status).toBe(0);
  });

  test('GET /healthz is 200', async () => {
    const answer = await get(port, '/healthz');
    expect(answer.status).toBe(200);
    expect(answer.body).toBe('ok\n');
  });

  describe.each(Object.entries(CODES).map(([status, code]) => [Number(status), code] as const))(
    'GET /errors/%i',
    (status, code) => {
      test('Accept: application/json → JSON with the status', async () => {
        expectJsonError(await get(port, `/errors/${status}`, { accept: JSON_ACCEPT }), status, code);
      });

      test("a browser's Accept → an HTML page with the status", async () => {
        const answer = await get(port, `/errors/${status}`, { accept: BROWSER });
        expectHtmlError(answer, status);
        expectSecurityHeaders(answer);
      });

      test("curl's */* and no Accept at all → JSON", async () => {
        expectJsonError(await get(port, `/errors/${status}`, { accept: CURL }), status, code);
        expectJsonError(await get(port, `/errors/${status}`), status, code);
      });

      test('is never cached and varies by Accept', async () => {
        const answer = await get(port, `/errors/${status}`, { accept: JSON_ACCEPT });
        expect(answer.headers['cache-control']).toBe('no-store');
        expect(answer.headers.vary).toContain('Accept');
      });
    },
  );

  test('JSON listed before HTML wins; HTML listed first wins', async () => {
    expectJsonError(
      await get(port, '/errors/503', { accept: 'application/json, text/html' }),
      503,
      'service_unavailable',
    );
    expectJsonError(
      await get(port, '/errors/503', { accept: 'application/problem+json, text/html;q=0.5' }),
      503,
      'service_unavailable',
    );
    expectHtmlError(await get(port, '/errors/503', { accept: 'text/html, application/json' }), 503);
  });

  test('a code without a page, and the internal page paths, are 404', async () => {
    for (const urlPath of ['/errors/418', '/errors/501', '/errors/abc', '/errors/', '/_errors/404.json']) {
      expectJsonError(await get(port, urlPath, { accept: JSON_ACCEPT }), 404, 'not_found');
    }
    expectHtmlError(await get(port, '/errors/418', { accept: BROWSER }), 404);
  });

  test('/ serves the web UI, revalidated on every visit, with the security headers', async () => {
    for (const accept of [BROWSER, CURL]) {
      const answer = await get(port, '/', { accept });
      expect(answer.status).toBe(200);
      expect(answer.headers['content-type']).toMatch(/^text\/html/);
      expect(answer.body).toBe(INDEX_HTML);
      expect(answer.headers['cache-control']).toBe('no-cache');
      expectSecurityHeaders(answer);
      // The app itself gets no inline anything, and the same policy as from `pnpm start`.
      expect(answer.headers['content-security-policy']).not.toContain('unsafe-inline');
      expect(answer.headers['content-security-policy']).toBe(webContentSecurityPolicy);
    }
  });

  test('a client-side route falls back to index.html for browsers, a JSON 404 for API clients', async () => {
    const page = await get(port, '/images/8f14e45f/details', { accept: BROWSER });
    expect(page.status).toBe(200);
    expect(page.body).toBe(INDEX_HTML);
    expect(page.headers['cache-control']).toBe('no-cache');
    expectJsonError(await get(port, '/predcit/123', { accept: CURL }), 404, 'not_found');
  });

  test('hashed assets are cached for a year; a missing one is a 404 by Accept, never the app', async () => {
    const asset = await get(port, '/assets/index-4f2a9c1e.js');
    expect(asset.status).toBe(200);
    expect(asset.headers['content-type']).toMatch(/^application\/javascript/);
    expect(asset.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expectSecurityHeaders(asset);

    expectJsonError(await get(port, '/assets/missing.js', { accept: JSON_ACCEPT }), 404, 'not_found');
    const html = await get(port, '/assets/missing.js', { accept: BROWSER });
    expectHtmlError(html, 404);
    expect(html.headers['cache-control']).toBe('no-store');
  });

  test('access logs are JSON lines on stdout', async () => {
    await get(port, '/errors/502?from=log-test', { accept: JSON_ACCEPT });
    // nginx writes the line after it sends the answer: poll for it.
    const stdout = () => readFileSync(stdoutPath, 'utf8');
    const deadline = Date.now() + 5000;
    while (!stdout().includes('from=log-test') && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const lines = stdout().trim().split('\n');
    const entries = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(entries.find((e) => e.request === 'GET /errors/502?from=log-test HTTP/1.1')).toMatchObject({
      service: 'nginx',
      status: 502,
    });
  });
});

import { spawnSync } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import type { Express } from 'express';
import { createHttpServer, defaultServerTimeouts, type ServerTimeouts } from '@capcheck/shared';

export interface Started {
  server: Server;
  baseUrl: string;
  close(): Promise<void>;
}

/** Listens on a random loopback port with the server every process uses, and gives back its URL. */
export async function listen(app: Express, timeouts: ServerTimeouts = defaultServerTimeouts): Promise<Started> {
  const server = await new Promise<Server>((resolve) => {
    const s = createHttpServer(app, timeouts).listen(0, '127.0.0.1', () => resolve(s));
  });
  const { port } = server.address() as AddressInfo;
  return {
    server,
    baseUrl: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface JsonResponse<T = Record<string, unknown>> {
  status: number;
  headers: Headers;
  body: T;
}

/** A small client over real HTTP; `body` is the parsed JSON (or null for an empty answer). */
export function client(baseUrl: string) {
  const call = async <T = Record<string, unknown>>(
    method: string,
    path: string,
    options: { json?: unknown; rawBody?: string; token?: string; headers?: Record<string, string> } = {},
  ): Promise<JsonResponse<T>> => {
    const headers: Record<string, string> = { ...options.headers };
    let body: string | undefined;
    if (options.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(options.json);
    } else if (options.rawBody !== undefined) {
      headers['content-type'] ??= 'application/json';
      body = options.rawBody;
    }
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    const res = await fetch(`${baseUrl}${path}`, { method, headers, body });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: (text ? JSON.parse(text) : null) as T };
  };
  return {
    get: <T = Record<string, unknown>>(path: string, o?: Parameters<typeof call>[2]) => call<T>('GET', path, o),
    post: <T = Record<string, unknown>>(path: string, o?: Parameters<typeof call>[2]) => call<T>('POST', path, o),
    put: <T = Record<string, unknown>>(path: string, o?: Parameters<typeof call>[2]) => call<T>('PUT', path, o),
    patch: <T = Record<string, unknown>>(path: string, o?: Parameters<typeof call>[2]) => call<T>('PATCH', path, o),
    delete: <T = Record<string, unknown>>(path: string, o?: Parameters<typeof call>[2]) => call<T>('DELETE', path, o),
  };
}
export type Client = ReturnType<typeof client>;

/** Unique per call, so every test makes its own records and never depends on another's. */
let counter = 0;
export const uniqueEmail = (tag = 'user') => `${tag}-${process.pid}-${Date.now()}-${++counter}@example.test`;

/**
 * Whether a server needed by a contract suite answers. When CAPCHECK_REQUIRE lists it (CI does),
 * a missing server fails the run instead of skipping.
 */
export function requirementOf(name: string): boolean {
  return (process.env.CAPCHECK_REQUIRE ?? '')
    .split(',')
    .map((s) => s.trim())
    .includes(name);
}

/**
 * Whether a TCP server answers, decided before the suite is declared (jest cannot skip once running):
 * a short-lived child process tries to connect. Returns null when reachable, else the reason.
 */
export function tcpUnreachable(url: string): string | null {
  const { hostname, port } = new URL(url);
  const script = `const s=require('net').connect(${Number(port)},${JSON.stringify(hostname)});s.setTimeout(2000,()=>process.exit(2));s.on('connect',()=>process.exit(0));s.on('error',e=>{console.error(e.message);process.exit(1)});`;
  const result = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 5000 });
  if (result.status === 0) return null;
  return result.stderr.trim() || `no answer from ${hostname}:${port}`;
}

/** Declares a contract suite, or a visibly skipped test naming why, or (when CAPCHECK_REQUIRE lists it) a failure. */
export function suiteFor(name: string, requirement: string, unreachable: string | null, body: () => void): void {
  if (!unreachable) {
    describe(name, body);
  } else if (requirementOf(requirement)) {
    test(`${name} — required by CAPCHECK_REQUIRE but unreachable`, () => {
      throw new Error(unreachable);
    });
  } else {
    test.skip(`${name} — SKIPPED: ${unreachable}`, () => undefined);
    process.stderr.write(`\n${name} SKIPPED: ${unreachable}\n`);
  }
}

/** POSTs one file as multipart/form-data, the way a browser or curl -F would. */
export async function uploadFile(
  baseUrl: string,
  token: string | undefined,
  file: { bytes: Buffer; filename?: string; contentType?: string; field?: string } | null,
  extra: { files?: { bytes: Buffer; filename: string; field?: string }[]; path?: string } = {},
): Promise<JsonResponse> {
  const form = new FormData();
  if (file) {
    form.append(
      file.field ?? 'image',
      new Blob([file.bytes], { type: file.contentType ?? 'application/octet-stream' }),
      file.filename ?? 'upload.bin',
    );
  }
  for (const more of extra.files ?? []) form.append(more.field ?? 'image', new Blob([more.bytes]), more.filename);
  const res = await fetch(`${baseUrl}${extra.path ?? '/images'}`, {
    method: 'POST',
    headers: token ? { authorization: `Bearer ${token}` } : {},
    body: form,
  });
  const text = await res.text();
  return {
    status: res.status,
    headers: res.headers,
    body: (text ? JSON.parse(text) : null) as Record<string, unknown>,
  };
}

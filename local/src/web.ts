import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import express, { type Express } from 'express';
import type { Logger } from '@capcheck/shared';
import { imagesPathPrefixes } from '@capcheck/images';
import { inferencePathPrefixes } from '@capcheck/inference';
import { usersPathPrefixes } from '@capcheck/users';

/**
 * What the page may load: only its own files. No inline scripts or styles, so an injected <script>
 * cannot run and read the tokens; blob: for the thumbnails fetched with the token.
 */
export const webContentSecurityPolicy = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' blob: data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** Paths that belong to the API (and the shell): never answered with the page, so their 404s stay JSON. */
const apiPrefixes = [
  ...usersPathPrefixes,
  ...imagesPathPrefixes,
  ...inferencePathPrefixes,
  '/admin',
  '/healthz',
  '/readyz',
  '/metrics',
];
const isApiPath = (path: string) => apiPrefixes.some((p) => path === p || path.startsWith(`${p}/`));

/**
 * Serves the built web page (web/dist) after the service routes. A GET that asks for HTML and is not
 * an API path gets index.html, so the page's own paths (/my-images, /api-keys…) survive a reload.
 * Without a build the process still runs, API only, and says so once.
 */
export function mountWebApp(app: Express, webDir: string, logger: Logger): void {
  const dir = resolve(webDir);
  const index = join(dir, 'index.html');
  const assets = join(dir, 'assets');
  if (!existsSync(index)) {
    logger.warn({ webDir: dir }, 'web page not built (no index.html in WEB_DIR): / answers 404; run `pnpm build`');
    return;
  }
  app.use(
    express.static(dir, {
      index: 'index.html',
      setHeaders(res, path) {
        res.setHeader('Content-Security-Policy', webContentSecurityPolicy);
        // Vite puts a content hash in every file name under assets/: those never change.
        res.setHeader('Cache-Control', path.startsWith(assets) ? 'public, max-age=31536000, immutable' : 'no-cache');
      },
    }),
  );
  app.use((req, res, next) => {
    const wantsHtml = (req.headers.accept ?? '').includes('text/html'); // a navigation, not */* from a client
    if ((req.method !== 'GET' && req.method !== 'HEAD') || !wantsHtml || isApiPath(req.path)) return next();
    res.setHeader('Content-Security-Policy', webContentSecurityPolicy);
    res.setHeader('Cache-Control', 'no-cache');
    res.sendFile(index);
  });
}

import { defineConfig } from 'vite';

/** Where `pnpm --filter web dev` sends API calls: a local process started with `pnpm start` (or PORT=...). */
const api = process.env.CAPCHECK_API ?? 'http://127.0.0.1:8080';

// The API paths the page calls; everything else is the page itself (Vite serves it, with HMR).
const apiPrefixes = ['/auth', '/users', '/images', '/predict', '/models', '/admin/api', '/healthz'];

export default defineConfig({
  // Defaults kept on purpose: base '/', hashed files under dist/assets/ (nginx caches /assets/ forever).
  base: '/',
  build: { outDir: 'dist', assetsDir: 'assets' },
  server: {
    port: 5173,
    strictPort: true,
    proxy: Object.fromEntries(apiPrefixes.map((prefix) => [prefix, { target: api, changeOrigin: false }])),
  },
});

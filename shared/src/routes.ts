import type { Express, Router } from 'express';

interface Layer {
  route?: { path: unknown; methods?: Record<string, boolean> };
  handle?: { stack?: Layer[] };
}

/**
 * `METHOD /path` for every route an app or router registers, nested routers included (Express paths,
 * `:id` style). Used to check the OpenAPI document and the gateway against what the code really serves.
 */
export function listRoutes(appOrRouter: Express | Router): string[] {
  const stack = ('router' in appOrRouter ? (appOrRouter.router as { stack: Layer[] }) : appOrRouter).stack as Layer[];
  const out: string[] = [];
  const walk = (layers: Layer[]) => {
    for (const layer of layers) {
      if (layer.route && typeof layer.route.path === 'string') {
        for (const method of Object.keys(layer.route.methods ?? {}))
          out.push(`${method.toUpperCase()} ${layer.route.path}`);
      } else if (layer.handle?.stack) {
        walk(layer.handle.stack);
      }
    }
  };
  walk(stack);
  return out;
}

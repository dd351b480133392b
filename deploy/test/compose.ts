import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';

export const repoRoot = join(__dirname, '..', '..');

export interface ComposeService {
  image?: string;
  build?: { context: string; target?: string } | string;
  deploy?: { replicas?: number };
  ports?: unknown[];
  volumes?: (string | { type: string; source?: string; target: string })[];
  environment?: Record<string, string | number | boolean | null>;
  labels?: Record<string, string>;
  healthcheck?: { test?: string | string[]; disable?: boolean };
  depends_on?: Record<string, { condition: string }> | string[];
  networks?: string[] | Record<string, { aliases?: string[]; ipv4_address?: string } | null>;
  secrets?: string[];
  command?: string | string[];
}

export interface ComposeFile {
  name?: string;
  services: Record<string, ComposeService>;
  networks?: Record<string, { name?: string; internal?: boolean } | null>;
  volumes?: Record<string, unknown>;
  secrets?: Record<string, { file?: string }>;
}

/** A compose file as Docker Compose reads it: YAML 1.1 merge keys (`<<: *anchor`) resolved. */
export function loadCompose(file = 'docker-compose.yml'): ComposeFile {
  return parse(readFileSync(join(repoRoot, file), 'utf8'), { merge: true }) as ComposeFile;
}

/** The target each service is built from (undefined for a pulled image). */
export function buildTarget(service: ComposeService): string | undefined {
  return typeof service.build === 'object' ? service.build.target : undefined;
}

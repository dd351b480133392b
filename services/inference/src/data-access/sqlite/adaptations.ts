import type { StatementSource, UserId } from '@capcheck/shared';
import type { AdaptationRecord, AdaptationRepository, AdaptationStatus } from '../../domain/ports';

interface AdaptationRow {
  id: string;
  model_name: string;
  parent_version: string;
  status: AdaptationStatus;
  requested_by: string;
  created_at: number;
  updated_at: number;
  version: string | null;
  examples: string | null;
  metrics: string | null;
  error: string | null;
}

const json = <T>(text: string | null): T | null => (text === null ? null : (JSON.parse(text) as T));

const toAdaptation = (r: AdaptationRow): AdaptationRecord => ({
  id: r.id,
  modelName: r.model_name,
  parentVersion: r.parent_version,
  status: r.status,
  requestedBy: r.requested_by as UserId,
  createdAt: new Date(r.created_at),
  updatedAt: new Date(r.updated_at),
  version: r.version,
  examples: json(r.examples),
  metrics: json(r.metrics),
  error: r.error,
});

/** Columns an update may set, with how each is stored. */
const columns = {
  status: ['status', (v: AdaptationStatus) => v],
  version: ['version', (v: string | null) => v],
  examples: ['examples', (v: object | null) => (v === null ? null : JSON.stringify(v))],
  metrics: ['metrics', (v: object | null) => (v === null ? null : JSON.stringify(v))],
  error: ['error', (v: string | null) => v],
  updatedAt: ['updated_at', (v: Date) => v.getTime()],
} as const;

export class SqliteAdaptations implements AdaptationRepository {
  constructor(private readonly db: StatementSource) {}

  async start(a: AdaptationRecord): Promise<boolean> {
    try {
      this.db
        .prepare(
          `INSERT INTO adaptations (id, model_name, parent_version, status, requested_by, created_at, updated_at,
             version, examples, metrics, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          a.id,
          a.modelName,
          a.parentVersion,
          a.status,
          a.requestedBy,
          a.createdAt.getTime(),
          a.updatedAt.getTime(),
          a.version,
          a.examples && JSON.stringify(a.examples),
          a.metrics && JSON.stringify(a.metrics),
          a.error,
        );
      return true;
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') return false;
      throw err;
    }
  }

  async update(id: string, changes: Parameters<AdaptationRepository['update']>[1]): Promise<void> {
    const sets: string[] = [];
    const values: (string | number | null)[] = [];
    for (const [key, value] of Object.entries(changes)) {
      const column = columns[key as keyof typeof columns];
      if (!column || value === undefined) continue;
      sets.push(`${column[0]} = ?`);
      values.push((column[1] as (v: unknown) => string | number | null)(value));
    }
    if (sets.length > 0) this.db.prepare(`UPDATE adaptations SET ${sets.join(', ')} WHERE id = ?`).run(...values, id);
  }

  async find(id: string): Promise<AdaptationRecord | null> {
    const row = this.db.prepare('SELECT * FROM adaptations WHERE id = ?').get(id) as AdaptationRow | undefined;
    return row ? toAdaptation(row) : null;
  }

  async list(modelName: string, limit: number): Promise<AdaptationRecord[]> {
    const rows = this.db
      .prepare('SELECT * FROM adaptations WHERE model_name = ? ORDER BY created_at DESC, id DESC LIMIT ?')
      .all(modelName, limit) as AdaptationRow[];
    return rows.map(toAdaptation);
  }

  async abandon(before: Date, error: string): Promise<number> {
    return this.db
      .prepare(
        `UPDATE adaptations SET status = 'failed', error = ?, updated_at = ?
         WHERE status IN ('queued', 'running') AND updated_at < ?`,
      )
      .run(error, Date.now(), before.getTime()).changes;
  }
}

export interface Page<T> {
  items: T[];
  /** Opaque; pass back to get the next page. Null on the last page. */
  nextCursor: string | null;
}
export interface PageRequest {
  limit: number;
  cursor?: string | undefined;
}

/** Cursor over (createdAt, id): stable under inserts, opaque to clients. */
export function encodeCursor(createdAt: Date, id: string): string {
  return Buffer.from(JSON.stringify([createdAt.getTime(), id])).toString('base64url');
}
export function decodeCursor(cursor: string | undefined): { createdAt: Date; id: string } | null {
  if (!cursor) return null;
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(value) && typeof value[0] === 'number' && typeof value[1] === 'string') {
      return { createdAt: new Date(value[0]), id: value[1] };
    }
  } catch {
    // fall through: an unreadable cursor starts from the beginning
  }
  return null;
}

/**
 * A page from up to `limit + 1` records read in order: the extra one only says there is more, and
 * the cursor points after the last record returned, by `position` (its sort date and id).
 */
export function toPage<T>(records: T[], limit: number, position: (record: T) => [Date, string]): Page<T> {
  const items = records.slice(0, limit);
  const last = items.at(-1);
  return { items, nextCursor: records.length > limit && last ? encodeCursor(...position(last)) : null };
}

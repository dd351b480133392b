import { createConnection, type Connection } from 'mongoose';
import type { StoreLifecycle } from './store';

/**
 * A store on its own MongoDB connection (never the global mongoose default): `build` registers the
 * service's models on it. A failed start closes the connection, whose monitors would otherwise hold
 * the process open.
 */
export async function openMongoStore<T extends object>(
  url: string,
  build: (conn: Connection) => Promise<T>,
): Promise<T & StoreLifecycle> {
  const conn = createConnection(url, { serverSelectionTimeoutMS: 5000 });
  try {
    await conn.asPromise();
    const repositories = await build(conn);
    return {
      ...repositories,
      async ping() {
        const db = conn.db;
        if (!db) throw new Error('MongoDB connection is not open');
        await db.command({ ping: 1 });
      },
      async close() {
        await conn.close();
      },
    };
  } catch (err) {
    await conn.close().catch(() => undefined);
    throw err;
  }
}

/**
 * Like SQLite's `TEXT NOT NULL`: must be present but may be empty. Mongoose's `required` would also
 * refuse '', so a missing value defaults to null and the validator refuses null instead.
 */
export const requiredText = {
  type: String,
  default: null,
  validate: { validator: (value: unknown) => value !== null, message: 'Path `{PATH}` is required.' },
};
export const nullableText = { type: String, default: null };
export const requiredDate = { type: Date, required: true };
export const nullableDate = { type: Date, default: null };
export const requiredNumber = { type: Number, required: true };

export const schemaOptions = (collection: string) =>
  ({
    collection,
    // Unknown fields are dropped from writes and from filters, so a stray key can never widen a query.
    strict: true,
    strictQuery: true,
    versionKey: false,
    id: false,
    // Indexes are built once, awaited, at start-up (each store's build) rather than in the background.
    autoIndex: false,
    autoCreate: false,
  }) as const;

export const isInvalidDate = (date: Date | undefined): boolean => date !== undefined && Number.isNaN(date.getTime());

/**
 * Whether a page query can match anything. SQLite compares against a NaN time as NULL (no rows) and
 * reads LIMIT 0 as "no rows"; Mongo would reject the date and read limit 0 as "no limit".
 */
export const pageCanMatch = (limit: number, ...dates: (Date | undefined)[]): boolean =>
  limit + 1 !== 0 && !dates.some(isInvalidDate);

/** `limit + 1` records (one more says there is a next page). A negative SQLite LIMIT means "all rows"; a negative Mongo limit means "one batch". */
export function limitForPage<Q extends { limit(n: number): unknown }>(query: Q, limit: number): Q {
  if (limit + 1 > 0) query.limit(limit + 1);
  return query;
}

/** How a record is stored: the domain id is the `_id`, every other field as it is (dates as BSON dates). */
export type Stored<R extends { id: string }> = Omit<R, 'id'> & { _id: string };

/** A record as stored. */
export const toDocument = <R extends { id: string }>({ id, ...fields }: R): Stored<R> => ({
  _id: id,
  ...fields,
});

/**
 * A stored document (read with `lean()`, so only the schema's fields) back as a record. Fields a
 * document written before they existed lacks come back as null, as their schema default says.
 */
export const fromDocument = <R extends { id: string }>({ _id, ...fields }: Stored<R>): R =>
  ({ id: _id, ...fields }) as unknown as R;

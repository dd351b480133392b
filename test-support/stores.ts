import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suiteFor, tcpUnreachable } from './http';

/** A fresh SQLite file path in its own temp directory. */
export const tempSqlitePath = (): string => join(mkdtempSync(join(tmpdir(), 'capcheck-sqlite-')), 'capcheck.sqlite');

/**
 * Declares a contract suite against MongoDB when MONGO_URL answers (a visible skip otherwise, a
 * failure when CAPCHECK_REQUIRE lists mongo). `body` gets a URL naming a database of its own per
 * run, so parallel runs never see each other's records.
 */
export function mongoSuite(name: string, body: (databaseUrl: string) => void): void {
  const url = process.env.MONGO_URL;
  suiteFor(
    name,
    'mongo',
    url
      ? tcpUnreachable(url.replace(/^mongodb(\+srv)?:/, 'tcp:'))
      : 'MONGO_URL is not set (no MongoDB server on this machine)',
    () => {
      const dbUrl = new URL(url ?? '');
      dbUrl.pathname = `/capcheck_contract_${randomUUID().slice(0, 8)}`;
      body(dbUrl.toString());
    },
  );
}

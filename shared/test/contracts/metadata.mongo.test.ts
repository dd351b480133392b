import { randomUUID } from 'node:crypto';
import { createMongoMetadataStore } from '@capcheck/shared';
import { metadataContract } from './metadata.contract';
import { suiteFor, tcpUnreachable } from '../../../test-support/http';

const url = process.env.MONGO_URL;

suiteFor(
  'metadata port: MongoDB adapter',
  'mongo',
  url
    ? tcpUnreachable(url.replace(/^mongodb(\+srv)?:/, 'tcp:'))
    : 'MONGO_URL is not set (no MongoDB server on this machine)',
  () => {
    // A database of its own per run, so parallel runs never see each other's records.
    const dbUrl = new URL(url ?? '');
    dbUrl.pathname = `/capcheck_contract_${randomUUID().slice(0, 8)}`;
    metadataContract(() => createMongoMetadataStore(dbUrl.toString()));
  },
);

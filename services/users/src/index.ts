export * from './app';
export * from './module';
export * from './config';
export { usersPathPrefixes } from './entry-points/http/routes';
export * from './data-access/signing-keys';
export { bcryptHasher } from './data-access/bcrypt-hasher';
export * from './data-access/store';
export * from './domain/ports';
export { usersSchema } from './data-access/sqlite/migrations';

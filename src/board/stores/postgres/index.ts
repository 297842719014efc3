/**
 * skein/board/postgres: the PostgreSQL board store, for many workers on many machines. Needs the
 * `pg` package (an optional peer dependency), or a pool of the same shape that you bring.
 */
export { PostgresStore, type PostgresStoreOptions } from './postgres-store.js';
export { migrate, SCHEMA_VERSION } from './migrations.js';
export type { PostgresClient, PostgresPool, PostgresQuery, PostgresResult } from './connection.js';
export type { StoreNotice } from './wake-listener.js';

/**
 * skein/board/sqlite: a board store in a SQLite file, durable on one machine and resumable after a
 * crash. Needs the `libsql` package (an optional peer dependency of skein), or Node >= 22.5 for the
 * built-in `node:sqlite`.
 *
 * @example
 * ```ts no-run
 * import { Board } from 'skein/board';
 * import { SqliteStore } from 'skein/board/sqlite';
 * await using board = new Board({ store: new SqliteStore('sqlite:./run.db') });
 * ```
 */
export { SqliteStore } from './sqlite-store.js';
export { parseSqliteUrl, type ResolvedSqliteOptions, type SqliteStoreOptions } from './options.js';
export { MIGRATIONS, NewerSchemaError, SCHEMA_VERSION, migrate, type Migration } from './migrations.js';
export { openDriver, type DriverName } from './open-driver.js';
export { LibsqlDriver } from './libsql-driver.js';
export { NodeSqliteDriver } from './node-sqlite-driver.js';
export type { SqlRow, SqlValue, SqliteDriver, SqliteStatement } from './driver.js';

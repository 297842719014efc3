/** Chooses and opens a driver: `libsql` when installed, else Node's built-in `node:sqlite`. */
import type { SqliteDriver } from './driver.js';
import { LibsqlDriver, libsqlAvailable } from './libsql-driver.js';
import { NodeSqliteDriver, nodeSqliteAvailable } from './node-sqlite-driver.js';

/** Which binding to use: `'auto'` (the default) prefers `libsql` and falls back to `node:sqlite`. */
export type DriverName = 'auto' | 'libsql' | 'node:sqlite';

/**
 * Opens a connection to the database at `path` (`':memory:'` for a private in-memory one).
 *
 * @example
 * ```ts
 * import { openDriver } from 'skein/board/sqlite';
 * const db = openDriver({ path: ':memory:', driver: 'auto' });
 * console.log(db.name); // 'libsql' when it is installed, else 'node:sqlite'
 * db.close();
 * ```
 */
export function openDriver(options: { readonly path: string; readonly driver?: DriverName }): SqliteDriver {
  const driver = options.driver ?? 'auto';
  if (driver === 'libsql') return new LibsqlDriver(options.path);
  if (driver === 'node:sqlite') return new NodeSqliteDriver(options.path);
  if (driver !== 'auto') throw new TypeError(`driver must be 'auto', 'libsql' or 'node:sqlite', got ${JSON.stringify(driver)}`);
  if (libsqlAvailable() || !nodeSqliteAvailable()) return new LibsqlDriver(options.path);
  return new NodeSqliteDriver(options.path);
}

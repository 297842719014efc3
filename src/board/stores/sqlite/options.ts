/**
 * How a SQLite store is opened: its options, their defaults and checks, and the URL form
 * (`sqlite:./run.db?synchronous=full`) that the command line and configuration files use.
 */
import { assertInteger, assertOptions, describe } from '../../../core/validate.js';
import type { DriverName } from './open-driver.js';

/**
 * Options of `new SqliteStore()`.
 *
 * @example
 * ```ts
 * import { SqliteStore } from 'skein/board/sqlite';
 * await using store = new SqliteStore({ path: ':memory:', synchronous: 'FULL', busyTimeoutMs: 10_000 });
 * ```
 */
export interface SqliteStoreOptions {
  /** The database file (created when missing), or `':memory:'` for a private database that dies with the store. */
  readonly path: string;
  /**
   * When a commit reaches the disk. `'NORMAL'` (the default, with the WAL journal): a commit survives
   * a crash of the process, and a power loss may lose the last commits but never corrupts the file.
   * `'FULL'`: every commit is flushed to the disk before it returns, so it survives a power loss too,
   * at a cost of a disk flush per unit.
   */
  readonly synchronous?: 'NORMAL' | 'FULL';
  /** How long a unit waits for another process's write lock before failing with `SQLITE_BUSY`. Default 5,000. */
  readonly busyTimeoutMs?: number;
  /** The binding: `'auto'` (default: `libsql` when installed, else `node:sqlite`), `'libsql'` or `'node:sqlite'`. */
  readonly driver?: DriverName;
}

/** Options after their defaults are applied. */
export interface ResolvedSqliteOptions {
  readonly path: string;
  readonly synchronous: 'NORMAL' | 'FULL';
  readonly busyTimeoutMs: number;
  readonly driver: DriverName;
}

const URL_PREFIX = 'sqlite:';

/**
 * Reads a store URL: `sqlite:` followed by a path (`sqlite:./run.db`, `sqlite:/var/lib/app/run.db`,
 * `sqlite:///var/lib/app/run.db`, `sqlite::memory:`) and optional query parameters `synchronous`
 * (`normal` or `full`), `busyTimeoutMs` and `driver`.
 *
 * @example
 * ```ts
 * import { parseSqliteUrl } from 'skein/board/sqlite';
 * parseSqliteUrl('sqlite:./run.db?synchronous=full'); // { path: './run.db', synchronous: 'FULL' }
 * ```
 */
export function parseSqliteUrl(url: string): SqliteStoreOptions {
  if (typeof url !== 'string' || !url.startsWith(URL_PREFIX)) throw new TypeError(`a SQLite store URL starts with "sqlite:" (sqlite:./run.db), got ${describe(url)}`);
  const rest = url.slice(URL_PREFIX.length);
  const query = rest.indexOf('?');
  let path = decodeURIComponent(query === -1 ? rest : rest.slice(0, query));
  if (path.startsWith('//')) path = path.slice(2); // sqlite:///abs/path and sqlite://./relative
  if (path === '') throw new TypeError(`the SQLite store URL ${JSON.stringify(url)} names no file`);
  const options: { path: string; synchronous?: 'NORMAL' | 'FULL'; busyTimeoutMs?: number; driver?: DriverName } = { path };
  for (const [name, value] of new URLSearchParams(query === -1 ? '' : rest.slice(query + 1))) {
    if (name === 'synchronous') options.synchronous = value.toUpperCase() as 'NORMAL' | 'FULL';
    else if (name === 'busyTimeoutMs') options.busyTimeoutMs = Number(value);
    else if (name === 'driver') options.driver = value as DriverName;
    else throw new TypeError(`unknown SQLite store URL parameter ${JSON.stringify(name)} (allowed: synchronous, busyTimeoutMs, driver)`);
  }
  return options;
}

/** Reads the string form: a `sqlite:` URL, or a plain file path. */
function fromString(text: string): SqliteStoreOptions {
  if (text.startsWith(URL_PREFIX)) return parseSqliteUrl(text);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) throw new TypeError(`a SQLite store URL starts with "sqlite:" (sqlite:./run.db), got ${describe(text)}`);
  return { path: text };
}

/** Checks `options` (or a URL, or a path) and applies the defaults. */
export function resolveSqliteOptions(options: SqliteStoreOptions | string): ResolvedSqliteOptions {
  const given = typeof options === 'string' ? fromString(options) : options;
  assertOptions(given);
  if (given === undefined || typeof given.path !== 'string' || given.path === '') {
    throw new TypeError(`options.path must be a file path or ':memory:', got ${describe(given?.path)}`);
  }
  const synchronous = given.synchronous ?? 'NORMAL';
  if (synchronous !== 'NORMAL' && synchronous !== 'FULL') throw new RangeError(`synchronous must be 'NORMAL' or 'FULL', got ${describe(synchronous)}`);
  const busyTimeoutMs = given.busyTimeoutMs ?? 5_000;
  assertInteger(busyTimeoutMs, 'busyTimeoutMs', { min: 0 });
  const driver = given.driver ?? 'auto';
  if (driver !== 'auto' && driver !== 'libsql' && driver !== 'node:sqlite') throw new RangeError(`driver must be 'auto', 'libsql' or 'node:sqlite', got ${describe(driver)}`);
  return { path: given.path, synchronous, busyTimeoutMs, driver };
}

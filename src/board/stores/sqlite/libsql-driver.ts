/**
 * The `libsql` driver: a SQLite build with a synchronous, better-sqlite3-like API and prebuilt
 * binaries on npm for Linux, macOS and Windows, so installing it needs no compiler. It is an optional
 * peer dependency of skein, loaded only when a store opens a database with it.
 */
import { createRequire } from 'node:module';
import { BaseDriver, type SqlRow, type SqlValue, type SqliteStatement } from './driver.js';

/** The part of libsql's API this driver uses (declared here so that skein's types never need libsql's). */
interface LibsqlStatement {
  run(params: readonly SqlValue[]): { changes: number };
  get(params: readonly SqlValue[]): SqlRow | undefined;
  all(params: readonly SqlValue[]): SqlRow[];
}
interface LibsqlDatabase {
  prepare(sql: string): LibsqlStatement;
  exec(sql: string): void;
  close(): void;
}
type LibsqlConstructor = new (path: string) => LibsqlDatabase;

const NO_PARAMS: readonly SqlValue[] = [];

/** Loads `libsql`, or explains how to get it. */
function loadLibsql(): LibsqlConstructor {
  try {
    return createRequire(import.meta.url)('libsql') as LibsqlConstructor;
  } catch (cause) {
    throw new Error('the SQLite store needs the libsql package (npm install libsql), or Node >= 22.5 for its built-in node:sqlite driver', { cause });
  }
}

/** Whether `libsql` can be loaded here. */
export function libsqlAvailable(): boolean {
  try {
    createRequire(import.meta.url).resolve('libsql');
    return true;
  } catch {
    return false;
  }
}

/**
 * A connection through `libsql`.
 *
 * @example
 * ```ts
 * import { LibsqlDriver } from 'skein/board/sqlite';
 * const db = new LibsqlDriver(':memory:');
 * db.prepare('SELECT 1 AS one').get(); // { one: 1, ... }
 * db.close();
 * ```
 */
export class LibsqlDriver extends BaseDriver {
  readonly name = 'libsql';
  readonly #db: LibsqlDatabase;

  constructor(path: string) {
    super();
    const Database = loadLibsql();
    this.#db = new Database(path);
  }

  protected prepareUncached(sql: string): SqliteStatement {
    const statement = this.#db.prepare(sql);
    // libsql takes a single object argument as named parameters, so parameters always go as one array.
    return {
      run: (params = NO_PARAMS) => statement.run(params),
      get: (params = NO_PARAMS) => statement.get(params),
      all: (params = NO_PARAMS) => statement.all(params),
    };
  }

  exec(sql: string): void {
    this.#db.exec(sql);
  }

  protected closeConnection(): void {
    this.#db.close();
  }
}

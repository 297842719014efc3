/**
 * The driver seam: the five things the SQLite store needs from a SQLite binding (prepare, run, get,
 * all, transaction), so that the store is written once against `libsql` and Node's built-in
 * `node:sqlite`. Both are synchronous bindings: a unit of the store contract runs start to finish
 * without yielding to the event loop, which is what lets a transaction stay short and the store
 * answer without promises.
 *
 * Nothing here imports a driver: each implementation loads its binding when it opens a database,
 * so neither optional dependency is needed to import `skein/board/sqlite` or to type-check it.
 */

/** A value SQLite stores: the store binds only these (booleans as 0/1, absent values as null). */
export type SqlValue = string | number | null;

/** A row as the driver answers it: column name to value. */
export type SqlRow = Record<string, unknown>;

/**
 * A prepared statement. Parameters are positional (`?`), passed as one array.
 *
 * @example
 * ```ts
 * import { openDriver } from 'skein/board/sqlite';
 * const db = openDriver({ path: ':memory:' });
 * const answer = db.prepare('SELECT ? + ? AS sum').get([20, 22]); // { sum: 42 }
 * db.close();
 * ```
 */
export interface SqliteStatement {
  /** Runs a statement that returns no rows; answers how many rows it changed. */
  run(params?: readonly SqlValue[]): { readonly changes: number };
  /** The first row, or undefined. */
  get(params?: readonly SqlValue[]): SqlRow | undefined;
  /** Every row. */
  all(params?: readonly SqlValue[]): SqlRow[];
}

/**
 * One open database connection, as the store uses it.
 *
 * @example
 * ```ts
 * import { openDriver } from 'skein/board/sqlite';
 * const db = openDriver({ path: ':memory:' });
 * db.exec('CREATE TABLE notes (text TEXT)');
 * db.transaction(() => db.prepare('INSERT INTO notes VALUES (?)').run(['hello']));
 * db.close();
 * ```
 */
export interface SqliteDriver {
  /** `'libsql'` or `'node:sqlite'`. */
  readonly name: string;
  /** A prepared statement, cached per SQL text: prepare once, run many times. */
  prepare(sql: string): SqliteStatement;
  /** Runs one or more statements without parameters (schema, pragmas). */
  exec(sql: string): void;
  /**
   * Runs `body` in a write transaction that takes the write lock at once (`BEGIN IMMEDIATE`, so that
   * two processes never deadlock upgrading a read lock), committing when it returns and rolling back
   * when it throws. Not reentrant.
   */
  transaction<T>(body: () => T): T;
  /** Closes the connection; its prepared statements are unusable afterwards. */
  close(): void;
}

/** The statements every driver shares: a cache, and the transaction around `BEGIN IMMEDIATE`. */
export abstract class BaseDriver implements SqliteDriver {
  abstract readonly name: string;
  readonly #statements = new Map<string, SqliteStatement>();
  #inTransaction = false;

  /** Prepares `sql` with the driver's binding, bypassing the statement cache ({@link prepare} caches what it answers). */
  protected abstract prepareUncached(sql: string): SqliteStatement;
  /** {@inheritDoc SqliteDriver.exec} */
  abstract exec(sql: string): void;
  /** Closes the binding's database handle; {@link close} calls it once the statement cache is cleared. */
  protected abstract closeConnection(): void;

  prepare(sql: string): SqliteStatement {
    let statement = this.#statements.get(sql);
    if (statement === undefined) this.#statements.set(sql, (statement = this.prepareUncached(sql)));
    return statement;
  }

  transaction<T>(body: () => T): T {
    if (this.#inTransaction) throw new Error('a SQLite transaction is already open on this connection (transactions do not nest)');
    this.prepare('BEGIN IMMEDIATE').run();
    this.#inTransaction = true;
    try {
      const result = body();
      this.prepare('COMMIT').run();
      return result;
    } catch (error) {
      // A failed COMMIT (a disk error) may have ended the transaction already: ROLLBACK then has
      // nothing to undo, and its own error must not hide the first one.
      try {
        this.prepare('ROLLBACK').run();
      } catch {
        // the transaction is gone either way
      }
      throw error;
    } finally {
      this.#inTransaction = false;
    }
  }

  close(): void {
    this.#statements.clear();
    this.closeConnection();
  }
}

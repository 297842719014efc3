/**
 * What the PostgreSQL store needs of a connection pool, described structurally so that a user's own
 * `pg.Pool` fits and the published declarations never need `pg` to type-check. The store only asks
 * for clients (`connect`) and runs parameterised statements on them.
 */
import type { Pool } from 'pg';

/**
 * A statement to run: its text, its parameters and, for hot statements, a prepared-statement name.
 *
 * @example
 * ```ts no-run
 * const query: PostgresQuery = { name: 'skein:claim', text: 'select $1::int as n', values: [1] };
 * ```
 */
export interface PostgresQuery {
  readonly text: string;
  readonly values?: unknown[];
  readonly name?: string;
}

/**
 * A query's answer, as `pg` gives it.
 *
 * @example
 * ```ts no-run
 * const result: PostgresResult<{ n: number }> = await client.query({ text: 'select 1 as n' });
 * ```
 */
export interface PostgresResult<Row = Record<string, unknown>> {
  readonly rows: Row[];
  readonly rowCount: number | null;
}

/**
 * A client checked out of a pool (`pg.PoolClient` fits).
 *
 * @example
 * ```ts no-run
 * const client: PostgresClient = await pool.connect();
 * try { await client.query({ text: 'select 1' }); } finally { client.release(); }
 * ```
 */
export interface PostgresClient {
  /** Runs one parameterised statement on this client's connection and answers its rows. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  query(query: PostgresQuery): Promise<PostgresResult<any>>;
  /**
   * Returns the client to its pool. With an error (or `true`) the pool destroys the connection
   * instead of reusing it: the store passes one when a rollback failed or a listening connection broke.
   */
  release(error?: Error | boolean): void;
  /** Listens for `NOTIFY` messages on channels this client has `LISTEN`ed to (the store's wake-ups). */
  on(event: 'notification', listener: (message: { channel: string; payload?: string | undefined }) => void): unknown;
  /** Listens for the loss of this client's connection; the store then releases it and listens again on a new one. */
  on(event: 'error', listener: (error: Error) => void): unknown;
  /** Removes the listeners of `event` (every event when omitted), so that a released client keeps none of the store's. */
  removeAllListeners?(event?: string): unknown;
}

/**
 * A connection pool (`pg.Pool` fits): the store checks out one client per unit, and holds one more
 * for `LISTEN`.
 *
 * @example
 * ```ts no-run
 * import pg from 'pg';
 * import { PostgresStore } from 'skein/board/postgres';
 * const pool: PostgresPool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 8 });
 * const store = await PostgresStore.open({ pool });
 * ```
 */
export interface PostgresPool {
  /** Checks a client out of the pool, waiting for one when all are in use; the caller must release it. */
  connect(): Promise<PostgresClient>;
  /** Closes every connection of the pool; the store calls it only on a pool it opened itself. */
  end(): Promise<void>;
}

/** Opens a `pg.Pool` for a connection string; `pg` is imported only here, and only when asked. */
export async function poolFor(connectionString: string, max: number): Promise<PostgresPool> {
  let pg: { Pool: typeof Pool };
  try {
    pg = (await import('pg')).default;
  } catch (error) {
    throw new Error('skein/board/postgres needs the "pg" package (npm install pg)', { cause: error });
  }
  const pool = new pg.Pool({ connectionString, max });
  // An idle client that loses its connection emits on the pool; the next checkout gets a fresh one.
  pool.on('error', () => {});
  return { connect: () => pool.connect(), end: () => endPool(pool) };
}

/**
 * Ends a `pg.Pool` and waits until its sockets are closed (`pool.end()` alone resolves before they
 * are), so that nothing of the store outlives `close()`.
 */
export async function endPool(pool: Pool): Promise<void> {
  let left = pool.totalCount;
  const closed = new Promise<void>((resolve) => {
    if (left === 0) resolve();
    pool.on('remove', () => {
      if (--left <= 0) resolve();
    });
  });
  await pool.end();
  await closed;
}

/**
 * One unit, one transaction: `inTransaction(pool, work)` checks out a client, runs `work` between
 * BEGIN and COMMIT, rolls back when it throws, and runs it again (a bounded number of times) when
 * PostgreSQL aborted it for a deadlock or a serialization failure, which are safe to retry because
 * nothing of the aborted attempt was applied.
 */
import type { PostgresClient, PostgresPool } from './connection.js';

/** SQLSTATE codes of transactions PostgreSQL aborted and that may simply run again. */
const RETRYABLE = new Set(['40001', '40P01']);
const MAX_ATTEMPTS = 5;

/** Thrown inside a unit to roll it back and answer `value` (a unit that changes nothing by design). */
export class Rollback<T> extends Error {
  constructor(readonly value: T) {
    super('unit rolled back');
    this.name = 'Rollback';
  }
}

/**
 * Runs `work` in a transaction on a client of `pool`.
 *
 * @example
 * ```ts no-run
 * const count = await inTransaction(pool, async (client) => (await client.query({ text: 'select 1 as n' })).rows[0].n);
 * ```
 */
export async function inTransaction<T>(pool: PostgresPool, work: (client: PostgresClient) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const client = await pool.connect();
    // A client whose connection failed is destroyed rather than handed to the next unit.
    let broken: Error | undefined;
    try {
      try {
        await client.query({ text: 'begin' });
      } catch (error) {
        broken = error as Error;
        throw error;
      }
      try {
        const value = await work(client);
        await client.query({ text: 'commit' });
        return value;
      } catch (error) {
        await client.query({ text: 'rollback' }).catch((rollbackError: Error) => {
          broken = rollbackError;
        });
        if (error instanceof Rollback) return error.value as T;
        if (broken === undefined && attempt < MAX_ATTEMPTS && RETRYABLE.has((error as { code?: string }).code ?? '')) continue;
        throw error;
      }
    } finally {
      client.release(broken);
    }
  }
}

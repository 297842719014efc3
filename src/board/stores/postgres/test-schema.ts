/**
 * Test support: a PostgreSQL schema of its own per test, dropped after. Tests that need PostgreSQL
 * read `SKEIN_TEST_POSTGRES_URL` and are skipped without it (`describe.skipIf(!POSTGRES_URL)`).
 */
import pg from 'pg';
import { endPool } from './connection.js';
import { PostgresStore, type PostgresStoreOptions } from './postgres-store.js';

export { endPool };

export const POSTGRES_URL = process.env.SKEIN_TEST_POSTGRES_URL;

let counter = 0;

/** A schema name no other test (or test process) uses. */
export function freshSchema(prefix = 'skein_test'): string {
  return `${prefix}_${process.pid}_${Date.now().toString(36)}_${++counter}`;
}

/** Drops `schema` and everything in it. */
export async function dropSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    await client.query(`drop schema if exists "${schema}" cascade`);
  } finally {
    await client.end();
  }
}

/** A store on a fresh schema whose `close()` also drops the schema. */
export async function openTestStore(options: Partial<PostgresStoreOptions> = {}): Promise<PostgresStore> {
  const schema = options.schema ?? freshSchema();
  const store = await PostgresStore.open({ connectionString: POSTGRES_URL!, poolSize: 3, ...options, schema });
  const close = store.close.bind(store);
  let closed = false;
  store.close = async () => {
    if (closed) return;
    closed = true;
    await close();
    await dropSchema(schema);
  };
  return store;
}

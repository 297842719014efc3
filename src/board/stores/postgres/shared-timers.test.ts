import { afterEach, beforeEach, describe } from 'vitest';
import { sharedTimerTests } from '../../timer-suite.js';
import { PostgresStore } from './postgres-store.js';
import { dropSchema, freshSchema, POSTGRES_URL } from './test-schema.js';

describe.skipIf(POSTGRES_URL === undefined)('timers on boards sharing one PostgreSQL schema (shared mode), each on its own connection pool', { timeout: 90_000 }, () => {
  let schema = '';
  beforeEach(() => {
    schema = freshSchema('skein_timers');
  });
  afterEach(async () => {
    await dropSchema(schema);
  });
  sharedTimerTests({ open: () => PostgresStore.open({ connectionString: POSTGRES_URL!, schema, poolSize: 3 }) });
});

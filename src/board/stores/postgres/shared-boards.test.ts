import { afterEach, beforeEach, describe } from 'vitest';
import { sharedBoardTests } from '../../shared-suite.js';
import { PostgresStore } from './postgres-store.js';
import { dropSchema, freshSchema, POSTGRES_URL } from './test-schema.js';

describe.skipIf(POSTGRES_URL === undefined)('boards sharing one PostgreSQL schema (shared mode), each on its own connection pool', () => {
  let schema = '';
  beforeEach(() => {
    schema = freshSchema('skein_shared');
  });
  afterEach(async () => {
    await dropSchema(schema);
  });
  sharedBoardTests({ open: () => PostgresStore.open({ connectionString: POSTGRES_URL!, schema, poolSize: 3 }) });
});

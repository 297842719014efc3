import { describe } from 'vitest';
import { describeStoreContract } from '../store-contract.js';
import { openTestStore, POSTGRES_URL } from './test-schema.js';

describe.skipIf(POSTGRES_URL === undefined)('PostgresStore', () => {
  describeStoreContract('PostgresStore', () => openTestStore());
});

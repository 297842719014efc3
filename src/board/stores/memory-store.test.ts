import { describeStoreContract } from './store-contract.js';
import { MemoryStore } from './memory-store.js';

describeStoreContract('MemoryStore', () => new MemoryStore());

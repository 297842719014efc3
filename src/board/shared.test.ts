import { beforeEach, describe } from 'vitest';
import { MemoryStore } from './stores/memory-store.js';
import { sharedBoardTests } from './shared-suite.js';

describe('boards sharing one MemoryStore (shared mode)', () => {
  let store = new MemoryStore();
  beforeEach(() => {
    store = new MemoryStore();
  });
  sharedBoardTests({ open: () => Promise.resolve(store) });
});

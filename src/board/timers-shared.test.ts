import { beforeEach, describe } from 'vitest';
import { MemoryStore } from './stores/memory-store.js';
import { sharedTimerTests } from './timer-suite.js';

describe('timers on boards sharing one MemoryStore (shared mode)', { timeout: 60_000 }, () => {
  let store = new MemoryStore();
  beforeEach(() => {
    store = new MemoryStore();
  });
  sharedTimerTests({ open: () => Promise.resolve(store) });
});

/**
 * The board's bookkeeping records, one per agent and one per active workflow. Internal: the counters
 * here are what idle detection, backpressure and `board.stats()` read.
 */
import type { AgentSpec } from './agent.js';
import type { BoardReader } from './context.js';
import type { Deque } from '../flow/deque.js';
import type { Semaphore } from '../flow/semaphore.js';
import type { WorkflowState } from './store.js';
import type { Viewer } from './visibility.js';

export interface AgentRuntime {
  readonly spec: AgentSpec;
  readonly viewer: Viewer;
  readonly permits: Semaphore;
  readonly capacity: number;
  readonly maxRuns: number;
  /** Runs of this agent in the store's queue, paused ones included. */
  queued: number;
  /** Queue places taken by external publishes in progress (see `#reserveIntake`). */
  reserved: number;
  running: number;
  done: number;
  failed: number;
  cancelled: number;
  retries: number;
  readonly spaceWaiters: Deque<SpaceWaiter>;
  reader: BoardReader | undefined;
  pumping: boolean;
  wake: boolean;
  init: Promise<void> | undefined;
  initialized: boolean;
}

export interface WorkflowRuntime {
  readonly id: string;
  state: WorkflowState;
  queued: number;
  running: number;
  timers: number;
  publishing: number;
  readonly runsByAgent: Map<string, number>;
  readonly loopReported: Set<string>;
  /** Aborts the workflow's running runs (cancel, shutdown); made when its first run starts. */
  controller: AbortController | undefined;
  readonly waiters: Set<Waiter>;
}

export interface SpaceWaiter {
  /** Lets the publisher go on; false when it had already given up. */
  wake(): boolean;
  fail(reason: unknown): void;
}

export interface Waiter {
  resolve(): void;
  reject(reason: unknown): void;
}

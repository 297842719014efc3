/**
 * The board's in-process records: one per declared agent, one per workflow with work in this
 * process. The store holds the truth (runs, gates, loop counters, workflow states); these records
 * hold what only this process can know: permits, waiters, abort controllers, and the counters that
 * idle detection, backpressure and `board.stats()` read.
 */
import type { Publisher } from './intake.js';
import type { AgentSpec, Subscription } from '../agent.js';
import type { BoardReader } from '../context.js';
import type { Deque } from '../../flow/deque.js';
import type { Semaphore } from '../../flow/semaphore.js';
import type { WorkflowState } from '../store/contract.js';
import type { Viewer } from '../visibility.js';

/**
 * Shared mode: the controller of each claimed run this board executes, aborted when the run's lease
 * is lost (another board may run it now). Keyed by the claimed run object; absent in single mode.
 */
export const leaseControllers = new WeakMap<object, AbortController>();

/** A declared agent as this board runs it. */
export interface LiveAgent {
  readonly spec: AgentSpec;
  readonly viewer: Viewer;
  readonly permits: Semaphore;
  readonly capacity: number;
  /** Runs of this agent queued in the store by this board, paused ones included. */
  queued: number;
  /** Queue places taken by external publishes in progress (see `Intake`). */
  reserved: number;
  running: number;
  done: number;
  failed: number;
  cancelled: number;
  /** Runs not executed because the agent's `.when` condition did not hold. */
  skipped: number;
  retries: number;
  /** What its runs reported using (`ctx.reportUsage`), summed. */
  readonly usage: Record<string, number>;
  readonly spaceWaiters: Deque<SpaceWaiter>;
  reader: BoardReader | undefined;
  pumping: boolean;
  wake: boolean;
  init: Promise<void> | undefined;
  initialized: boolean;
  /** This agent as the publisher of its outputs; made once, set right after the record. */
  publisher: Publisher;
  /** What the dispatcher claims for: this agent alone (one array, not one per claim). */
  readonly claimAgents: readonly string[];
}

/** A workflow with work in this process. Forgotten when it has none (unless paused or cancelled). */
export interface LiveWorkflow {
  readonly id: string;
  state: WorkflowState;
  queued: number;
  running: number;
  /** Runs held back by a `beforeSchedule` deferral. */
  deferred: number;
  publishing: number;
  /** Aborts the workflow's running runs (cancel, shutdown); made when a run first reads its signal. */
  controller: AbortController | undefined;
  /** Those waiting for `workflow.done()`. */
  /** Made when something first waits for the workflow (most never have a waiter). */
  doneWaiters: Set<Settler> | undefined;
}

/** Where an artifact type leads: one subscription of one agent. */
export interface Route {
  readonly agent: LiveAgent;
  readonly subscription: Subscription;
}

/** A publisher waiting for room in an agent's queue. */
export interface SpaceWaiter {
  /** Lets the publisher go on; false when it had already given up. */
  wake(): boolean;
  fail(reason: unknown): void;
}

/** Someone waiting for a state (idle, a workflow done). */
export interface Settler {
  resolve(): void;
  reject(reason: unknown): void;
}

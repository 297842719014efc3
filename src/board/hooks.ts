/**
 * Agent lifecycle hooks (components). Each kind of hook runs in ascending `priority` (default 0),
 * ties in the order they were added, one after the other: a hook sees what the previous one returned.
 */
import type { Artifact, Draft } from './artifact.js';
import type { AgentContext } from './context.js';

type Awaitable<T> = T | Promise<T>;

/**
 * What `initialize` and `terminate` receive.
 *
 * @example
 * ```ts
 * import type { AgentHooks } from 'skein/board';
 * const pool: AgentHooks = { initialize: ({ name, signal }) => { console.log(`warming ${name}`, signal.aborted); } };
 * ```
 */
export interface AgentInfo {
  readonly name: string;
  /** Aborts when the board shuts down. */
  readonly signal: AbortSignal;
}

/**
 * A bundle of hooks for one agent. Any subset may be given.
 *
 * @example
 * ```ts
 * import type { AgentHooks } from 'skein/board';
 * const audit: AgentHooks = {
 *   name: 'audit',
 *   priority: -10, // before hooks with the default priority 0
 *   postPublish: (artifacts) => { console.log(`published ${artifacts.length}`); },
 * };
 * ```
 */
export interface AgentHooks {
  readonly name?: string;
  /** Lower runs first (default 0). */
  readonly priority?: number;
  /** Once, before the agent's first run (after its permit is taken). A failure fails that run; the next run tries again. */
  initialize?(agent: AgentInfo): Awaitable<void>;
  /** Before the run: may replace the inputs (return a new array); an empty array skips the run. */
  preConsume?(inputs: readonly Artifact[], ctx: AgentContext): Awaitable<readonly Artifact[] | void>;
  /** Before each attempt's evaluation: may replace the inputs. */
  preEvaluate?(inputs: readonly Artifact[], ctx: AgentContext): Awaitable<readonly Artifact[] | void>;
  /** After evaluation: may replace the outputs (drafts) before they are published. */
  postEvaluate?(outputs: readonly Draft[], ctx: AgentContext): Awaitable<readonly Draft[] | void>;
  /** After the outputs were stored and scheduled. */
  postPublish?(artifacts: readonly Artifact[], ctx: AgentContext): Awaitable<void>;
  /** When the run failed for good (after retries), before `AgentFailed` is published. */
  error?(error: unknown, ctx: AgentContext): Awaitable<void>;
  /** At shutdown, for agents that were initialized. */
  terminate?(agent: AgentInfo): Awaitable<void>;
}

export type HookKind = Exclude<keyof AgentHooks, 'name' | 'priority'>;

/** Sorts hook bundles by priority, stable. */
export function sortByPriority<T extends { readonly priority?: number }>(items: readonly T[]): T[] {
  return items
    .map((item, index) => ({ item, index }))
    .sort((a, b) => (a.item.priority ?? 0) - (b.item.priority ?? 0) || a.index - b.index)
    .map(({ item }) => item);
}

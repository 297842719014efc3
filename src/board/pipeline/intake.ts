/**
 * Intake: where artifacts enter the board. It checks the type (the one registered under its name;
 * the board's own facts cannot come from outside), validates the payload, copies it into frozen
 * plain data, applies `onPublish` components, and makes external publishers wait while an agent that
 * consumes the type has a full queue (backpressure), all before anything is stored.
 */
import { CancelledError } from '../../core/errors.js';
import { onAbort } from '../../core/signal.js';
import { isThenable } from '../../core/task.js';
import { checkTags, checkVisibility, validatePayload, type AnyArtifactType, type Artifact } from '../artifact.js';
import { AgentFailed, JoinExpired, LoopDetected, TimerTick } from '../builtins.js';
import { BoardClosedError, PublishBlockedError, ValidationError } from '../errors.js';
import type { Visibility } from '../visibility.js';
import type { LiveAgent, LiveWorkflow, Route } from './live.js';
import type { Pipeline } from './pipeline.js';
import { freezePlainData, PlainDataProblem } from './plain-data.js';

/** Who publishes, which decides whether the publish may wait for queue space. */
export type Publisher = { readonly kind: 'external' } | { readonly kind: 'agent'; readonly agent: LiveAgent } | { readonly kind: 'board' };

/** Where an artifact comes from and whom it is for. */
export interface Origin {
  readonly producedBy: string;
  readonly correlationId: string;
  readonly tags: readonly string[];
  readonly visibility: Visibility;
  readonly causedBy: readonly string[];
  readonly publisher: Publisher;
  readonly lineage?: readonly string[] | undefined;
  /** The artifact's id when the caller fixes it (a workflow started by id: the store refuses a second one); else a new one. */
  readonly id?: string | undefined;
  /** The end of its embargo (epoch ms), when it is published under one. */
  readonly visibleAt?: number | undefined;
}

const FACTS: ReadonlySet<AnyArtifactType> = new Set([AgentFailed, JoinExpired, LoopDetected, TimerTick] as AnyArtifactType[]);
const FACT_NAMES: ReadonlySet<string> = new Set([...FACTS].map((type) => type.name));

export class Intake {
  readonly #ctx: Pipeline;

  constructor(ctx: Pipeline) {
    this.#ctx = ctx;
  }

  /** Rejects a type object that is not the one registered under its name, and the board's own facts. */
  checkExternalType(type: AnyArtifactType): void {
    if (FACT_NAMES.has(type.name)) {
      throw new TypeError(`${type.name} is a fact only the board publishes; it cannot be published from outside`);
    }
    const known = this.#ctx.types.get(type.name);
    if (known !== undefined && known !== type) {
      throw new TypeError(`this ${type.name} is not the artifact type registered under that name on this board; publish with the same type object the agents declared`);
    }
  }

  /**
   * Validates, freezes and applies `onPublish` components: the artifact as it will be stored (not
   * frozen itself yet: its trace reference is added first). Synchronous unless a schema or a
   * component is asynchronous.
   */
  prepare(type: AnyArtifactType, payload: unknown, origin: Origin): Artifact | Promise<Artifact> {
    const value = validatePayload(type, payload);
    if (isThenable(value)) return Promise.resolve(value).then((valid) => this.#build(type, valid, origin));
    return this.#build(type, value, origin);
  }

  #build(type: AnyArtifactType, value: unknown, origin: Origin): Artifact | Promise<Artifact> {
    const id = origin.id ?? this.#ctx.ids.next();
    const plain = this.#plain(type, value);
    const createdAt = this.#ctx.isoNow();
    // One literal per shape: no spread copy for an output's lineage.
    const artifact: Artifact =
      origin.lineage === undefined
        ? { id, type: type.name, payload: plain, producedBy: origin.producedBy, correlationId: origin.correlationId, tags: origin.tags, visibility: origin.visibility, createdAt, causedBy: origin.causedBy }
        : {
            id,
            type: type.name,
            payload: plain,
            producedBy: origin.producedBy,
            correlationId: origin.correlationId,
            tags: origin.tags,
            visibility: origin.visibility,
            createdAt,
            causedBy: origin.causedBy,
            lineage: origin.lineage,
          };
    const held = origin.visibleAt === undefined ? artifact : { ...artifact, visibleAt: new Date(origin.visibleAt).toISOString() };
    return this.#ctx.publishComponents.length > 0 ? this.#applyComponents(type, held) : held;
  }

  /** The payload as frozen plain data; the board's facts are made by the board and trusted as they are. */
  #plain(type: AnyArtifactType, value: unknown): unknown {
    if (FACTS.has(type)) return value;
    const result = freezePlainData(value);
    if (result instanceof PlainDataProblem) throw new ValidationError(type.name, [result.issue]);
    return result;
  }

  async #applyComponents(type: AnyArtifactType, artifact: Artifact): Promise<Artifact> {
    let current = artifact;
    for (const component of this.#ctx.publishComponents) {
      const decision = await component.onPublish!(current);
      if (decision === undefined || decision === null) continue;
      if (typeof decision === 'object' && 'block' in decision && !('payload' in decision)) {
        const reason = String(decision.block);
        if (this.#ctx.events.listening) this.#ctx.events.emit({ kind: 'blocked', at: Date.now(), type: type.name, producedBy: artifact.producedBy, reason });
        throw new PublishBlockedError(type.name, reason);
      }
      const next = decision as Artifact;
      if (next.type !== current.type || next.id !== current.id) {
        throw new TypeError(`component ${component.name ?? '(unnamed)'} onPublish must keep the artifact's type and id`);
      }
      let payload = next.payload;
      if (payload !== current.payload) {
        const revalidated = validatePayload(type, payload);
        payload = this.#plain(type, isThenable(revalidated) ? await revalidated : revalidated);
      }
      current = { ...next, payload, tags: checkTags(next.tags, 'onPublish tags'), visibility: checkVisibility(next.visibility, 'onPublish visibility') };
    }
    return current;
  }

  /** Refuses a publish into a cancelled workflow. */
  assertNotCancelled(wf: LiveWorkflow | undefined, correlationId: string): void {
    if (wf?.state === 'cancelled') throw new CancelledError(`workflow ${correlationId} was cancelled`);
  }

  // ---------------------------------------------------------------------------------------------
  // Backpressure

  /**
   * External intake: before anything is stored, takes a place in the queue of every agent that
   * consumes the type, waiting while one is full. The place is taken in the same tick as the check,
   * so any number of concurrent publishers cannot overfill a queue; it is given back when the publish
   * ends (its run, if any, is counted as queued by then). Synchronous unless it must wait.
   */
  reserve(routes: readonly Route[], signal: AbortSignal | undefined, reserved: LiveAgent[]): Promise<void> | undefined {
    for (let i = 0; i < routes.length; i++) {
      const agent = routes[i]!.agent;
      if (reserved.includes(agent)) continue;
      if (this.full(agent)) return this.#reserveSlowly(routes, i, signal, reserved);
      agent.reserved++;
      reserved.push(agent);
    }
    return undefined;
  }

  async #reserveSlowly(routes: readonly Route[], from: number, signal: AbortSignal | undefined, reserved: LiveAgent[]): Promise<void> {
    for (let i = from; i < routes.length; i++) {
      const agent = routes[i]!.agent;
      if (reserved.includes(agent)) continue;
      while (this.full(agent)) await this.waitForRoom(agent, signal);
      agent.reserved++;
      reserved.push(agent);
    }
  }

  unreserve(agent: LiveAgent): void {
    agent.reserved--;
    if (!this.full(agent)) this.roomMade(agent);
  }

  /** True when `agent`'s queue, counting places reserved by publishes in progress, has no room. */
  full(agent: LiveAgent): boolean {
    return agent.queued + agent.reserved >= agent.capacity;
  }

  /**
   * Waits until `agent`'s queue has room. No listener on the board's own signal: shutdown fails every
   * space waiter itself, so a flood of waiting publishers adds nothing to a long-lived signal.
   */
  waitForRoom(agent: LiveAgent, signal?: AbortSignal): Promise<void> {
    if (this.#ctx.closed) return Promise.reject(new BoardClosedError());
    if (signal?.aborted) return Promise.reject(signal.reason as unknown);
    return new Promise<void>((resolve, reject) => {
      let live = true;
      const removeAbort = onAbort(signal, () => {
        live = false;
        reject(signal!.reason as unknown);
      });
      agent.spaceWaiters.push({
        wake: () => {
          if (!live) return false;
          live = false;
          removeAbort();
          resolve();
          return true;
        },
        fail: (reason) => {
          if (!live) return;
          live = false;
          removeAbort();
          reject(reason);
        },
      });
    });
  }

  /**
   * Wakes as many publishers waiting for `agent`'s queue as it has room for (at least one). A woken
   * publisher checks again, so waking one too many costs a re-wait, never an overfull queue.
   */
  roomMade(agent: LiveAgent): void {
    let room = Math.max(1, agent.capacity - agent.queued);
    while (room > 0) {
      const waiter = agent.spaceWaiters.shift();
      if (waiter === undefined) return;
      if (waiter.wake()) room--;
    }
  }

  /** Fails every publisher waiting for room: the board is shutting down. */
  failWaiters(): void {
    for (const agent of this.#ctx.agents.values()) {
      for (let waiter = agent.spaceWaiters.shift(); waiter !== undefined; waiter = agent.spaceWaiters.shift()) waiter.fail(new BoardClosedError());
    }
  }
}

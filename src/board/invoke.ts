/**
 * Direct invocation (`board.invoke`): one agent, run on inputs the caller hands it, answering its
 * outputs, with no subscription matching and no other agent reacting.
 *
 * What is stored: by default **nothing**. The input is validated (a payload or a draft) but not
 * published, the agent runs in this process (its hooks, engines, policy, retries, timeout and best-of
 * as in a board run; its `.when` condition, `where` filters and run limits are not asked: the caller
 * chose the agent), and its outputs are validated and answered without being stored: the board is as
 * it was, as after calling a function. With `react: true`, the input is stored (a payload or draft
 * input, scheduling no agent) and the outputs are published to the board in the input's workflow, so
 * other agents react to them as to any output; the answer is then the stored artifacts.
 *
 * The run holds one of the agent's permits (its `maxConcurrency` counts invocations too), runs in the
 * board's root scope (shutdown aborts and waits for it), and its signal aborts on the caller's
 * `signal`, after `timeoutMs` (a `TimeoutError`), and at shutdown. A failure rejects the call with the
 * run's last error after the agent's retries: no `AgentFailed` fact, no dead letter.
 */
import { CancelledError, TimeoutError } from '../core/errors.js';
import { linkSignal } from '../core/signal.js';
import { isThenable } from '../core/task.js';
import { assertDuration, assertOptions, assertSignal, describe } from '../core/validate.js';
import { checkTags, checkVisibility, EMPTY, isDraft, type AnyArtifactType, type Artifact, type Draft } from './artifact.js';
import { EXTERNAL } from './builtins.js';
import type { Origin } from './pipeline/intake.js';
import type { LiveAgent, LiveWorkflow } from './pipeline/live.js';
import type { Pipeline } from './pipeline/pipeline.js';
import { ActiveRun } from './run-context.js';
import type { ClaimedRun } from './store/contract.js';
import { isVisibleTo } from './visibility.js';

/**
 * Options of `board.invoke()`.
 *
 * @example
 * ```ts
 * import { Board, artifactType } from 'skein/board';
 * import { z } from 'zod';
 * const Text = artifactType('Text', z.string());
 * await using board = new Board();
 * board.agent('shout').consumes(Text).publishes(Text).handle(([text]) => text.payload.toUpperCase());
 * const outputs = await board.invoke('shout', 'hi', { timeoutMs: 5_000, signal: AbortSignal.timeout(10_000), correlationId: 'chat-1' });
 * ```
 */
export interface InvokeOptions {
  /** Aborts the run (the call rejects with the signal's reason). */
  readonly signal?: AbortSignal;
  /** Aborts the run after this many ms; the call rejects with a `TimeoutError`. */
  readonly timeoutMs?: number;
  /**
   * True: the input (unless an artifact already) and the outputs are stored on the board, the
   * outputs published so that other agents react to them. Default false: nothing is stored.
   */
  readonly react?: boolean;
  /** The workflow of a payload or draft input (default: a new one). An artifact input keeps its own. */
  readonly correlationId?: string;
}

const INVOKE_KEYS = new Set(['signal', 'timeoutMs', 'react', 'correlationId']);
const EXTERNAL_PUBLISHER = Object.freeze({ kind: 'external' as const });

/**
 * One input as a caller may pass it to `board.invoke`: an artifact, a draft (`Type.draft(payload)`),
 * or a payload of the agent's only input type; or an array of artifacts and drafts (an AND gate's inputs, in order).
 *
 * @example
 * ```ts
 * import { artifactType, type InvokeInput } from 'skein/board';
 * import { z } from 'zod';
 * const Idea = artifactType('Idea', z.string());
 * const inputs: InvokeInput[] = ['a payload', Idea.draft('a draft', { tags: ['manual'] })];
 * ```
 */
export type InvokeInput = unknown;

function isArtifact(value: unknown): value is Artifact {
  const a = value as Partial<Artifact> | null;
  return typeof a === 'object' && a !== null && typeof a.id === 'string' && typeof a.type === 'string' && typeof a.correlationId === 'string' && 'payload' in a && typeof a.createdAt === 'string';
}

/** The types an agent consumes, by name. */
function consumedTypes(agent: LiveAgent): Map<string, AnyArtifactType> {
  const types = new Map<string, AnyArtifactType>();
  for (const subscription of agent.spec.subscriptions) for (const type of subscription.types) types.set(type.name, type);
  return types;
}

export function checkInvoke(options: InvokeOptions | undefined): void {
  assertOptions(options);
  for (const key of Object.keys(options ?? {})) {
    if (!INVOKE_KEYS.has(key)) throw new TypeError(`invoke has no option '${key}'; its options are ${[...INVOKE_KEYS].join(', ')}`);
  }
  assertSignal(options?.signal);
  if (options?.timeoutMs !== undefined) assertDuration(options.timeoutMs, 'timeoutMs');
  if (options?.react !== undefined && typeof options.react !== 'boolean') throw new TypeError(`react must be a boolean, got ${describe(options.react)}`);
  const id = options?.correlationId;
  if (id !== undefined && (typeof id !== 'string' || id === '')) throw new TypeError(`correlationId must be a non-empty string, got ${describe(id)}`);
}

/** Runs `agent` on `input` outside the store (see the file's comment). */
export async function invoke(ctx: Pipeline, agent: LiveAgent, input: InvokeInput, options: InvokeOptions | undefined): Promise<Artifact[]> {
  const react = options?.react === true;
  const correlationId = options?.correlationId ?? ctx.ids.next();
  const many = Array.isArray(input) && input.length > 0 && input.every((item) => isArtifact(item) || isDraft(item));
  const given: readonly unknown[] = many ? input : [input];
  if (options?.signal?.aborted) throw options.signal.reason;
  const controller = new AbortController();
  const links = [linkSignal(controller, options?.signal), linkSignal(controller, ctx.scope.signal)];
  const timer = options?.timeoutMs === undefined ? undefined : setTimeout(() => controller.abort(new TimeoutError(`agent '${agent.spec.name}' did not finish within ${options.timeoutMs} ms`)), options.timeoutMs);
  if (react) ctx.counters.publishStarted(undefined);
  try {
    const inputs: Artifact[] = [];
    for (const item of given) inputs.push(await toInput(ctx, agent, item, correlationId, react));
    const permit = await agent.permits.acquire({ signal: controller.signal });
    try {
      // In the board's scope, so that shutdown waits for it; settled inside, since a failing child would fail the scope.
      const settled = await ctx.scope.spawn(() =>
        run(ctx, agent, inputs, controller, react).then(
          (outputs) => ({ outputs }),
          (error: unknown) => ({ error }),
        ),
      );
      if ('error' in settled) throw settled.error;
      return settled.outputs;
    } finally {
      permit.release();
    }
  } catch (error) {
    throw controller.signal.aborted ? controller.signal.reason : error;
  } finally {
    if (timer !== undefined) clearTimeout(timer);
    for (const link of links) link.unlink();
    if (react) ctx.counters.publishEnded(undefined);
  }
}

/** One input as an artifact the agent may see: validated (and, reacting, stored without scheduling anyone). */
async function toInput(ctx: Pipeline, agent: LiveAgent, item: unknown, correlationId: string, react: boolean): Promise<Artifact> {
  const consumed = consumedTypes(agent);
  const name = agent.spec.name;
  if (isArtifact(item)) {
    if (!consumed.has(item.type)) throw new TypeError(`agent '${name}' does not consume ${item.type}`);
    if (!isVisibleTo(item.visibility, item.producedBy, agent.viewer)) throw new RangeError(`agent '${name}' may not see artifact ${item.id}`);
    return item;
  }
  let type: AnyArtifactType;
  let payload: unknown;
  let draft: Draft | undefined;
  if (isDraft(item)) {
    type = item.type;
    payload = item.payload;
    draft = item;
    if (consumed.get(type.name) !== type) throw new TypeError(`agent '${name}' does not consume ${type.name}`);
  } else {
    if (consumed.size !== 1) throw new TypeError(`agent '${name}' consumes ${[...consumed.keys()].join(', ')}: pass an artifact or Type.draft(payload) to say which`);
    type = consumed.values().next().value!;
    payload = item;
  }
  ctx.intake.checkExternalType(type);
  const origin: Origin = {
    producedBy: EXTERNAL,
    correlationId,
    tags: checkTags(draft?.options?.tags),
    visibility: checkVisibility(draft?.options?.visibility),
    causedBy: EMPTY,
    publisher: EXTERNAL_PUBLISHER,
  };
  const prepared = ctx.intake.prepare(type, payload, origin);
  const artifact = Object.freeze(isThenable(prepared) ? await prepared : prepared);
  if (!isVisibleTo(artifact.visibility, artifact.producedBy, agent.viewer)) throw new RangeError(`agent '${name}' may not see this ${type.name}`);
  if (react) {
    const stored = ctx.store.publish({ writes: [{ artifact, runs: [], deposits: [] }], now: Date.now() });
    const result = isThenable(stored) ? await stored : stored;
    if (result.status === 'cancelled') throw new CancelledError(`workflow ${correlationId} was cancelled`);
    ctx.units.applied(result, [artifact]);
  }
  return artifact;
}

async function run(ctx: Pipeline, agent: LiveAgent, inputs: readonly Artifact[], controller: AbortController, react: boolean): Promise<Artifact[]> {
  const correlationId = inputs[0]?.correlationId ?? ctx.ids.next();
  const now = Date.now();
  const claimed: ClaimedRun = {
    id: ctx.ids.next(),
    agent: agent.spec.name,
    subscription: 0,
    inputIds: inputs.map((input) => input.id),
    correlationId,
    enqueuedAt: now,
    state: 'running',
    attempt: 1,
    owner: ctx.owner,
    leaseUntil: Number.MAX_SAFE_INTEGER,
  };
  // A workflow record of its own, not the board's: the invocation's signal is the caller's, not the workflow's.
  const wf: LiveWorkflow = { id: correlationId, state: 'active', queued: 0, running: 0, deferred: 0, publishing: 0, controller, doneWaiters: undefined };
  const active = new ActiveRun(agent, claimed, wf);
  active.inputs = inputs;
  const outputs: Artifact[] = [];
  const lineage = Object.freeze([...new Set([...inputs.flatMap((input) => input.lineage ?? []), agent.spec.name])]);
  const emit = async (draft: Draft): Promise<Artifact> => {
    const artifact = await output(ctx, agent, draft, active, lineage, react);
    outputs.push(artifact);
    return artifact;
  };
  const host = ctx.executor.host;
  active.host = {
    publishOutput: (_active, draft) => emit(draft),
    reader: (reading) => host.reader(reading),
    progress: (run, detail) => host.progress(run, detail),
    usage: (run, usage) => host.usage(run, usage),
  };
  const drafts = await ctx.executor.evaluate(active);
  for (const draft of drafts) await emit(draft);
  return outputs;
}

/** An output, validated as the agent's; reacting, published in the input's workflow (and routed). */
async function output(ctx: Pipeline, agent: LiveAgent, draft: Draft, active: ActiveRun, lineage: readonly string[], react: boolean): Promise<Artifact> {
  const declared = agent.spec.publishes.get(draft.type.name);
  if (declared === undefined || declared.type !== draft.type) throw new TypeError(`agent '${agent.spec.name}' does not publish ${draft.type.name}; declare publishes(${draft.type.name})`);
  const extraTags = checkTags(draft.options?.tags, 'output tags');
  const origin: Origin = {
    producedBy: agent.spec.name,
    correlationId: active.run.correlationId,
    tags: extraTags.length === 0 ? declared.tags : [...new Set([...declared.tags, ...extraTags])],
    visibility: draft.options?.visibility === undefined ? declared.visibility : checkVisibility(draft.options.visibility, 'output visibility'),
    causedBy: active.run.inputIds,
    lineage,
    publisher: agent.publisher,
  };
  if (react) return ctx.units.publishOne(declared.type, draft.payload, origin);
  const prepared = ctx.intake.prepare(declared.type, draft.payload, origin);
  return Object.freeze(isThenable(prepared) ? await prepared : prepared);
}

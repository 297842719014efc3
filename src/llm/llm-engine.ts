/**
 * `llmEngine`: an agent's engine that asks a language model, through the AI SDK (`ai`, an optional
 * peer loaded on the first request, never at import), for a payload of the agent's output type.
 *
 * One evaluation is: build the prompt, then up to `1 + validationRetries` rounds of "ask, check the
 * answer against the output type's schema"; a round whose answer fails is followed by one that shows
 * the model its answer and the failing paths. Each ask is one streamed request (or several, when the
 * model calls tools), run as: budget check -> rate limit -> circuit breaker -> request, under skein's
 * `retry` for rate-limit and transient provider errors. Everything waits on the run's signal, so a
 * cancelled workflow or an agent's `timeout` stops the request, the tool loop and every wait.
 */
import type * as AiModule from 'ai';
import type { Engine } from '../board/agent.js';
import { assertArtifactType, validatePayload, type AnyArtifactType, type InputOf } from '../board/artifact.js';
import type { AgentContext } from '../board/context.js';
import { ValidationError, type ValidationIssue } from '../board/errors.js';
import { isStandardSchema, type StandardSchemaV1 } from '../board/standard-schema.js';
import { isCancellation } from '../core/errors.js';
import { onAbort } from '../core/signal.js';
import { sleep } from '../core/sleep.js';
import { assertFunction, assertInteger, assertKnownOptions, assertOptions, describe } from '../core/validate.js';
import { RateLimiter } from '../flow/rate-limiter.js';
import { CircuitBreaker } from '../resilience/circuit-breaker.js';
import { consecutive } from '../resilience/consecutive.js';
import { assertRetryOptions, retry, type RetryInfo, type RetryPolicyOptions } from '../resilience/retry.js';
import { BudgetExceededError } from './errors.js';
import { describeSchema } from './json-schema.js';
import { defaultPrompt } from './prompt.js';

type Ai = typeof AiModule;
type Awaitable<T> = T | Promise<T>;

/**
 * A language model as the AI SDK takes it: a provider's model object (`openai('gpt-4.1-mini')`, the
 * test model `new MockLanguageModelV3(...)` from `ai/test`), or a model id string for the AI SDK's
 * gateway. Declared here, not imported, so that skein's declarations never need `ai` to type-check.
 *
 * @example
 * ```ts
 * import type { LanguageModelLike } from 'skein/llm';
 * import { MockLanguageModelV3 } from 'ai/test';
 * const model: LanguageModelLike = new MockLanguageModelV3();
 * ```
 */
export type LanguageModelLike = { readonly specificationVersion: string; readonly provider: string; readonly modelId: string } | string;

/**
 * A tool the model may call: a description, a Standard Schema for its input (one that describes
 * itself as JSON Schema, as zod 4 does), and the function that runs it. `execute` receives the
 * validated input and the run's signal; what it returns is shown to the model.
 *
 * @example
 * ```ts
 * import { llmTool } from 'skein/llm';
 * import { z } from 'zod';
 * const lookup = llmTool({
 *   description: 'Finds the open issues whose title mentions a word',
 *   input: z.object({ word: z.string() }),
 *   execute: async ({ word }, { signal }) => (signal.aborted ? [] : [`#12 ${word} crashes`]),
 * });
 * ```
 */
export interface LlmTool<I = unknown> {
  readonly description?: string;
  readonly input: StandardSchemaV1<unknown, I>;
  execute(input: I, options: LlmToolOptions): unknown;
}

/**
 * What a tool's `execute` receives besides its input.
 *
 * @example
 * ```ts
 * import type { LlmToolOptions } from 'skein/llm';
 * const run = async (_input: unknown, { signal, ctx }: LlmToolOptions) => ctx.board.list({ limit: signal.aborted ? 0 : 5 });
 * ```
 */
export interface LlmToolOptions {
  /** Aborts when the run is cancelled or its deadline passes. */
  readonly signal: AbortSignal;
  /** The run's context: its board reader, its inputs, `publish`. */
  readonly ctx: AgentContext;
}

/**
 * Declares a tool, inferring its input type from its schema.
 *
 * @example
 * ```ts
 * import { llmTool } from 'skein/llm';
 * import { z } from 'zod';
 * const add = llmTool({ description: 'Adds two numbers', input: z.object({ a: z.number(), b: z.number() }), execute: ({ a, b }) => a + b });
 * ```
 */
export function llmTool<S extends StandardSchemaV1>(tool: {
  readonly description?: string;
  readonly input: S;
  execute(input: StandardSchemaV1.InferOutput<S>, options: LlmToolOptions): unknown;
}): LlmTool<StandardSchemaV1.InferOutput<S>> {
  assertOptions(tool, 'llmTool');
  assertKnownOptions(tool, ['description', 'input', 'execute'], 'llmTool');
  if (!isStandardSchema(tool.input)) throw new TypeError(`llmTool input must be a Standard Schema (zod, valibot, arktype...), got ${describe(tool.input)}`);
  if (describeSchema(tool.input) === undefined) throw new TypeError('llmTool input must describe itself as JSON Schema (Standard JSON Schema, as zod 4 does)');
  assertFunction((tool as { readonly execute: unknown }).execute, 'llmTool execute');
  return tool;
}

/**
 * An agent's limits on its model. `tokens` stops it: once its runs have spent that many tokens (input
 * and output), the next request is refused with a {@link BudgetExceededError}, and a tool loop under
 * way stops asking. `requestsPerMinute` slows it: requests wait for a {@link RateLimiter} (and a
 * `progress` event says so). Concurrency is the agent's own limit: `.maxConcurrency(n)`.
 *
 * @example
 * ```ts
 * import type { LlmBudget } from 'skein/llm';
 * const budget: LlmBudget = { tokens: 200_000, requestsPerMinute: 60 };
 * ```
 */
export interface LlmBudget {
  /** Tokens the agent may spend in all, counted per agent over the engine's lifetime. */
  readonly tokens?: number;
  /** Requests the engine may send per minute (a sliding window). */
  readonly requestsPerMinute?: number;
}

/**
 * What the engine reports through `ctx.reportProgress`, as the `detail` of `progress` board events:
 * streamed text with the partial object parsed so far, tool calls and results, an answer that failed
 * validation and is being fed back, a wait for the rate limit, a retry after a provider error.
 *
 * @example
 * ```ts
 * import { Board } from 'skein/board';
 * import type { LlmProgress } from 'skein/llm';
 * await using board = new Board();
 * void (async () => {
 *   for await (const event of board.events()) {
 *     if (event.kind !== 'progress') continue;
 *     const detail = event.detail as LlmProgress;
 *     if (detail.type === 'text') process.stdout.write(detail.delta);
 *   }
 * })();
 * ```
 */
export type LlmProgress =
  | { readonly type: 'text'; readonly engine: string; readonly round: number; readonly delta: string; readonly partial: unknown }
  | { readonly type: 'tool-call'; readonly engine: string; readonly tool: string; readonly input: unknown }
  | { readonly type: 'tool-result'; readonly engine: string; readonly tool: string; readonly output: unknown }
  | { readonly type: 'tool-error'; readonly engine: string; readonly tool: string; readonly error: string }
  | { readonly type: 'invalid'; readonly engine: string; readonly round: number; readonly issues: readonly ValidationIssue[] }
  | { readonly type: 'waiting'; readonly engine: string; readonly reason: string }
  | { readonly type: 'retrying'; readonly engine: string; readonly attempt: number; readonly delayMs: number; readonly error: string };

/**
 * Options of {@link llmEngine}.
 *
 * @example
 * ```ts
 * import { artifactType, type Artifact } from 'skein/board';
 * import { llmEngine, type LlmEngineOptions } from 'skein/llm';
 * import { MockLanguageModelV3 } from 'ai/test';
 * import { z } from 'zod';
 * const Label = artifactType('Label', z.object({ label: z.enum(['bug', 'question']) }));
 * const options: LlmEngineOptions<typeof Label, readonly Artifact[]> = {
 *   model: new MockLanguageModelV3(),
 *   output: Label,
 *   system: 'You label issues.',
 *   prompt: (inputs) => inputs.map((a) => JSON.stringify(a.payload)).join('\n'),
 *   budget: { tokens: 50_000 },
 * };
 * const engine = llmEngine(options);
 * ```
 */
export interface LlmEngineOptions<T extends AnyArtifactType, I = unknown> {
  /** The model to ask. */
  readonly model: LanguageModelLike;
  /** The artifact type the answer must be a payload of: its schema is the output contract. */
  readonly output: T;
  /** The engine's name in spans and events (default `'llm'`). */
  readonly name?: string;
  /** Instructions for the model; the output's JSON Schema is appended to them. */
  readonly system?: string | ((input: I, ctx: AgentContext) => Awaitable<string>);
  /** Writes the prompt from the engine's input (default {@link defaultPrompt}: each artifact's type, id and payload). */
  readonly prompt?: (input: I, ctx: AgentContext) => Awaitable<string>;
  /** Tools the model may call, by name. */
  readonly tools?: Readonly<Record<string, LlmTool<unknown>>>;
  /** Requests one ask may make in a tool loop (default 8 with tools, 1 without). */
  readonly maxSteps?: number;
  /** Rounds that feed a failed validation back to the model before the run fails with the `ValidationError` (default 2). */
  readonly validationRetries?: number;
  /** Token and request-rate limits (see {@link LlmBudget}). */
  readonly budget?: LlmBudget;
  /** A rate limiter to share with other engines (instead of `budget.requestsPerMinute`). */
  readonly rateLimiter?: RateLimiter;
  /**
   * Retrying rate-limit and transient provider errors (429, 5xx, a dropped connection): skein's
   * retry options (default 4 attempts, exponential backoff with full jitter; a `retry-after` header
   * longer than the backoff is waited out). `false` turns it off.
   */
  readonly retry?: RetryPolicyOptions | false;
  /**
   * The model's circuit breaker: default one per engine, opening after 5 consecutive transient
   * failures for 30 s. Pass one breaker to every engine on the same model to share it; `false` turns it off.
   */
  readonly breaker?: CircuitBreaker | false;
  /** Sampling temperature, passed to the model. */
  readonly temperature?: number;
  /** A cap on each request's output tokens. */
  readonly maxOutputTokens?: number;
  /** Provider-specific options, passed to the AI SDK as they are. */
  readonly providerOptions?: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  /** Turns on the AI SDK's own OpenTelemetry spans (children of the engine's span). */
  readonly telemetry?: boolean;
}

const OPTIONS = [
  'model',
  'output',
  'name',
  'system',
  'prompt',
  'tools',
  'maxSteps',
  'validationRetries',
  'budget',
  'rateLimiter',
  'retry',
  'breaker',
  'temperature',
  'maxOutputTokens',
  'providerOptions',
  'telemetry',
];

/**
 * True for an error worth another request to the same model: one the AI SDK marks retryable (a 408,
 * 409 or 429 answer, a 5xx, a network failure). The default `retryIf` of {@link llmEngine}'s retry and
 * what its default breaker counts as a failure.
 *
 * @example
 * ```ts
 * import { isTransientModelError } from 'skein/llm';
 * import { APICallError } from 'ai';
 * const limited = new APICallError({ message: 'rate limited', url: 'https://api.example', requestBodyValues: {}, statusCode: 429 });
 * console.log(isTransientModelError(limited), isTransientModelError(new TypeError('bad'))); // true false
 * ```
 */
export function isTransientModelError(error: unknown): boolean {
  if (isCancellation(error) || typeof error !== 'object' || error === null) return false;
  return (error as { isRetryable?: unknown }).isRetryable === true;
}

/** How long a provider asked to be left alone, from its `retry-after-ms` / `retry-after` headers, in ms. */
function retryAfterMs(error: unknown): number | undefined {
  const headers = (error as { responseHeaders?: Record<string, string> } | undefined)?.responseHeaders;
  if (headers === undefined) return undefined;
  const ms = Number(headers['retry-after-ms']);
  if (Number.isFinite(ms) && ms >= 0) return ms;
  const after = headers['retry-after'];
  if (after === undefined) return undefined;
  const seconds = Number(after);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(after);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A model may wrap its JSON in a Markdown fence; the fence is not part of the answer. */
function unfenced(text: string): string {
  const match = /^\s*```(?:json)?\s*\n([\s\S]*?)\n?```\s*$/.exec(text);
  return match === null ? text.trim() : match[1]!.trim();
}

function feedback(error: ValidationError): string {
  const issues = error.issues.map((issue) => `- ${issue.path}: ${issue.message}`).join('\n');
  return `Your answer is not a valid ${error.typeName}:\n${issues}\nAnswer again with the corrected JSON value only.`;
}

/**
 * The stream's parts until `signal` aborts, then a rejection with its reason at once: a provider
 * whose stream does not end when its request is aborted cannot keep a cancelled run waiting. Leaving
 * the loop cancels the stream.
 */
async function* untilAborted<T>(stream: AsyncIterable<T>, signal: AbortSignal): AsyncGenerator<T> {
  signal.throwIfAborted();
  const iterator = stream[Symbol.asyncIterator]();
  let stop: (reason: unknown) => void = () => {};
  const stopped = new Promise<never>((_resolve, reject) => (stop = reject));
  stopped.catch(() => {});
  const removeListener = onAbort(signal, () => stop(signal.reason));
  try {
    for (;;) {
      const next = await Promise.race([iterator.next(), stopped]);
      if (next.done === true) return;
      yield next.value;
    }
  } finally {
    removeListener();
    // Not awaited: a stream stuck on a read would keep the return pending too.
    void iterator.return?.()?.catch(() => {});
  }
}

let aiModule: Promise<Ai> | undefined;

function loadAi(): Promise<Ai> {
  aiModule ??= import('ai').catch((error: unknown) => {
    aiModule = undefined;
    throw new Error("skein/llm needs the AI SDK: install the 'ai' package (version 6)", { cause: error });
  });
  return aiModule;
}

interface Answer {
  readonly text: string;
  readonly messages: readonly unknown[];
}

/** One evaluation's state, passed down instead of five parameters. */
interface Ask {
  readonly ai: Ai;
  readonly ctx: AgentContext;
  readonly system: string;
  readonly messages: readonly unknown[];
  readonly round: number;
}

class LlmEngine<T extends AnyArtifactType, I> implements Engine<I, InputOf<T>> {
  readonly name: string;
  readonly #options: LlmEngineOptions<T, I>;
  readonly #jsonSchema: Record<string, unknown>;
  readonly #schemaText: string;
  readonly #validationRetries: number;
  readonly #maxSteps: number;
  readonly #limiter: RateLimiter | undefined;
  readonly #breaker: CircuitBreaker | undefined;
  readonly #retry: RetryPolicyOptions | undefined;
  /** Tokens spent, per agent: an engine given to several agents keeps their budgets apart. */
  readonly #spent = new Map<string, number>();

  constructor(options: LlmEngineOptions<T, I>) {
    this.#options = options;
    this.name = options.name ?? 'llm';
    const jsonSchema = describeSchema(options.output.schema);
    if (jsonSchema === undefined) {
      throw new TypeError(`llmEngine output type '${options.output.name}' has a schema that cannot describe itself as JSON Schema: use a validator that implements Standard JSON Schema (zod 4 does)`);
    }
    this.#jsonSchema = jsonSchema;
    this.#schemaText = JSON.stringify(jsonSchema);
    this.#validationRetries = options.validationRetries ?? 2;
    this.#maxSteps = options.maxSteps ?? (options.tools === undefined ? 1 : 8);
    const perMinute = options.budget?.requestsPerMinute;
    this.#limiter = options.rateLimiter ?? (perMinute === undefined ? undefined : new RateLimiter({ limit: perMinute, intervalMs: 60_000 }));
    this.#breaker =
      options.breaker === false ? undefined : (options.breaker ?? new CircuitBreaker({ policy: consecutive(5), openMs: 30_000, isFailure: isTransientModelError }));
    this.#retry = options.retry === false ? undefined : { maxAttempts: 4, retryIf: isTransientModelError, ...options.retry };
  }

  /** Tokens the agent named has spent through this engine. */
  spent(agent: string): number {
    return this.#spent.get(agent) ?? 0;
  }

  async evaluate(input: I, ctx: AgentContext): Promise<InputOf<T>> {
    const ai = await loadAi();
    const options = this.#options;
    const prompt = options.prompt === undefined ? defaultPrompt(input) : await options.prompt(input, ctx);
    if (typeof prompt !== 'string') throw new TypeError(`llmEngine prompt must return a string, got ${describe(prompt)}`);
    const instructions = typeof options.system === 'function' ? await options.system(input, ctx) : (options.system ?? '');
    if (typeof instructions !== 'string') throw new TypeError(`llmEngine system must be a string, got ${describe(instructions)}`);
    const system = `${instructions}${instructions === '' ? '' : '\n\n'}Answer with one JSON value, and nothing else, that matches this JSON Schema (a ${options.output.name}):\n${this.#schemaText}`;
    let messages: readonly unknown[] = [{ role: 'user', content: prompt }];
    let failure: ValidationError | undefined;
    for (let round = 0; round <= this.#validationRetries; round++) {
      const answer = await this.#ask({ ai, ctx, system, messages, round });
      const checked = await this.#check(answer.text);
      if (!(checked instanceof ValidationError)) return checked;
      failure = checked;
      ctx.reportProgress({ type: 'invalid', engine: this.name, round, issues: checked.issues } satisfies LlmProgress);
      messages = [...messages, ...answer.messages, { role: 'user', content: feedback(checked) }];
    }
    throw failure!;
  }

  /** The answer's JSON value when it is a valid payload of the output type, else the error that says why not. */
  async #check(text: string): Promise<InputOf<T> | ValidationError> {
    let value: unknown;
    try {
      value = JSON.parse(unfenced(text));
    } catch (error) {
      return new ValidationError(this.#options.output.name, [{ path: '(root)', message: `the answer is not JSON (${errorText(error)})` }]);
    }
    try {
      await validatePayload(this.#options.output, value);
    } catch (error) {
      if (error instanceof ValidationError) return error;
      throw error;
    }
    // The answer as the model wrote it (the schema's input): publishing validates it again and applies any transforms once.
    return value as InputOf<T>;
  }

  /** One ask under the budget, the rate limit, the breaker and the retry policy. */
  #ask(ask: Ask): Promise<Answer> {
    const attempt = (signal: AbortSignal): Promise<Answer> => this.#guarded(ask, signal);
    const options = this.#retry;
    if (options === undefined) return attempt(ask.ctx.signal);
    return retry(attempt, {
      ...options,
      signal: ask.ctx.signal,
      onRetry: async (info: RetryInfo) => {
        ask.ctx.reportProgress({ type: 'retrying', engine: this.name, attempt: info.attempt, delayMs: info.delayMs, error: errorText(info.error) } satisfies LlmProgress);
        await options.onRetry?.(info);
        const asked = retryAfterMs(info.error);
        if (asked !== undefined && asked > info.delayMs) await sleep(asked - info.delayMs, { signal: ask.ctx.signal });
      },
    });
  }

  async #guarded(ask: Ask, signal: AbortSignal): Promise<Answer> {
    this.#checkBudget(ask.ctx.agent);
    const limiter = this.#limiter;
    if (limiter !== undefined && !limiter.tryAcquire()) {
      ask.ctx.reportProgress({ type: 'waiting', engine: this.name, reason: 'the request rate limit is reached' } satisfies LlmProgress);
      await limiter.acquire({ signal });
    }
    const breaker = this.#breaker;
    return breaker === undefined ? this.#stream(ask, signal) : breaker.execute((s) => this.#stream(ask, s), { signal });
  }

  #checkBudget(agent: string): void {
    const limit = this.#options.budget?.tokens;
    const spent = this.spent(agent);
    if (limit !== undefined && spent >= limit) throw new BudgetExceededError(agent, limit, spent);
  }

  #spend(ctx: AgentContext, usage: { inputTokens?: number | undefined; outputTokens?: number | undefined; totalTokens?: number | undefined }): void {
    const input = usage.inputTokens ?? 0;
    const output = usage.outputTokens ?? 0;
    const total = usage.totalTokens ?? input + output;
    this.#spent.set(ctx.agent, this.spent(ctx.agent) + total);
    ctx.reportUsage({ inputTokens: input, outputTokens: output, totalTokens: total, requests: 1 });
  }

  #tools(ai: Ai, ctx: AgentContext): Record<string, ReturnType<Ai['tool']>> | undefined {
    const tools = this.#options.tools;
    if (tools === undefined) return undefined;
    const made: Record<string, ReturnType<Ai['tool']>> = {};
    for (const [name, definition] of Object.entries(tools)) {
      const standard = definition.input['~standard'];
      made[name] = ai.tool({
        description: definition.description,
        inputSchema: ai.jsonSchema(describeSchema(definition.input) as never, {
          validate: async (value) => {
            const result = await standard.validate(value);
            if (result.issues === undefined) return { success: true, value: result.value };
            return { success: false, error: new Error(result.issues.map((issue) => issue.message).join('; ')) };
          },
        }),
        execute: (toolInput: unknown, { abortSignal }: { abortSignal?: AbortSignal }) => definition.execute(toolInput as never, { signal: abortSignal ?? ctx.signal, ctx }),
      } as never);
    }
    return made;
  }

  /** One streamed request (several in a tool loop): progress and usage reported as they come. */
  async #stream({ ai, ctx, system, messages, round }: Ask, signal: AbortSignal): Promise<Answer> {
    const options = this.#options;
    const limit = options.budget?.tokens;
    const overBudget = (): boolean => limit !== undefined && this.spent(ctx.agent) >= limit;
    const result = ai.streamText({
      model: options.model as never,
      system,
      messages: messages as never,
      tools: this.#tools(ai, ctx),
      stopWhen: [ai.stepCountIs(this.#maxSteps), overBudget],
      output: ai.Output.object({ schema: ai.jsonSchema(this.#jsonSchema as never), name: options.output.name }),
      maxRetries: 0,
      abortSignal: signal,
      // Errors arrive as 'error' parts below and fail the ask; the SDK's default would also log them.
      onError: () => {},
      temperature: options.temperature,
      maxOutputTokens: options.maxOutputTokens,
      providerOptions: options.providerOptions as never,
      experimental_telemetry: options.telemetry === true ? { isEnabled: true, functionId: `${ctx.agent}/${this.name}` } : undefined,
    });
    let text = '';
    for await (const part of untilAborted(result.fullStream, signal)) {
      switch (part.type) {
        case 'start-step':
          text = '';
          break;
        case 'text-delta': {
          text += part.text;
          const partial = (await ai.parsePartialJson(unfenced(text))).value;
          ctx.reportProgress({ type: 'text', engine: this.name, round, delta: part.text, partial } satisfies LlmProgress);
          break;
        }
        case 'tool-call':
          ctx.reportProgress({ type: 'tool-call', engine: this.name, tool: part.toolName, input: part.input } satisfies LlmProgress);
          break;
        case 'tool-result':
          ctx.reportProgress({ type: 'tool-result', engine: this.name, tool: part.toolName, output: part.output } satisfies LlmProgress);
          break;
        case 'tool-error':
          ctx.reportProgress({ type: 'tool-error', engine: this.name, tool: part.toolName, error: errorText(part.error) } satisfies LlmProgress);
          break;
        case 'finish-step':
          this.#spend(ctx, part.usage);
          break;
        case 'error':
          throw part.error;
        case 'abort':
          throw signal.reason;
        default:
          break;
      }
    }
    if (signal.aborted) throw signal.reason;
    const response = await result.response;
    return { text, messages: response.messages };
  }
}

/**
 * An engine that asks a language model for a payload of `output`'s type: the prompt is written from
 * the engine's input (the agent's artifacts, or an earlier engine's output), the answer must match the
 * type's schema (given to the model as JSON Schema, checked with the schema itself), and an answer
 * that fails is fed back with the failing paths, `validationRetries` times, before the run fails with
 * the `ValidationError`. Streamed text and partial objects are `progress` board events; token usage is
 * reported per request (`usage` events, `board.stats()`, the run's span). The engine returns the
 * answer; an agent with no body publishes it as its `output` type.
 *
 * @example
 * ```ts
 * import { Board, artifactType } from 'skein/board';
 * import { llmEngine } from 'skein/llm';
 * import { MockLanguageModelV3 } from 'ai/test';
 * import { z } from 'zod';
 * const Issue = artifactType('Issue', z.object({ title: z.string() }));
 * const Triage = artifactType('Triage', z.object({ label: z.enum(['bug', 'feature', 'question']) }));
 * const model = new MockLanguageModelV3({
 *   doGenerate: async () => ({ content: [{ type: 'text', text: '{"label":"bug"}' }], finishReason: { unified: 'stop', raw: 'stop' }, usage: { inputTokens: { total: 30, noCache: 30, cacheRead: 0, cacheWrite: 0 }, outputTokens: { total: 6, text: 6, reasoning: 0 } }, warnings: [] }),
 *   doStream: async () => ({
 *     stream: new ReadableStream({
 *       start(controller) {
 *         controller.enqueue({ type: 'text-start', id: 't' });
 *         controller.enqueue({ type: 'text-delta', id: 't', delta: '{"label":"bug"}' });
 *         controller.enqueue({ type: 'text-end', id: 't' });
 *         controller.enqueue({ type: 'finish', finishReason: { unified: 'stop', raw: 'stop' }, usage: { inputTokens: { total: 30, noCache: 30, cacheRead: 0, cacheWrite: 0 }, outputTokens: { total: 6, text: 6, reasoning: 0 } } });
 *         controller.close();
 *       },
 *     }),
 *   }),
 * });
 * await using board = new Board();
 * board.agent('triage').consumes(Issue).publishes(Triage).engine(llmEngine({ model, output: Triage, system: 'Label the issue.' })).handle();
 * await board.publish(Issue, { title: 'Crash on start' });
 * await board.runUntilIdle();
 * console.log((await board.list({ type: Triage }))[0]?.payload); // { label: 'bug' }
 * ```
 */
export function llmEngine<T extends AnyArtifactType, I = unknown>(options: LlmEngineOptions<T, I>): Engine<I, InputOf<T>> & { readonly name: string; spent(agent: string): number } {
  assertOptions(options, 'llmEngine options');
  if (options === undefined) throw new TypeError('llmEngine needs options: { model, output }');
  assertKnownOptions(options, OPTIONS, 'llmEngine');
  const model = options.model as unknown;
  if (typeof model !== 'string' && (typeof model !== 'object' || model === null || typeof (model as { modelId?: unknown }).modelId !== 'string')) {
    throw new TypeError(`llmEngine model must be an AI SDK language model or a model id, got ${describe(model)}`);
  }
  assertArtifactType(options.output, 'llmEngine output');
  if (options.name !== undefined && (typeof options.name !== 'string' || options.name === '')) throw new TypeError(`llmEngine name must be a non-empty string, got ${describe(options.name)}`);
  if (options.system !== undefined && typeof options.system !== 'string') assertFunction(options.system, 'llmEngine system');
  if (options.prompt !== undefined) assertFunction(options.prompt, 'llmEngine prompt');
  if (options.tools !== undefined) {
    assertOptions(options.tools, 'llmEngine tools');
    for (const [name, tool] of Object.entries(options.tools)) {
      if (typeof tool !== 'object' || tool === null || !isStandardSchema((tool).input) || typeof (tool).execute !== 'function') {
        throw new TypeError(`llmEngine tool '${name}' must be made with llmTool({ description, input, execute }), got ${describe(tool)}`);
      }
    }
  }
  if (options.maxSteps !== undefined) assertInteger(options.maxSteps, 'llmEngine maxSteps', { min: 1 });
  if (options.validationRetries !== undefined) assertInteger(options.validationRetries, 'llmEngine validationRetries', { min: 0 });
  if (options.budget !== undefined) {
    assertOptions(options.budget, 'llmEngine budget');
    assertKnownOptions(options.budget, ['tokens', 'requestsPerMinute'], 'llmEngine budget');
    if (options.budget.tokens !== undefined) assertInteger(options.budget.tokens, 'budget tokens', { min: 1 });
    if (options.budget.requestsPerMinute !== undefined) assertInteger(options.budget.requestsPerMinute, 'budget requestsPerMinute', { min: 1 });
  }
  if (options.rateLimiter !== undefined && !(options.rateLimiter instanceof RateLimiter)) throw new TypeError(`llmEngine rateLimiter must be a RateLimiter, got ${describe(options.rateLimiter)}`);
  if (options.breaker !== undefined && options.breaker !== false && !(options.breaker instanceof CircuitBreaker)) {
    throw new TypeError(`llmEngine breaker must be a CircuitBreaker or false, got ${describe(options.breaker)}`);
  }
  // Checked as a reusable policy's options: every ask of every run starts a retry with them.
  if (options.retry !== undefined && options.retry !== false) assertRetryOptions(options.retry, true);
  if (options.temperature !== undefined && (typeof options.temperature !== 'number' || !Number.isFinite(options.temperature))) {
    throw new TypeError(`llmEngine temperature must be a finite number, got ${describe(options.temperature)}`);
  }
  if (options.maxOutputTokens !== undefined) assertInteger(options.maxOutputTokens, 'llmEngine maxOutputTokens', { min: 1 });
  if (options.providerOptions !== undefined) assertOptions(options.providerOptions, 'llmEngine providerOptions');
  if (options.telemetry !== undefined && typeof options.telemetry !== 'boolean') throw new TypeError(`llmEngine telemetry must be a boolean, got ${describe(options.telemetry)}`);
  return new LlmEngine(options);
}

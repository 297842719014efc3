import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { APICallError } from 'ai';
import { AgentFailed, Board, artifactType, type AgentFailedPayload, type Artifact, type BoardEvent } from 'skein/board';
import { BrokenCircuitError, CircuitBreaker, RateLimiter, constant, consecutive } from 'skein';
import { BudgetExceededError, llmEngine, llmTool, type LlmProgress } from 'skein/llm';
import { promptText, scriptedModel, USAGE } from './fixtures/scripted-model.js';

const Issue = artifactType('Issue', z.object({ title: z.string(), body: z.string() }));
const Triage = artifactType('Triage', z.object({ label: z.enum(['bug', 'feature', 'question']), priority: z.number().int().min(1).max(3) }));

const BUG = '{"label":"bug","priority":1}';

/** Every event the board emits, collected until the board shuts down. */
function record(board: Board): BoardEvent[] {
  const events: BoardEvent[] = [];
  board.events({ onEvent: (event) => events.push(event) });
  return events;
}

function progress(events: readonly BoardEvent[], type?: LlmProgress['type']): LlmProgress[] {
  return events.flatMap((e) => (e.kind === 'progress' && (type === undefined || (e.detail as LlmProgress).type === type) ? [e.detail as LlmProgress] : []));
}

/** Resolves with the first event `predicate` accepts. */
function nextEvent(board: Board, predicate: (event: BoardEvent) => boolean): Promise<BoardEvent> {
  return new Promise((resolve) => {
    const controller = new AbortController();
    board.events({
      signal: controller.signal,
      onEvent: (event) => {
        if (!predicate(event)) return;
        controller.abort();
        resolve(event);
      },
    });
  });
}

async function failures(board: Board): Promise<AgentFailedPayload[]> {
  return (await board.listArtifacts({ type: AgentFailed as never })).map((a: Artifact) => a.payload as AgentFailedPayload);
}

async function payloads<T>(board: Board, type: { name: string }): Promise<unknown[]> {
  return (await board.listArtifacts({ type: type as never })).map((a: Artifact) => a.payload as T);
}

describe('llmEngine', () => {
  it('publishes the model answer as a typed artifact of its output type', async () => {
    const model = scriptedModel([{ text: BUG }]);
    await using board = new Board();
    board.agent('triage').consumes(Issue).publishes(Triage).engine(llmEngine({ model, output: Triage, system: 'Label the issue.' })).handle();
    await board.publish(Issue, { title: 'Crash on start', body: 'It crashes.' });
    await board.runUntilIdle();
    expect(await payloads(board, Triage)).toEqual([{ label: 'bug', priority: 1 }]);
    const shown = promptText(model.doStreamCalls[0]!);
    expect(shown).toContain('Label the issue.');
    expect(shown).toContain('Crash on start');
    expect(shown).toContain('"enum":["bug","feature","question"]');
    expect(model.doStreamCalls[0]!.responseFormat).toMatchObject({ type: 'json', name: 'Triage' });
  });

  it('reports token usage per run: usage events, per agent and board in stats(), and on the run span', async () => {
    const spans: { name: string; attributes: Record<string, unknown> }[] = [];
    const tracer = {
      startSpan(name: string, options?: { attributes?: Record<string, unknown> }) {
        const span = { name, attributes: { ...options?.attributes } };
        spans.push(span);
        return {
          isRecording: () => true,
          setAttributes: (attributes: Record<string, unknown>) => Object.assign(span.attributes, attributes),
          spanContext: () => ({ traceId: '0'.repeat(32), spanId: '0'.repeat(16), traceFlags: 1 }),
          recordException: () => {},
          setStatus: () => {},
          end: () => {},
        };
      },
    };
    const model = scriptedModel([{ text: BUG }]);
    await using board = new Board({ tracer: tracer });
    const events = record(board);
    board.agent('triage').consumes(Issue).publishes(Triage).engine(llmEngine({ model, output: Triage })).handle();
    const issue = await board.publish(Issue, { title: 'Crash', body: '' });
    await board.runUntilIdle();
    const used = { inputTokens: USAGE.input, outputTokens: USAGE.output, totalTokens: USAGE.input + USAGE.output, requests: 1 };
    expect(board.stats().agents.triage?.usage).toEqual(used);
    expect(board.stats().usage).toEqual(used);
    expect(events.filter((e) => e.kind === 'usage')).toEqual([expect.objectContaining({ agent: 'triage', correlationId: issue.correlationId, usage: used })]);
    expect(spans.find((s) => s.name === 'run triage')?.attributes).toMatchObject({ 'skein.usage.totalTokens': 36, 'skein.usage.requests': 1 });
  });

  it('sums an llmEngine run\'s usage per workflow: board.workflow(id).usage() and the start handle\'s usage()', async () => {
    const model = scriptedModel([{ text: BUG }, { text: BUG }, { text: BUG }]);
    await using board = new Board();
    board.agent('triage').consumes(Issue).publishes(Triage).engine(llmEngine({ model, output: Triage })).handle();
    const first = await board.start(Issue, { title: 'Crash', body: '' }, { requires: [Triage] });
    await board.publish(Issue, { title: 'Slow', body: '' }, { correlationId: first.id });
    const second = await board.start(Issue, { title: 'Typo', body: '' }, { requires: [Triage] });
    await first.workflow.done(); // both of its runs (result() resolves at its first Triage)
    await second.result();
    const once = { inputTokens: USAGE.input, outputTokens: USAGE.output, totalTokens: USAGE.input + USAGE.output, requests: 1 };
    expect(first.usage()).toEqual({ inputTokens: 2 * once.inputTokens, outputTokens: 2 * once.outputTokens, totalTokens: 2 * once.totalTokens, requests: 2 });
    expect(board.workflow(second.id).usage()).toEqual(once);
    expect(board.stats().usage).toEqual({ inputTokens: 3 * once.inputTokens, outputTokens: 3 * once.outputTokens, totalTokens: 3 * once.totalTokens, requests: 3 });
  });

  it('feeds an answer that fails validation back to the model, with the failing paths, and publishes the corrected one', async () => {
    const wrong = '{"label":"urgent","priority":1}';
    const model = scriptedModel([{ text: wrong }, { text: BUG }]);
    await using board = new Board();
    const events = record(board);
    board.agent('triage').consumes(Issue).publishes(Triage).engine(llmEngine({ model, output: Triage })).handle();
    await board.publish(Issue, { title: 'Crash', body: '' });
    await board.runUntilIdle();
    expect(await payloads(board, Triage)).toEqual([{ label: 'bug', priority: 1 }]);
    expect(model.doStreamCalls).toHaveLength(2);
    const second = promptText(model.doStreamCalls[1]!);
    expect(second).toContain(wrong);
    expect(second).toContain('Your answer is not a valid Triage');
    expect(second).toMatch(/- label: /);
    expect(progress(events, 'invalid')).toEqual([{ type: 'invalid', engine: 'llm', round: 0, issues: [{ path: 'label', message: expect.any(String) }] }]);
  });

  it('fails the run like any other error once the validation retries are spent: an AgentFailed fact and a dead letter', async () => {
    const model = scriptedModel([{ text: 'I think it is a bug.' }]);
    await using board = new Board();
    board.agent('triage').consumes(Issue).publishes(Triage).engine(llmEngine({ model, output: Triage, validationRetries: 1 })).handle();
    await board.publish(Issue, { title: 'Crash', body: '' });
    await board.runUntilIdle();
    expect(model.doStreamCalls).toHaveLength(2);
    const [failed] = await failures(board);
    expect(failed?.error).toMatchObject({ name: 'ValidationError', message: expect.stringContaining('the answer is not JSON') });
    expect(await board.deadLetters({ agent: 'triage' })).toHaveLength(1);
    expect(await payloads(board, Triage)).toEqual([]);
  });

  it('accepts an answer wrapped in a Markdown code fence', async () => {
    const model = scriptedModel([{ text: '```json\n' + BUG + '\n```' }]);
    await using board = new Board();
    board.agent('triage').consumes(Issue).publishes(Triage).engine(llmEngine({ model, output: Triage })).handle();
    await board.publish(Issue, { title: 'Crash', body: '' });
    await board.runUntilIdle();
    expect(await payloads(board, Triage)).toEqual([{ label: 'bug', priority: 1 }]);
  });

  it('streams text and the partial object as progress events before the answer is complete', async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const model = scriptedModel([{ first: '{"label":"bug",', release: released, rest: '"priority":2}' }]);
    await using board = new Board();
    board.agent('triage').consumes(Issue).publishes(Triage).engine(llmEngine({ model, output: Triage, name: 'labeller' })).handle();
    const first = nextEvent(board, (e) => e.kind === 'progress');
    await board.publish(Issue, { title: 'Crash', body: '' });
    const event = await first;
    expect(event).toMatchObject({ kind: 'progress', agent: 'triage', detail: { type: 'text', engine: 'labeller', round: 0, delta: '{"label":"bug",', partial: { label: 'bug' } } });
    expect(board.stats().agents.triage).toMatchObject({ running: 1, done: 0 });
    release();
    await board.runUntilIdle();
    expect(await payloads(board, Triage)).toEqual([{ label: 'bug', priority: 2 }]);
  });

  it('stops the request when the workflow is cancelled mid-stream: the run ends cancelled, nothing is published', async () => {
    const model = scriptedModel([{ first: '{"label":', release: new Promise<void>(() => {}), rest: '' }]);
    await using board = new Board();
    board.agent('triage').consumes(Issue).publishes(Triage).engine(llmEngine({ model, output: Triage })).handle();
    const first = nextEvent(board, (e) => e.kind === 'progress');
    const issue = await board.publish(Issue, { title: 'Crash', body: '' });
    await first;
    await board.workflow(issue.correlationId).cancel(new Error('user gave up'));
    await board.runUntilIdle();
    expect(model.doStreamCalls[0]!.abortSignal?.aborted).toBe(true);
    expect(board.stats().agents.triage).toMatchObject({ cancelled: 1, done: 0, failed: 0 });
    expect(await payloads(board, Triage)).toEqual([]);
  });

  it('refuses requests once the agent has spent its token budget, failing with a BudgetExceededError', async () => {
    const model = scriptedModel([{ text: BUG }]);
    await using board = new Board();
    const engine = llmEngine({ model, output: Triage, budget: { tokens: 50 } });
    board.agent('triage').consumes(Issue).publishes(Triage).engine(engine).handle();
    for (let i = 0; i < 3; i++) {
      await board.publish(Issue, { title: `Crash ${i}`, body: '' });
      await board.runUntilIdle();
    }
    expect(model.doStreamCalls).toHaveLength(2);
    expect(engine.spent('triage')).toBe(72);
    expect((await failures(board)).map((f) => f.error)).toEqual([expect.objectContaining({ name: 'BudgetExceededError', message: new BudgetExceededError('triage', 50, 72).message })]);
    expect(board.stats().agents.triage?.usage).toMatchObject({ totalTokens: 72, requests: 2 });
  });

  it('waits for the rate limiter when the request rate is reached, says so, and stops waiting when cancelled', async () => {
    const limiter = new RateLimiter({ limit: 1, intervalMs: 3_600_000 });
    expect(limiter.tryAcquire()).toBe(true);
    const model = scriptedModel([{ text: BUG }]);
    await using board = new Board();
    board.agent('triage').consumes(Issue).publishes(Triage).engine(llmEngine({ model, output: Triage, rateLimiter: limiter })).handle();
    const waiting = nextEvent(board, (e) => e.kind === 'progress' && (e.detail as LlmProgress).type === 'waiting');
    const issue = await board.publish(Issue, { title: 'Crash', body: '' });
    expect(await waiting).toMatchObject({ detail: { type: 'waiting', reason: 'the request rate limit is reached' } });
    expect(limiter.waiting).toBe(1);
    await board.workflow(issue.correlationId).cancel();
    await board.runUntilIdle();
    expect(limiter.waiting).toBe(0);
    expect(model.doStreamCalls).toHaveLength(0);
    expect(board.stats().agents.triage).toMatchObject({ cancelled: 1 });
  });

  it('makes a rate limiter of budget.requestsPerMinute', async () => {
    const model = scriptedModel([{ text: BUG }]);
    await using board = new Board();
    board.agent('triage').consumes(Issue).publishes(Triage).engine(llmEngine({ model, output: Triage, budget: { requestsPerMinute: 1 } })).handle();
    const waiting = nextEvent(board, (e) => e.kind === 'progress' && (e.detail as LlmProgress).type === 'waiting');
    await board.publish(Issue, { title: 'First', body: '' });
    await board.runUntilIdle();
    const second = await board.publish(Issue, { title: 'Second', body: '' });
    await waiting;
    await board.workflow(second.correlationId).cancel();
    await board.runUntilIdle();
    expect(model.doStreamCalls).toHaveLength(1);
  });

  it('retries rate-limit and transient provider errors with backoff, and reports each retry', async () => {
    const error = (statusCode: number) => new APICallError({ message: `status ${statusCode}`, url: 'https://api.example/v1', requestBodyValues: {}, statusCode, responseHeaders: { 'retry-after-ms': '1' } });
    const model = scriptedModel([{ error: error(429) }, { error: error(503) }, { text: BUG }]);
    await using board = new Board();
    const events = record(board);
    board.agent('triage').consumes(Issue).publishes(Triage).engine(llmEngine({ model, output: Triage, retry: { backoff: constant(1) } })).handle();
    await board.publish(Issue, { title: 'Crash', body: '' });
    await board.runUntilIdle();
    expect(await payloads(board, Triage)).toEqual([{ label: 'bug', priority: 1 }]);
    expect(model.doStreamCalls).toHaveLength(3);
    expect(progress(events, 'retrying')).toEqual([
      { type: 'retrying', engine: 'llm', attempt: 1, delayMs: 1, error: 'status 429' },
      { type: 'retrying', engine: 'llm', attempt: 2, delayMs: 1, error: 'status 503' },
    ]);
  });

  it('does not retry an error the provider marks permanent', async () => {
    const model = scriptedModel([{ error: new APICallError({ message: 'bad request', url: 'https://api.example/v1', requestBodyValues: {}, statusCode: 400 }) }]);
    await using board = new Board();
    board.agent('triage').consumes(Issue).publishes(Triage).engine(llmEngine({ model, output: Triage, retry: { backoff: constant(1) } })).handle();
    await board.publish(Issue, { title: 'Crash', body: '' });
    await board.runUntilIdle();
    expect(model.doStreamCalls).toHaveLength(1);
    const [failed] = await failures(board);
    expect(failed?.error).toMatchObject({ name: 'AI_APICallError', message: 'bad request' });
  });

  it('opens the model circuit breaker after repeated transient failures, refusing further requests', async () => {
    const model = scriptedModel([{ error: new APICallError({ message: 'overloaded', url: 'https://api.example/v1', requestBodyValues: {}, statusCode: 503 }) }]);
    const breaker = new CircuitBreaker({ policy: consecutive(2), openMs: 3_600_000 });
    await using board = new Board();
    board.agent('triage').consumes(Issue).publishes(Triage).engine(llmEngine({ model, output: Triage, retry: false, breaker })).handle();
    for (let i = 0; i < 3; i++) {
      await board.publish(Issue, { title: `Crash ${i}`, body: '' });
      await board.runUntilIdle();
    }
    expect(model.doStreamCalls).toHaveLength(2);
    expect(breaker.state).toBe('open');
    expect((await failures(board)).map((f) => f.error.name)).toEqual(['AI_APICallError', 'AI_APICallError', new BrokenCircuitError().name]);
  });

  it('runs the tools the model calls and gives it their results', async () => {
    const seen: unknown[] = [];
    const similar = llmTool({
      description: 'Finds open issues whose title mentions a word',
      input: z.object({ word: z.string() }),
      execute: ({ word }, { signal, ctx }) => {
        seen.push({ word, agent: ctx.agent, aborted: signal.aborted });
        return ['#7 crash on start'];
      },
    });
    const model = scriptedModel([{ toolCalls: [{ name: 'similar', input: { word: 'crash' } }] }, { text: BUG }]);
    await using board = new Board();
    const events = record(board);
    board.agent('triage').consumes(Issue).publishes(Triage).engine(llmEngine({ model, output: Triage, tools: { similar } })).handle();
    await board.publish(Issue, { title: 'Crash', body: '' });
    await board.runUntilIdle();
    expect(seen).toEqual([{ word: 'crash', agent: 'triage', aborted: false }]);
    expect(model.doStreamCalls[0]!.tools).toEqual([expect.objectContaining({ type: 'function', name: 'similar', description: 'Finds open issues whose title mentions a word' })]);
    expect(promptText(model.doStreamCalls[1]!)).toContain('#7 crash on start');
    expect(progress(events).filter((p) => p.type.startsWith('tool'))).toEqual([
      { type: 'tool-call', engine: 'llm', tool: 'similar', input: { word: 'crash' } },
      { type: 'tool-result', engine: 'llm', tool: 'similar', output: ['#7 crash on start'] },
    ]);
    expect(await payloads(board, Triage)).toEqual([{ label: 'bug', priority: 1 }]);
    expect(board.stats().agents.triage?.usage.requests).toBe(2);
  });

  it('runs the tool loop within the run deadline: a tool still working when it passes is aborted', async () => {
    let toolSignal: AbortSignal | undefined;
    const wait = llmTool({
      description: 'Waits for an answer that never comes',
      input: z.object({}),
      execute: (_input, { signal }) =>
        new Promise((_resolve, reject) => {
          toolSignal = signal;
          signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true });
        }),
    });
    const model = scriptedModel([{ toolCalls: [{ name: 'wait', input: {} }] }, { text: BUG }]);
    await using board = new Board();
    board.agent('triage').consumes(Issue).publishes(Triage).timeout(100).engine(llmEngine({ model, output: Triage, tools: { wait } })).handle();
    await board.publish(Issue, { title: 'Crash', body: '' });
    await board.runUntilIdle();
    expect(toolSignal?.aborted).toBe(true);
    const [failed] = await failures(board);
    expect(failed?.error.name).toBe('TimeoutError');
    expect(model.doStreamCalls).toHaveLength(1);
  });

  it('works inside bestOf: n answers in parallel, the best kept, all of them counted', async () => {
    const model = scriptedModel((_call, index) => ({ text: JSON.stringify({ label: 'bug', priority: [1, 3, 2][index] }) }));
    await using board = new Board();
    board
      .agent('triage')
      .consumes(Issue)
      .publishes(Triage)
      .bestOf(3, (drafts) => (drafts[0]?.payload as { priority: number }).priority)
      .engine(llmEngine({ model, output: Triage }))
      .handle();
    await board.publish(Issue, { title: 'Crash', body: '' });
    await board.runUntilIdle();
    expect(await payloads(board, Triage)).toEqual([{ label: 'bug', priority: 3 }]);
    expect(board.stats().agents.triage?.usage).toMatchObject({ requests: 3, totalTokens: 108 });
  });

  it('works in an engine chain: the previous engine output is the prompt input, its answer feeds the next', async () => {
    const model = scriptedModel([{ text: BUG }]);
    await using board = new Board();
    board
      .agent('triage')
      .consumes(Issue)
      .publishes(Triage)
      .engine(([issue]) => `Title only: ${issue.payload.title}`)
      .engine(llmEngine({ model, output: Triage }))
      .engine((triage) => ({ ...triage, priority: 3 }))
      .handle();
    await board.publish(Issue, { title: 'Crash', body: 'long body' });
    await board.runUntilIdle();
    const shown = promptText(model.doStreamCalls[0]!);
    expect(shown).toContain('Title only: Crash');
    expect(shown).not.toContain('long body');
    expect(await payloads(board, Triage)).toEqual([{ label: 'bug', priority: 3 }]);
  });

  it('writes the prompt with a custom function', async () => {
    const model = scriptedModel([{ text: BUG }]);
    await using board = new Board();
    const engine = llmEngine({ model, output: Triage, prompt: (inputs: readonly Artifact[], ctx) => `Issue for ${ctx.agent}: ${JSON.stringify(inputs[0]?.payload)}` });
    board.agent('triage').consumes(Issue).publishes(Triage).engine(engine).handle();
    await board.publish(Issue, { title: 'Crash', body: '' });
    await board.runUntilIdle();
    expect(promptText(model.doStreamCalls[0]!)).toContain('Issue for triage: {"title":"Crash","body":""}');
  });

  it('rejects bad options with a TypeError that says what is allowed', () => {
    const model = scriptedModel([{ text: BUG }]);
    expect(() => llmEngine({ model, output: Triage, temprature: 0 } as never)).toThrow(/llmEngine has no option "temprature"; its options are model, output/);
    expect(() => llmEngine({ model: 42, output: Triage } as never)).toThrow(TypeError);
    expect(() => llmEngine({ model, output: z.object({}) } as never)).toThrow(/artifact type made with artifactType/);
    const opaque = artifactType('Opaque', { '~standard': { version: 1, vendor: 'mine', validate: (value: unknown) => ({ value }) } });
    expect(() => llmEngine({ model, output: opaque })).toThrow(/cannot describe itself as JSON Schema/);
    expect(() => llmEngine({ model, output: Triage, budget: { tokens: 0 } })).toThrow(RangeError);
    expect(() => llmEngine({ model, output: Triage, tools: { bad: {} as never } })).toThrow(/must be made with llmTool/);
    expect(() => llmEngine({ model, output: Triage, breaker: {} as never })).toThrow(/breaker must be a CircuitBreaker/);
    expect(() => llmEngine({ model, output: Triage, retry: { attempts: 3 } as never })).toThrow(/has no option "attempts"/);
    expect(() => llmEngine({ model, output: Triage, maxOutputTokens: 0 })).toThrow(RangeError);
    expect(() => llmEngine({ model, output: Triage, temperature: '0' as never })).toThrow(/temperature must be a finite number/);
  });
});

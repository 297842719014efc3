/**
 * Spans through @opentelemetry/api only: the test brings a minimal in-memory tracer and an
 * AsyncLocalStorage context manager written against the API's interfaces (no SDK).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  ROOT_CONTEXT,
  context,
  trace,
  type Context,
  type ContextManager,
  type Link,
  type Span,
  type SpanContext,
  type SpanOptions,
  type Tracer,
} from '@opentelemetry/api';
import { Board, artifactType } from 'skein/board';

class AlsContextManager implements ContextManager {
  readonly #storage = new AsyncLocalStorage<Context>();
  active(): Context {
    return this.#storage.getStore() ?? ROOT_CONTEXT;
  }
  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(ctx: Context, fn: F, thisArg?: ThisParameterType<F>, ...args: A): ReturnType<F> {
    return this.#storage.run(ctx, () => fn.call(thisArg, ...args));
  }
  bind<T>(_ctx: Context, target: T): T {
    return target;
  }
  enable(): this {
    return this;
  }
  disable(): this {
    this.#storage.disable();
    return this;
  }
}

interface Recorded {
  name: string;
  spanContext: SpanContext;
  parentSpanId: string | undefined;
  links: Link[];
  attributes: Record<string, unknown>;
  status: number;
  ended: boolean;
}

class MemoryTracer implements Tracer {
  readonly spans: Recorded[] = [];
  #next = 1;

  startSpan(name: string, options?: SpanOptions, ctx: Context = context.active()): Span {
    const parent = trace.getSpan(ctx)?.spanContext();
    const spanContext: SpanContext = {
      traceId: parent?.traceId ?? String(this.#next).padStart(32, '0'),
      spanId: String(this.#next++).padStart(16, '0'),
      traceFlags: 1,
    };
    const record: Recorded = {
      name,
      spanContext,
      parentSpanId: parent?.spanId,
      links: [...(options?.links ?? [])],
      attributes: { ...options?.attributes },
      status: 0,
      ended: false,
    };
    this.spans.push(record);
    const span: Span = {
      spanContext: () => spanContext,
      setAttribute: (key, value) => ((record.attributes[key] = value), span),
      setAttributes: (attributes) => (Object.assign(record.attributes, attributes), span),
      addEvent: () => span,
      addLink: (link) => (record.links.push(link), span),
      addLinks: (links) => (record.links.push(...links), span),
      setStatus: (status) => ((record.status = status.code), span),
      updateName: (newName) => ((record.name = newName), span),
      end: () => void (record.ended = true),
      isRecording: () => true,
      recordException: () => {},
    };
    return span;
  }

  startActiveSpan(): never {
    throw new Error('not used by the board');
  }
}

const Doc = artifactType('Doc', z.object({ text: z.string() }));
const Words = artifactType('Words', z.object({ count: z.number() }));

describe('tracing', () => {
  let manager: AlsContextManager;
  beforeEach(() => {
    manager = new AlsContextManager();
    context.setGlobalContextManager(manager);
  });
  afterEach(() => {
    context.disable();
  });

  it('opens a span per publish and per run; a run is a child of the publish that scheduled it and links to its inputs', async () => {
    const tracer = new MemoryTracer();
    await using board = new Board({ tracer });
    board
      .agent('counter')
      .consumes(Doc)
      .publishes(Words)
      .handle(([doc]) => {
        // The run's span is the active one inside the body: context travels, no shared field.
        expect(trace.getActiveSpan()?.spanContext().spanId).toBe(tracer.spans.find((s) => s.name === 'run counter')?.spanContext.spanId);
        return { count: doc.payload.text.split(' ').length };
      });
    const doc = await board.publish(Doc, { text: 'a b c' });
    await board.runUntilIdle();
    const publishDoc = tracer.spans.find((s) => s.name === 'publish Doc')!;
    const run = tracer.spans.find((s) => s.name === 'run counter')!;
    const publishWords = tracer.spans.find((s) => s.name === 'publish Words')!;
    expect(doc.trace).toEqual({ traceId: publishDoc.spanContext.traceId, spanId: publishDoc.spanContext.spanId, traceFlags: 1 });
    expect(run.parentSpanId).toBe(publishDoc.spanContext.spanId);
    expect(run.links.map((l) => l.context.spanId)).toEqual([publishDoc.spanContext.spanId]);
    expect(publishWords.parentSpanId).toBe(run.spanContext.spanId);
    expect(run.attributes).toMatchObject({ 'skein.agent': 'counter', 'skein.attempts': 1, 'skein.outputs': 1 });
    expect(tracer.spans.every((s) => s.ended)).toBe(true);
  });

  it('keeps concurrent runs\' spans apart', async () => {
    const tracer = new MemoryTracer();
    await using board = new Board({ tracer });
    const seen = new Map<string, string | undefined>();
    board.agent('counter').consumes(Doc).maxConcurrency(8).handle(async ([doc]) => {
      const before = trace.getActiveSpan()?.spanContext().spanId;
      await new Promise((resolve) => setImmediate(resolve));
      expect(trace.getActiveSpan()?.spanContext().spanId).toBe(before);
      seen.set(doc.payload.text, before);
    });
    await board.publishMany(Doc, Array.from({ length: 8 }, (_, i) => ({ text: String(i) })));
    await board.runUntilIdle();
    expect(new Set(seen.values()).size).toBe(8);
  });

  it('opens a span per engine call and marks a failed run\'s span as an error', async () => {
    const tracer = new MemoryTracer();
    await using board = new Board({ tracer });
    board
      .agent('pipeline')
      .consumes(Doc)
      .engine({ name: 'tokenize', evaluate: ([doc]) => doc.payload.text.split(' ') })
      .handle(() => {
        throw new Error('boom');
      });
    await board.publish(Doc, { text: 'x y' });
    await board.runUntilIdle();
    const run = tracer.spans.find((s) => s.name === 'run pipeline')!;
    const engine = tracer.spans.find((s) => s.name === 'engine tokenize')!;
    expect(engine.parentSpanId).toBe(run.spanContext.spanId);
    expect(run.status).toBe(2);
    // AgentFailed is published inside the failed run's trace.
    expect(tracer.spans.find((s) => s.name === 'publish AgentFailed')?.spanContext.traceId).toBe(run.spanContext.traceId);
  });

  it('runs queued work in the async context of whoever scheduled it', async () => {
    const requestId = new AsyncLocalStorage<string>();
    await using board = new Board();
    const seen: (string | undefined)[] = [];
    board.agent('worker').consumes(Doc).handle(() => void seen.push(requestId.getStore()));
    await requestId.run('req-1', () => board.publish(Doc, { text: 'a' }));
    await requestId.run('req-2', () => board.publish(Doc, { text: 'b' }));
    await board.runUntilIdle();
    expect(seen).toEqual(['req-1', 'req-2']);
  });
});

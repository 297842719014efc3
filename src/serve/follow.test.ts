/**
 * serve({ follow }): boards sharing one store, A serving and B working; what B does reaches A's
 * event stream (artifacts, runs, dead letters), each once, and A's own events are not repeated.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { Board, artifactType } from '../board/index.js';
import type { BoardStore } from '../board/store/contract.js';
import { MemoryStore } from '../board/stores/memory-store.js';
import { PostgresStore } from '../board/stores/postgres/postgres-store.js';
import { dropSchema, freshSchema, POSTGRES_URL } from '../board/stores/postgres/test-schema.js';
import { openStream, type Frame, type Stream } from './fixtures/client.js';
import { serve, type ServeHandle } from './index.js';

const Job = artifactType('Job', z.object({ n: z.number() }));
const Done = artifactType('Done', z.object({ n: z.number() }));
const Bad = artifactType('Bad', z.object({ n: z.number() }));

/** A promise and its resolve. */
function latch(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

function declare(board: Board, gate?: Promise<void>): void {
  board
    .agent('worker')
    .consumes(Job)
    .publishes(Done)
    .handle(async ([job]) => {
      await gate;
      return { n: job.payload.n };
    });
  board
    .agent('breaker')
    .consumes(Bad)
    .retry({ maxAttempts: 1 })
    .handle(() => {
      throw new Error('always broken');
    });
}

function followTests(open: () => Promise<BoardStore>): void {
  let a: Board | undefined;
  let b: Board | undefined;
  let server: ServeHandle | undefined;
  let stream: Stream | undefined;
  afterEach(async () => {
    await stream?.close();
    await server?.close();
    await b?.shutdown();
    await a?.shutdown();
    a = b = server = stream = undefined;
  });

  it("work done on board B shows up on A's event stream, each event once", async () => {
    const release = latch();
    // A publishes and serves but runs nothing; B runs everything.
    a = new Board({ store: await open(), shared: { pollMs: 20 }, work: false });
    declare(a);
    b = new Board({ store: await open(), shared: { pollMs: 20 } });
    declare(b, release.promise);
    expect(a.shared).toBe(true);
    server = await serve(a, { auth: false, follow: { pollMs: 20, lookbackMs: 500 } });
    stream = await openStream(server.url, 'events');
    const s = stream;
    const published = (type: string, producedBy: string) => (f: Frame) => f.event === 'published' && f.data.type === type && f.data.producedBy === producedBy;

    const job = await b.publish(Job, { n: 7 }, { correlationId: 'wf-b' });
    const seen = await s.waitFor(published('Job', 'external'));
    expect(seen.data).toMatchObject({ artifactId: job.id, correlationId: 'wf-b' });
    // The run is held open until A has seen it start: a start and an end, not only the outputs.
    const started = await s.waitFor((f) => f.event === 'started' && f.data.agent === 'worker');
    release.open();
    const finished = await s.waitFor((f) => f.event === 'finished' && f.data.runId === started.data.runId);
    expect(finished.data).toMatchObject({ agent: 'worker', correlationId: 'wf-b', outputs: 1 });
    const done = await s.waitFor(published('Done', 'worker'));
    expect(done.data.correlationId).toBe('wf-b');

    await b.publish(Bad, { n: 1 }, { correlationId: 'wf-bad' });
    const failed = await s.waitFor((f) => f.event === 'failed' && f.data.agent === 'breaker');
    expect(failed.data).toMatchObject({ correlationId: 'wf-bad', attempts: 1, error: { message: 'always broken' } });
    await s.waitFor(published('AgentFailed', 'board'));

    // A's own publish is reported by A's board once, not again by the feed; B runs it.
    const own = await a.publish(Job, { n: 8 }, { correlationId: 'wf-a' });
    await s.waitFor((f) => f.event === 'published' && f.data.type === 'Done' && f.data.correlationId === 'wf-a');
    // One more artifact from B, published after everything above: once it is seen, the feed has re-read the window.
    const marker = await b.publish(Done, { n: 0 }, { correlationId: 'marker' });
    await s.waitFor((f) => f.event === 'published' && f.data.artifactId === marker.id);
    const ids = s.frames.filter((f) => f.event === 'published').map((f) => f.data.artifactId as string);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toContain(own.id);
    for (const kind of ['started', 'finished', 'failed']) {
      const runs = s.frames.filter((f) => f.event === kind).map((f) => f.data.runId as string);
      expect(new Set(runs).size).toBe(runs.length);
    }
  });

  it('reports nothing of what was in the store before the server started', async () => {
    const store = await open();
    b = new Board({ store, shared: { pollMs: 20 } });
    declare(b);
    await b.publish(Job, { n: 1 }, { correlationId: 'before' });
    await b.runUntilIdle();
    a = new Board({ store: await open(), shared: { pollMs: 20 }, work: false });
    declare(a);
    server = await serve(a, { auth: false, follow: { pollMs: 20, lookbackMs: 60_000 } });
    stream = await openStream(server.url, 'events');
    const after = await b.publish(Job, { n: 2 }, { correlationId: 'after' });
    await stream.waitFor((f) => f.event === 'published' && f.data.type === 'Done' && f.data.correlationId === 'after');
    const correlations = stream.frames.filter((f) => f.event === 'published').map((f) => f.data.correlationId as string);
    expect(correlations).not.toContain('before');
    expect(stream.frames.some((f) => f.data.artifactId === after.id)).toBe(true);
  });
}

describe('serve follow: boards sharing one MemoryStore', { timeout: 30_000 }, () => {
  let store = new MemoryStore();
  followTests(() => Promise.resolve(store));
  afterEach(() => {
    store = new MemoryStore();
  });
});

describe.skipIf(POSTGRES_URL === undefined)('serve follow: boards sharing one PostgreSQL schema, each on its own pool', { timeout: 90_000 }, () => {
  let schema = freshSchema('skein_follow');
  afterEach(async () => {
    await dropSchema(schema);
    schema = freshSchema('skein_follow');
  });
  followTests(() => PostgresStore.open({ connectionString: POSTGRES_URL!, schema, poolSize: 3 }));
});

describe('serve follow: options', () => {
  it('rejects bad follow options with the known ones named', async () => {
    await using board = new Board();
    await expect(serve(board, { auth: false, follow: { pollMs: 0 } })).rejects.toThrow(/follow.pollMs/);
    await expect(serve(board, { auth: false, follow: { every: 5 } as never })).rejects.toThrow(/known: pollMs, lookbackMs/);
    await expect(serve(board, { auth: false, follow: 'yes' as never })).rejects.toThrow(TypeError);
  });
});

import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { Board, artifactType, visibility } from '../board/index.js';
import type { BoardEvent } from '../board/events.js';
import { openStream } from './fixtures/client.js';
import { serve, type ServeHandle, type ServeOptions } from './index.js';
import { EventLog } from './sse.js';

const Job = artifactType('Job', z.object({ n: z.number() }));
let board: Board;
let server: ServeHandle;

async function start(options: Partial<ServeOptions> = {}): Promise<void> {
  board = new Board();
  board.agent('worker').consumes(Job).handle(() => {});
  server = await serve(board, { auth: false, ...options });
}

afterEach(async () => {
  await server?.close();
  await board?.shutdown();
});

describe('serve: /events', () => {
  it('streams every board event with an id, and ends the stream on close', async () => {
    await start();
    const stream = await openStream(server.url, 'events');
    expect(stream.status).toBe(200);
    await board.publish(Job, { n: 1 });
    await board.runUntilIdle();
    await stream.waitFor((f) => f.event === 'idle');
    expect(stream.frames.map((f) => f.event)).toEqual(['published', 'scheduled', 'started', 'finished', 'idle']);
    const seqs = stream.frames.map((f) => Number(f.id!.split('-')[1]));
    expect(seqs).toEqual([1, 2, 3, 4, 5]);
    expect(stream.frames[0]!.data).toMatchObject({ kind: 'published', type: 'Job', producedBy: 'external' });
    await server.close();
    await stream.ended;
  });

  it('resumes from Last-Event-ID, and says lagged when the ring no longer holds the gap', async () => {
    await start({ eventBuffer: 8 });
    const first = await openStream(server.url, 'events');
    await board.publish(Job, { n: 1 });
    await board.runUntilIdle();
    const idle = await first.waitFor((f) => f.event === 'idle');
    await first.close();
    await board.publish(Job, { n: 2 });
    await board.runUntilIdle();
    // wait until the server has logged the second round (its own stream sees it)
    const probe = await openStream(server.url, 'events?kinds=idle', { 'last-event-id': idle.id! });
    await probe.waitFor((f) => f.event === 'idle');
    await probe.close();
    const resumed = await openStream(server.url, 'events', { 'last-event-id': idle.id! });
    await resumed.waitFor((f) => f.event === 'idle');
    expect(resumed.frames.map((f) => f.event)).toEqual(['published', 'scheduled', 'started', 'finished', 'idle']);
    expect(resumed.frames[0]!.data.artifactId).not.toBe(first.frames[0]!.data.artifactId);
    await resumed.close();
    const finished = await openStream(server.url, 'events?kinds=finished');
    for (let i = 0; i < 3; i++) await board.publish(Job, { n: 3 + i });
    await board.runUntilIdle();
    // the server has logged the three runs once its own stream has shown them
    await finished.waitFor(() => finished.frames.length === 3);
    await finished.close();
    const late = await openStream(server.url, 'events', { 'last-event-id': idle.id! });
    const lagged = await late.waitFor((f) => f.event === 'lagged');
    expect(lagged.data.dropped).toBeGreaterThan(0);
    expect(late.frames[0]!.event).toBe('lagged');
    await late.close();
    const foreign = await openStream(server.url, 'events', { 'last-event-id': 'other-12' });
    expect((await foreign.waitFor((f) => f.event === 'lagged')).data).toMatchObject({ dropped: null });
    await foreign.close();
  });

  it('filters by kinds and correlation id', async () => {
    await start();
    const stream = await openStream(server.url, 'events?kinds=published,finished&correlationId=wf-b');
    await board.publish(Job, { n: 1 }, { correlationId: 'wf-a' });
    await board.publish(Job, { n: 2 }, { correlationId: 'wf-b' });
    await board.runUntilIdle();
    // events arrive in order: anything of wf-a, or of another kind, would have come before this one
    await stream.waitFor((f) => f.event === 'finished');
    expect(stream.frames.map((f) => [f.event, f.data.correlationId])).toEqual([['published', 'wf-b'], ['finished', 'wf-b']]);
    await stream.close();
  });

  it('shows an identified client only the published artifacts it may see', async () => {
    await start();
    const hr = await openStream(server.url, 'events?kinds=published', { 'x-skein-viewer': 'hr' });
    const ops = await openStream(server.url, 'events?kinds=published', { 'x-skein-viewer': 'ops' });
    await board.publish(Job, { n: 1 }, { visibility: visibility.private(['hr']) });
    await board.publish(Job, { n: 2 });
    await board.runUntilIdle();
    await hr.waitFor((f) => f.data.type === 'Job' && hr.frames.length === 2);
    await ops.waitFor(() => true);
    const publicId = hr.frames[1]!.data.artifactId as string;
    expect(ops.frames.map((f) => f.data.artifactId)).toEqual([publicId]);
    await hr.close();
    await ops.close();
  });

  it("keeps runs' progress (a model's partial answers) from an identified client, whose visibility it cannot check", async () => {
    board = new Board();
    board.agent('writer').consumes(Job).handle((_inputs, ctx) => ctx.reportProgress({ text: 'partial answer' }));
    server = await serve(board, { auth: false });
    const anonymous = await openStream(server.url, 'events?kinds=progress,finished');
    const hr = await openStream(server.url, 'events?kinds=progress,finished', { 'x-skein-viewer': 'hr' });
    await board.publish(Job, { n: 1 });
    await board.runUntilIdle();
    await anonymous.waitFor((f) => f.event === 'finished');
    await hr.waitFor((f) => f.event === 'finished');
    expect(anonymous.frames.map((f) => f.event)).toEqual(['progress', 'finished']);
    expect(anonymous.frames[0]!.data.detail).toEqual({ text: 'partial answer' });
    expect(hr.frames.map((f) => f.event)).toEqual(['finished']);
    await anonymous.close();
    await hr.close();
  });

  it('sends heartbeats', async () => {
    await start({ heartbeatMs: 10 });
    const stream = await openStream(server.url, 'events');
    await stream.waitForComment('heartbeat');
    await stream.close();
  });
});

/** A response stand-in whose socket drains only when the test says so. */
class SlowResponse extends EventEmitter {
  writableNeedDrain = false;
  writableEnded = false;
  readonly written: string[] = [];
  write(frame: string | Buffer): boolean {
    this.written.push(String(frame));
    this.writableNeedDrain = true;
    return false;
  }
  end(): void {
    this.writableEnded = true;
  }
  cork(): void {}
  uncork(): void {}
  drain(): void {
    this.writableNeedDrain = false;
    this.emit('drain');
  }
}

/** A response whose socket always keeps up: it keeps what it was given, as given. */
class FastResponse extends EventEmitter {
  readonly writableNeedDrain = false;
  writableEnded = false;
  readonly written: (string | Buffer)[] = [];
  write(chunk: string | Buffer): boolean {
    this.written.push(chunk);
    return true;
  }
  end(): void {
    this.writableEnded = true;
  }
  cork(): void {}
  uncork(): void {}
}

const event = (n: number): BoardEvent => ({ kind: 'published', at: n, artifactId: `a${n}`, type: 'Job', producedBy: 'external', correlationId: 'wf' });

describe('EventLog', () => {
  const all = { kinds: undefined, correlationId: undefined, viewer: undefined };
  const ids = (chunk: string): string[] => [...chunk.matchAll(/"artifactId":"(a\d+)"/g)].map((m) => m[1]!);

  it('skips a slow client ahead with a lagged event instead of buffering without bound', () => {
    const log = new EventLog(1_000, 4, 'boot');
    const res = new SlowResponse();
    const detach = log.attach(res as unknown as ServerResponse, all, undefined);
    log.append(event(1));
    log.flush();
    expect(res.written.map(ids)).toEqual([['a1']]);
    // its socket is full: what comes meanwhile waits in the ring, not in a buffer of the client
    for (let n = 2; n <= 100; n++) log.append(event(n));
    log.flush();
    expect(res.written).toHaveLength(1);
    res.drain();
    // what it is owed goes out at the next flush (the drain arms it)
    expect(res.written).toHaveLength(1);
    log.flush();
    // a lagged event for the 95 it lost, then the newest 4 (two writes, corked into one)
    expect(res.written).toHaveLength(3);
    const [, lagged, frames] = res.written;
    expect(lagged).toMatch(/^id: boot-96\nevent: lagged\n/);
    expect(JSON.parse(/data: (.*)\n/.exec(lagged!)![1]!)).toMatchObject({ kind: 'lagged', dropped: 95, reason: 'the client fell behind' });
    expect(ids(frames!)).toEqual(['a97', 'a98', 'a99', 'a100']);
    detach();
    log.append(event(101));
    log.flush();
    expect(res.written).toHaveLength(3);
    log.closeAll();
  });

  it('writes each turn once per client, serialising each event once for all the clients that take everything', () => {
    const log = new EventLog(64, 64, 'boot');
    const fast = [new FastResponse(), new FastResponse(), new FastResponse()];
    for (const res of fast) log.attach(res as unknown as ServerResponse, all, undefined);
    const filtered = new FastResponse();
    log.attach(filtered as unknown as ServerResponse, { ...all, kinds: new Set(['idle']) }, undefined);
    const spy = vi.spyOn(JSON, 'stringify');
    try {
      for (let n = 1; n <= 10; n++) log.append(event(n));
      log.append({ kind: 'idle', at: 11 });
      log.flush();
      expect(spy).toHaveBeenCalledTimes(11);
    } finally {
      spy.mockRestore();
    }
    for (const res of fast) {
      expect(res.written).toHaveLength(1);
      expect(res.written[0]).toBe(fast[0]!.written[0]);
      expect(ids(String(res.written[0]))).toHaveLength(10);
    }
    expect(filtered.written.map(String)).toEqual(['id: boot-11\nevent: idle\ndata: {"kind":"idle","at":11}\n\n']);
    log.closeAll();
  });
});

describe('EventLog: writes gathered over flushMs', () => {
  const all = { kinds: undefined, correlationId: undefined, viewer: undefined };
  const ids = (chunk: string | Buffer): string[] => [...String(chunk).matchAll(/"artifactId":"(a\d+)"/g)].map((m) => m[1]!);
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('writes the events of an interval once, in order, when the interval ends', () => {
    const log = new EventLog(1_000, 256, 'boot', 5);
    const res = new FastResponse();
    log.attach(res as unknown as ServerResponse, all, undefined);
    log.append(event(1));
    vi.advanceTimersByTime(2);
    log.append(event(2));
    log.append(event(3));
    vi.advanceTimersByTime(2);
    expect(res.written).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(res.written.map(ids)).toEqual([['a1', 'a2', 'a3']]);
    // the next event arms the next interval, counted from itself
    vi.advanceTimersByTime(10);
    log.append(event(4));
    vi.advanceTimersByTime(4);
    expect(res.written).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(res.written.map(ids)).toEqual([['a1', 'a2', 'a3'], ['a4']]);
    expect(vi.getTimerCount()).toBe(0);
    log.closeAll();
  });

  it('writes one Buffer, the same object, to every client that takes everything from the same cursor', () => {
    const log = new EventLog(1_000, 256, 'boot', 5);
    const clients = [new FastResponse(), new FastResponse(), new FastResponse()];
    for (const res of clients) log.attach(res as unknown as ServerResponse, all, undefined);
    for (let n = 1; n <= 20; n++) log.append(event(n));
    vi.advanceTimersByTime(5);
    const [chunk] = clients[0]!.written;
    expect(chunk).toBeInstanceOf(Buffer);
    expect(ids(chunk!)).toHaveLength(20);
    for (const res of clients) expect(res.written).toEqual([chunk]);
    for (const res of clients) expect(res.written[0]).toBe(chunk);
    log.closeAll();
  });

  it("is no lag: a burst larger than clientBacklog within one interval reaches a client that keeps up whole", () => {
    const log = new EventLog(1_000, 4, 'boot', 5);
    const res = new FastResponse();
    log.attach(res as unknown as ServerResponse, all, undefined);
    for (let n = 1; n <= 100; n++) log.append(event(n));
    vi.advanceTimersByTime(5);
    expect(res.written).toHaveLength(1);
    expect(String(res.written[0])).not.toContain('lagged');
    expect(ids(res.written[0]!)).toEqual(Array.from({ length: 100 }, (_, i) => `a${i + 1}`));
    log.closeAll();
  });

  it('writes half a ring of waiting events at the end of the turn, before the interval, so that none leaves the ring unsent', () => {
    const log = new EventLog(8, 8, 'boot', 1_000);
    const res = new FastResponse();
    log.attach(res as unknown as ServerResponse, all, undefined);
    for (let n = 1; n <= 4; n++) log.append(event(n));
    // a setImmediate: the end of this turn, not a second later
    vi.advanceTimersByTime(0);
    expect(res.written.map(ids)).toEqual([['a1', 'a2', 'a3', 'a4']]);
    expect(vi.getTimerCount()).toBe(0);
    log.append(event(5));
    vi.advanceTimersByTime(999);
    expect(res.written).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(res.written.map(ids)).toEqual([['a1', 'a2', 'a3', 'a4'], ['a5']]);
    log.closeAll();
  });

  it('tells a slow client lagged, keeping what it is owed to clientBacklog, and writes it on drain at the next flush', () => {
    const log = new EventLog(1_000, 4, 'boot', 5);
    const slow = new SlowResponse();
    const fast = new FastResponse();
    log.attach(slow as unknown as ServerResponse, all, undefined);
    log.attach(fast as unknown as ServerResponse, all, undefined);
    log.append(event(1));
    vi.advanceTimersByTime(5);
    expect(slow.written.map(ids)).toEqual([['a1']]);
    // its socket is full: the events of the next interval wait in the ring, not in a buffer of the client
    for (let n = 2; n <= 10; n++) log.append(event(n));
    vi.advanceTimersByTime(5);
    expect(slow.written).toHaveLength(1);
    expect(fast.written.map(ids)[1]).toHaveLength(9);
    for (let n = 11; n <= 12; n++) log.append(event(n));
    slow.drain();
    vi.advanceTimersByTime(5);
    // owed 2..10 (9, beyond its backlog of 4): lagged for 2..6, then the newest 4 owed, 7..10, and what came since, 11 and 12
    expect(slow.written).toHaveLength(3);
    expect(JSON.parse(/data: (.*)\n/.exec(slow.written[1]!)![1]!)).toMatchObject({ kind: 'lagged', dropped: 5 });
    expect(slow.written[1]).toMatch(/^id: boot-6\nevent: lagged\n/);
    expect(ids(slow.written[2]!)).toEqual(['a7', 'a8', 'a9', 'a10', 'a11', 'a12']);
    expect(fast.written.flatMap(ids)).toEqual(Array.from({ length: 12 }, (_, i) => `a${i + 1}`));
    log.closeAll();
  });

  it('writes what is waiting on close, ends every stream, and leaves no timer behind', () => {
    // a ring of 4: two events waiting would flush at the end of the turn
    const log = new EventLog(4, 256, 'boot', 50);
    const res = new FastResponse();
    log.attach(res as unknown as ServerResponse, all, undefined);
    log.append(event(1));
    expect(vi.getTimerCount()).toBe(1);
    log.closeAll();
    expect(res.written.map(ids)).toEqual([['a1']]);
    expect(res.writableEnded).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
    // events after close (a stream not yet detached) arm nothing, neither the timer nor the end of the turn
    log.append(event(2));
    log.append(event(3));
    log.append(event(4));
    expect(vi.getTimerCount()).toBe(0);
  });

  it('with flushMs 0 writes at the end of each turn of the event loop', () => {
    const log = new EventLog(1_000, 256, 'boot', 0);
    const res = new FastResponse();
    log.attach(res as unknown as ServerResponse, all, undefined);
    log.append(event(1));
    log.append(event(2));
    expect(res.written).toEqual([]);
    vi.advanceTimersByTime(0);
    expect(res.written.map(ids)).toEqual([['a1', 'a2']]);
    log.closeAll();
  });
});

import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { afterEach, describe, expect, it, vi } from 'vitest';
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

import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
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
  write(frame: string): boolean {
    this.written.push(frame);
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

const event = (n: number): BoardEvent => ({ kind: 'published', at: n, artifactId: `a${n}`, type: 'Job', producedBy: 'external', correlationId: 'wf' });

describe('EventLog', () => {
  it('skips a slow client ahead with a lagged event instead of buffering without bound', () => {
    const log = new EventLog(1_000, 4, 'boot');
    const res = new SlowResponse();
    const detach = log.attach(res as unknown as ServerResponse, { kinds: undefined, correlationId: undefined, viewer: undefined }, undefined);
    for (let n = 1; n <= 100; n++) log.append(event(n));
    // one frame went out at once; then the backlog of 4 filled, was dropped and refilled 24 times
    expect(res.written).toHaveLength(1);
    res.drain();
    const lagged = res.written[1]!;
    expect(lagged).toMatch(/^id: boot-\d+\nevent: lagged\n/);
    expect(JSON.parse(/data: (.*)\n/.exec(lagged)![1]!)).toMatchObject({ kind: 'lagged', dropped: 96 });
    // after the lagged event, the client carries on from the newest events
    while (res.writableNeedDrain) res.drain();
    expect(res.written.slice(2).map((f) => /"artifactId":"(a\d+)"/.exec(f)![1])).toEqual(['a98', 'a99', 'a100']);
    detach();
    log.append(event(101));
    expect(res.written).toHaveLength(5);
    log.closeAll();
  });
});

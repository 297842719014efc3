/**
 * Embargoes and count windows across a restart of a SQLite store: a board stops while an artifact is
 * embargoed and a join's count window holds entries; a new board on the same file keeps the artifact
 * embargoed until its time and then releases it once, and the window goes on from where it was.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { Board, JoinExpired, artifactType } from '../../index.js';
import { SqliteStore } from './sqlite-store.js';

const Notice = artifactType('Notice', z.object({ text: z.string() }));
const Bid = artifactType('Bid', z.object({ item: z.string(), n: z.number() }));
const Ask = artifactType('Ask', z.object({ item: z.string(), n: z.number() }));

const dir = mkdtempSync(join(tmpdir(), 'skein-embargo-'));
let files = 0;

afterEach(() => {
  vi.useRealTimers();
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('embargoes and count windows across a restart of a SQLite store', () => {
  it('keeps an embargoed artifact embargoed across a restart and releases it once, on time', async () => {
    // setImmediate stays real: the SQLite store groups completions into the next turn with it.
    vi.useFakeTimers({ now: 0, toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const path = join(dir, `embargo-${++files}.db`);
    const seen: { board: string; at: number }[] = [];
    const declare = (board: Board, name: string) =>
      board.agent('reader').consumes(Notice).handle(() => {
        seen.push({ board: name, at: Date.now() });
      });
    const first = new Board({ store: new SqliteStore({ path }) });
    declare(first, 'first');
    const held = await first.publish(Notice, { text: 'results' }, { visibleAfterMs: 1_000 });
    await vi.advanceTimersByTimeAsync(400);
    await first.shutdown();
    vi.setSystemTime(700);
    const store = new SqliteStore({ path });
    const second = new Board({ store });
    declare(second, 'second');
    await second.resume();
    expect(store.list()).toEqual([]);
    expect(store.pending().timedGates).toBe(1);
    await vi.advanceTimersByTimeAsync(299);
    expect(seen).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    await second.runUntilIdle();
    expect(seen).toEqual([{ board: 'second', at: 1_000 }]);
    expect(store.list().map((a) => a.id)).toEqual([held.id]);
    expect(store.pending().timedGates).toBe(0);
    await second.shutdown();
  });

  it('releases an embargo that ended while no board ran as soon as a board resumes', async () => {
    vi.useFakeTimers({ now: 0, toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const path = join(dir, `embargo-${++files}.db`);
    const seen: number[] = [];
    const first = new Board({ store: new SqliteStore({ path }) });
    await first.publish(Notice, { text: 'x' }, { visibleAt: 100 });
    await first.shutdown();
    vi.setSystemTime(5_000);
    const second = new Board({ store: new SqliteStore({ path }) });
    second.agent('reader').consumes(Notice).handle(() => void seen.push(Date.now()));
    await second.resume();
    await vi.advanceTimersByTimeAsync(0);
    await second.runUntilIdle();
    expect(seen).toEqual([5_000]);
    await second.shutdown();
  });

  it('keeps a count window across a restart: the entries in it pair, those pushed out are reported once', async () => {
    vi.useFakeTimers({ now: 0, toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const path = join(dir, `window-${++files}.db`);
    const pairs: string[] = [];
    const declare = (board: Board) => {
      board
        .agent('match')
        .consumes([Bid, Ask], { join: { by: (x) => x.payload.item, withinLast: 2 } })
        .handle(([bid, ask]) => void pairs.push(`${bid.payload.n}-${ask.payload.n}`));
    };
    const first = new Board({ store: new SqliteStore({ path }) });
    declare(first);
    for (let n = 1; n <= 2; n++) await first.publish(Bid, { item: 'lamp', n });
    await first.runUntilIdle();
    await first.shutdown();
    const store = new SqliteStore({ path });
    const second = new Board({ store });
    declare(second);
    await second.resume();
    await second.publish(Bid, { item: 'lamp', n: 3 }); // pushes bid 1 out of the window kept in the file
    await vi.advanceTimersByTimeAsync(0);
    await second.runUntilIdle();
    await second.publish(Ask, { item: 'lamp', n: 1 });
    await second.runUntilIdle();
    expect(pairs).toEqual(['2-1']);
    expect(store.list({ type: JoinExpired }).map((fact) => fact.payload.received.length)).toEqual([1]);
    await second.shutdown();
  });
});

import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { StoreNotice } from './contract.js';
import { NoticePoller, type NoticePollerOptions } from './notice-poller.js';

const RUNS: StoreNotice = { kind: 'runs', agents: ['a'] };

/** A store whose notices the test sends, and that counts its subscribers. */
function noticeStore(): { store: { onNotice: (listener: (notice: StoreNotice) => void) => Promise<() => void> }; send: (notice: StoreNotice) => void; subscribers: () => number } {
  const listeners = new Set<(notice: StoreNotice) => void>();
  return {
    store: {
      onNotice: (listener) => {
        listeners.add(listener);
        return Promise.resolve(() => listeners.delete(listener));
      },
    },
    send: (notice) => {
      for (const listener of [...listeners]) listener(notice);
    },
    subscribers: () => listeners.size,
  };
}

/** A poll the test ends: each call waits for `finish()`. */
function controlledPoll(): { poll: () => Promise<void>; calls: () => number; running: () => boolean; finish: (error?: Error) => void } {
  let calls = 0;
  let pending: { resolve: () => void; reject: (error: Error) => void } | undefined;
  return {
    poll: () => {
      calls++;
      return new Promise<void>((resolve, reject) => (pending = { resolve, reject }));
    },
    calls: () => calls,
    running: () => pending !== undefined,
    finish: (error) => {
      const current = pending!;
      pending = undefined;
      if (error === undefined) current.resolve();
      else current.reject(error);
    },
  };
}

const flush = async (): Promise<void> => {
  for (let i = 0; i < 10; i++) await Promise.resolve();
};

describe('NoticePoller', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  function poller(options: Partial<NoticePollerOptions> & Pick<NoticePollerOptions, 'poll'>, store: object = {}): { poller: NoticePoller; errors: [string, unknown][] } {
    const errors: [string, unknown][] = [];
    const self: NoticePoller = new NoticePoller(store, { intervalMs: 100, onNotice: () => self.soon(), onError: (operation, error) => errors.push([operation, error]), ...options });
    return { poller: self, errors };
  }

  it('polls at once, then intervalMs after each poll ends', async () => {
    const control = controlledPoll();
    const { poller: p } = poller({ poll: control.poll });
    p.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(control.calls()).toBe(1);
    await vi.advanceTimersByTimeAsync(500);
    expect(control.calls()).toBe(1); // the next waits for this one to end
    control.finish();
    await vi.advanceTimersByTimeAsync(99);
    expect(control.calls()).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(control.calls()).toBe(2);
    control.finish();
    await p.stop();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('polls soonMs after a notice while no poll runs', async () => {
    const control = controlledPoll();
    const { store, send } = noticeStore();
    const { poller: p } = poller({ poll: control.poll, intervalMs: 10_000, soonMs: 5 }, store);
    p.start();
    await vi.advanceTimersByTimeAsync(0);
    control.finish();
    await flush();
    send(RUNS);
    send(RUNS);
    await vi.advanceTimersByTimeAsync(5);
    expect(control.calls()).toBe(2);
    control.finish();
    await p.stop();
  });

  it('runs one more poll, and only one, for notices that come during a poll', async () => {
    const control = controlledPoll();
    const { store, send } = noticeStore();
    const { poller: p } = poller({ poll: control.poll, intervalMs: 10_000 }, store);
    p.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(control.running()).toBe(true);
    send(RUNS);
    send({ kind: 'workflow', correlationId: 'w', state: 'paused' });
    send(RUNS);
    control.finish();
    await flush();
    expect(control.calls()).toBe(2);
    expect(control.running()).toBe(true);
    control.finish();
    await vi.advanceTimersByTimeAsync(9_999);
    expect(control.calls()).toBe(2);
    await p.stop();
  });

  it('stop during a poll resolves when the poll ends, unsubscribes, and leaves no timer nor poll after', async () => {
    const control = controlledPoll();
    const notices = noticeStore();
    const { poller: p } = poller({ poll: control.poll }, notices.store);
    p.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(notices.subscribers()).toBe(1);
    notices.send(RUNS); // asks for one more poll, which stop cancels
    let stopped = false;
    const stopping = p.stop().then(() => (stopped = true));
    await flush();
    expect(stopped).toBe(false);
    expect(notices.subscribers()).toBe(0);
    control.finish();
    await stopping;
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(1_000);
    notices.send(RUNS);
    await p.poll();
    expect(control.calls()).toBe(1);
  });

  it('reports a poll that throws and polls again at the interval; after stop, it reports nothing', async () => {
    const control = controlledPoll();
    const { poller: p, errors } = poller({ poll: control.poll });
    p.start();
    await vi.advanceTimersByTimeAsync(0);
    const boom = new Error('store down');
    control.finish(boom);
    await vi.advanceTimersByTimeAsync(100);
    expect(errors).toEqual([['polling the store', boom]]);
    expect(control.calls()).toBe(2);
    const stopping = p.stop();
    control.finish(new Error('late'));
    await stopping;
    expect(errors).toHaveLength(1);
  });

  it('polls without notices when subscribing to them fails, and says so', async () => {
    const control = controlledPoll();
    const refused = new Error('LISTEN refused');
    const { poller: p, errors } = poller({ poll: control.poll }, { onNotice: () => Promise.reject(refused) });
    p.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(errors).toEqual([['listening for store notices', refused]]);
    control.finish();
    await vi.advanceTimersByTimeAsync(100);
    expect(control.calls()).toBe(2);
    control.finish();
    await p.stop();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('asks keepsAlive whether its timer holds the process open, each time it is armed or refreshed', async () => {
    let alive = false;
    const control = controlledPoll();
    const { poller: p } = poller({ poll: control.poll, keepsAlive: () => alive });
    vi.useRealTimers(); // the fake clock's timers do not report hasRef
    const before = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    p.start();
    expect(process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length).toBe(before);
    alive = true;
    p.refresh();
    expect(process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length).toBe(before + 1);
    alive = false;
    p.refresh();
    expect(process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length).toBe(before);
    await p.stop();
    expect(control.calls()).toBe(0);
  });
});

describe('NoticePoller under any interleaving', () => {
  // Timers never fire: only the interleaving of notices, polls and stop drives it.
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('never runs two polls at once, runs none after stop resolves, and leaves nothing behind', async () => {
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), fc.integer({ min: 0, max: 6 }), fc.integer({ min: 1, max: 4 }), async (s, notices, polls) => {
        const { store, send, subscribers } = noticeStore();
        let running = 0;
        let overlapped = false;
        let calls = 0;
        let stopped = false;
        let afterStop = 0;
        const p: NoticePoller = new NoticePoller(store, {
          poll: async () => {
            calls++;
            if (stopped) afterStop++;
            running++;
            if (running > 1) overlapped = true;
            await s.schedule(Promise.resolve(), 'poll step');
            running--;
          },
          intervalMs: 60_000,
          soonMs: 60_000,
          onNotice: () => p.soon(),
          onError: () => {},
        });
        p.start(); // its first poll waits for a timer the fake clock never lets fire
        const actions: Promise<unknown>[] = [];
        for (let i = 0; i < notices; i++) actions.push(s.schedule(Promise.resolve(), `notice ${i}`).then(() => send(RUNS)));
        for (let i = 0; i < polls; i++) actions.push(s.schedule(Promise.resolve(), `poll ${i}`).then(() => p.poll()));
        actions.push(s.schedule(Promise.resolve(), 'stop').then(() => p.stop().then(() => (stopped = true))));
        await s.waitFor(Promise.all(actions));
        expect(overlapped).toBe(false);
        expect(afterStop).toBe(0);
        expect(running).toBe(0);
        expect(subscribers()).toBe(0);
        // each poll() asked for, and each notice, made at most one poll (one more after the one in flight)
        expect(calls).toBeLessThanOrEqual(polls + notices);
        const before = calls;
        p.soon();
        send(RUNS);
        await p.poll();
        expect(calls).toBe(before);
        expect(vi.getTimerCount()).toBe(0);
      }),
      { numRuns: 200 },
    );
  });
});

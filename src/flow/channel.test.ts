import fc from 'fast-check';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { abortListenerCount, flushMicrotasks } from '../../test/helpers.js';
import { Channel, ChannelClosedError } from './channel.js';

describe('Channel', () => {
  it('buffers up to capacity, then send waits until a receive makes room', async () => {
    const channel = new Channel<number>(2);
    await channel.send(1);
    await channel.send(2);
    let sent = false;
    const third = channel.send(3).then(() => (sent = true));
    await flushMicrotasks();
    expect(sent).toBe(false);
    expect(channel.size).toBe(2);
    expect(await channel.receive()).toBe(1);
    await third;
    expect(sent).toBe(true);
    expect(await channel.receive()).toBe(2);
    expect(await channel.receive()).toBe(3);
  });

  it('receive waits while empty and gets the next value sent', async () => {
    const channel = new Channel<string>(4);
    const received = channel.receive();
    await channel.send('hello');
    expect(await received).toBe('hello');
  });

  it('with capacity 0 is a rendezvous: send resolves only once a receiver has the value', async () => {
    const channel = new Channel<number>(0);
    let sent = false;
    const send = channel.send(7).then(() => (sent = true));
    await flushMicrotasks();
    expect(sent).toBe(false);
    expect(channel.trySend(8)).toBe(false);
    expect(await channel.receive()).toBe(7);
    await send;
    expect(sent).toBe(true);
    const receive = channel.receive();
    expect(channel.trySend(9)).toBe(true);
    expect(await receive).toBe(9);
  });

  it('keeps FIFO order across buffered values and waiting senders', async () => {
    const channel = new Channel<number>(2);
    const sends = [1, 2, 3, 4, 5].map((n) => channel.send(n));
    const received = [];
    for (let i = 0; i < 5; i++) received.push(await channel.receive());
    await Promise.all(sends);
    expect(received).toEqual([1, 2, 3, 4, 5]);
  });

  it('trySend and tryReceive never wait', () => {
    const channel = new Channel<number>(1);
    expect(channel.tryReceive()).toEqual({ ok: false, closed: false });
    expect(channel.trySend(1)).toBe(true);
    expect(channel.trySend(2)).toBe(false);
    expect(channel.tryReceive()).toEqual({ ok: true, value: 1 });
    channel.close();
    expect(channel.tryReceive()).toEqual({ ok: false, closed: true });
    expect(() => channel.trySend(3)).toThrow(ChannelClosedError);
  });

  describe('close', () => {
    it('lets receivers drain what is buffered, then ends iteration', async () => {
      const channel = new Channel<number>(3);
      await channel.send(1);
      await channel.send(2);
      channel.close();
      expect(channel.closed).toBe(true);
      const seen: number[] = [];
      for await (const value of channel) seen.push(value);
      expect(seen).toEqual([1, 2]);
    });

    it('makes further sends fail with ChannelClosedError', async () => {
      const channel = new Channel<number>(1);
      channel.close();
      const error = await channel.send(1).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ChannelClosedError);
      expect((error as Error).name).toBe('ChannelClosedError');
    });

    it('rejects sends that were waiting, and their values are not delivered', async () => {
      const channel = new Channel<number>(1);
      await channel.send(1);
      const waiting = channel.send(2);
      channel.close();
      await expect(waiting).rejects.toBeInstanceOf(ChannelClosedError);
      expect(await channel.receive()).toBe(1);
      await expect(channel.receive()).rejects.toBeInstanceOf(ChannelClosedError);
    });

    it('ends iterations and rejects receives waiting on an empty channel', async () => {
      const channel = new Channel<number>(1);
      const receive = channel.receive();
      const iteration = channel[Symbol.asyncIterator]().next();
      channel.close();
      await expect(receive).rejects.toBeInstanceOf(ChannelClosedError);
      expect(await iteration).toEqual({ done: true, value: undefined });
    });

    it('is idempotent', () => {
      const channel = new Channel<number>();
      channel.close();
      expect(() => channel.close()).not.toThrow();
    });
  });

  it('rejects a send with the reason when aborted while waiting, and the value is never delivered', async () => {
    const channel = new Channel<number>(0);
    const controller = new AbortController();
    const send = channel.send(1, { signal: controller.signal });
    const reason = new Error('gave up');
    controller.abort(reason);
    await expect(send).rejects.toBe(reason);
    expect(channel.tryReceive()).toEqual({ ok: false, closed: false });
    expect(abortListenerCount(controller.signal)).toBe(0);
  });

  it('rejects a receive with the reason when aborted while waiting, and it takes no value', async () => {
    const channel = new Channel<number>(1);
    const controller = new AbortController();
    const receive = channel.receive({ signal: controller.signal });
    controller.abort();
    await expect(receive).rejects.toMatchObject({ name: 'AbortError' });
    await channel.send(5);
    expect(await channel.receive()).toBe(5);
  });

  it('rejects at once with an already aborted signal, without sending or receiving', async () => {
    const channel = new Channel<number>(1);
    const controller = new AbortController();
    controller.abort(new Error('already'));
    await expect(channel.send(1, { signal: controller.signal })).rejects.toThrow('already');
    expect(channel.size).toBe(0);
    await channel.send(2);
    await expect(channel.receive({ signal: controller.signal })).rejects.toThrow('already');
    expect(channel.size).toBe(1);
  });

  it('does not grow the listeners of a signal reused for many waits', async () => {
    const channel = new Channel<number>(0);
    const controller = new AbortController();
    for (let i = 0; i < 50; i++) {
      const receive = channel.receive({ signal: controller.signal });
      await channel.send(i, { signal: controller.signal });
      await receive;
      const send = channel.send(i, { signal: controller.signal });
      await channel.receive({ signal: controller.signal });
      await send;
    }
    expect(abortListenerCount(controller.signal)).toBe(0);
  });

  it('a break out of iteration does not close the channel', async () => {
    const channel = new Channel<number>(2);
    await channel.send(1);
    await channel.send(2);
    for await (const _value of channel) break;
    expect(channel.closed).toBe(false);
    expect(await channel.receive()).toBe(2);
  });

  it('hands each value to exactly one of several consumers', async () => {
    const channel = new Channel<number>(4);
    const consume = async () => {
      const seen: number[] = [];
      for await (const value of channel) {
        seen.push(value);
        await flushMicrotasks(1);
      }
      return seen;
    };
    const consumers = [consume(), consume(), consume()];
    for (let i = 0; i < 100; i++) await channel.send(i);
    channel.close();
    const all = (await Promise.all(consumers)).flat().sort((a, b) => a - b);
    expect(all).toEqual(Array.from({ length: 100 }, (_, i) => i));
  });

  it('rejects invalid arguments', () => {
    expect(() => new Channel(-1)).toThrow('capacity must be an integer >= 0 or Infinity, got -1');
    expect(() => new Channel(1.5)).toThrow(RangeError);
    const channel = new Channel<number>();
    expect(() => channel.send(1, { signal: 1 as any })).toThrow(TypeError);
    expect(() => channel.receive(null as any)).toThrow(TypeError);
  });

  it('infers the element type', () => {
    expectTypeOf(new Channel<number>().receive()).toEqualTypeOf<Promise<number>>();
  });
});

describe('Channel under any interleaving', () => {
  it('delivers every value once, in order, and settles every waiter exactly once', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.scheduler(),
        fc.integer({ min: 0, max: 3 }),
        fc.integer({ min: 0, max: 8 }),
        fc.array(fc.boolean(), { maxLength: 8 }),
        async (s, capacity, count, abortingReceives) => {
          const channel = new Channel<number>(capacity);
          const outcomes: string[] = [];
          const producer = (async () => {
            for (let i = 0; i < count; i++) {
              await s.schedule(Promise.resolve(), `send ${i}`);
              await channel.send(i);
            }
            channel.close();
          })();
          // Receivers that give up at a scheduled point: each one is settled exactly once.
          const quitters = abortingReceives.map(async (aborts, i) => {
            const controller = new AbortController();
            if (aborts) void s.schedule(Promise.resolve(), `abort ${i}`).then(() => controller.abort());
            try {
              const value = await channel.receive({ signal: controller.signal });
              outcomes.push(`got ${value}`);
              return value;
            } catch (error) {
              outcomes.push((error as Error).name);
              return undefined;
            }
          });
          const consumer = (async () => {
            const seen: number[] = [];
            for await (const value of channel) {
              seen.push(value);
              await s.schedule(Promise.resolve(), `consume ${value}`);
            }
            return seen;
          })();
          const [seen, quitterValues] = await s.waitFor(Promise.all([consumer, Promise.all(quitters), producer]));
          expect(outcomes).toHaveLength(abortingReceives.length);
          const all = [...seen, ...quitterValues.filter((v): v is number => v !== undefined)].sort((a, b) => a - b);
          expect(all).toEqual(Array.from({ length: count }, (_, i) => i));
          expect(seen).toEqual([...seen].sort((a, b) => a - b));
        },
      ),
      { numRuns: 300 },
    );
  });
});

/**
 * The flow layer against the packages people use for bounded concurrency today (p-map, p-limit,
 * p-queue, async-sema, async-mutex) and against hand-written floors: the least any implementation
 * can do (workers pulling from an index, a semaphore that is an array of resolvers).
 */
import { AsyncLocalStorage, AsyncResource } from 'node:async_hooks';
import { Mutex as AsyncMutex, Semaphore as AsyncMutexSemaphore } from 'async-mutex';
import { Sema } from 'async-sema';
import pLimit from 'p-limit';
import pMap from 'p-map';
import PQueue from 'p-queue';
import { Channel, Mutex, Semaphore, TaskQueue, map } from 'skein';
import { customSuite, timedSuite, type Figure } from './harness.js';

const ITEMS = 100_000;
const CONCURRENCY = 16;
const items = Array.from({ length: ITEMS }, (_, i) => i);
const noop = (item: number): Promise<number> => Promise.resolve(item);
const tasks = items.map((i) => () => Promise.resolve(i));

/** The floor for map: `concurrency` workers pulling the next index until none is left. */
async function workersOverIndex<T, R>(input: readonly T[], fn: (item: T, index: number) => Promise<R>, concurrency: number): Promise<R[]> {
  const results = new Array<R>(input.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < input.length) {
      const index = next++;
      results[index] = await fn(input[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return results;
}

/**
 * The floor for a semaphore: a count and an array of resolvers read from a moving head. It serves
 * first-in first-out like skein's; it has no abort, timeout, weight or priority, but the bench's
 * loops pass none of those to skein either (its path without them allocates nothing for them). What
 * skein does besides is give each acquirer a permit object: PermitFloorSemaphore measures that.
 */
class FloorSemaphore {
  #count: number;
  #waiters: ((() => void) | undefined)[] = [];
  #head = 0;

  constructor(count: number) {
    this.#count = count;
  }

  acquire(): Promise<void> {
    if (this.#count > 0) {
      this.#count--;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  release(): void {
    if (this.#head < this.#waiters.length) {
      const next = this.#waiters[this.#head]!;
      this.#waiters[this.#head++] = undefined;
      if (this.#head === this.#waiters.length) {
        this.#waiters = [];
        this.#head = 0;
      }
      next();
    } else {
      this.#count++;
    }
  }
}

/** What the floor lacks of skein's API: a permit object per acquire, released once (a second release does nothing). */
class FloorPermit {
  #semaphore: PermitFloorSemaphore | undefined;

  constructor(semaphore: PermitFloorSemaphore) {
    this.#semaphore = semaphore;
  }

  release(): void {
    const semaphore = this.#semaphore;
    if (semaphore === undefined) return;
    this.#semaphore = undefined;
    semaphore.giveBack();
  }
}

/** The floor semaphore handing out a {@link FloorPermit}: the least a semaphore with skein's API shape can do. */
class PermitFloorSemaphore {
  #count: number;
  #waiters: (((permit: FloorPermit) => void) | undefined)[] = [];
  #head = 0;

  constructor(count: number) {
    this.#count = count;
  }

  acquire(): Promise<FloorPermit> {
    if (this.#count > 0) {
      this.#count--;
      return Promise.resolve(new FloorPermit(this));
    }
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  giveBack(): void {
    if (this.#head < this.#waiters.length) {
      const next = this.#waiters[this.#head]!;
      this.#waiters[this.#head++] = undefined;
      if (this.#head === this.#waiters.length) {
        this.#waiters = [];
        this.#head = 0;
      }
      next(new FloorPermit(this));
    } else {
      this.#count++;
    }
  }
}

const CYCLES = 1_000;
const LOOPS = 16;
const PERMITS = 4;

/** 16 loops, each doing 1,000 acquire/release cycles through one semaphore, with an await in between. */
async function cycles(acquireRelease: () => Promise<void>): Promise<void> {
  const loop = async (): Promise<void> => {
    for (let i = 0; i < CYCLES; i++) await acquireRelease();
  };
  await Promise.all(Array.from({ length: LOOPS }, loop));
}

function semaphoreCases(permits: number) {
  const skein = new Semaphore(permits);
  const sema = new Sema(permits);
  const mutexSemaphore = new AsyncMutexSemaphore(permits);
  const floor = new FloorSemaphore(permits);
  const permitFloor = new PermitFloorSemaphore(permits);
  return [
    {
      name: 'skein Semaphore',
      role: 'skein' as const,
      fn: () =>
        cycles(async () => {
          const permit = await skein.acquire();
          permit.release();
        }),
    },
    {
      name: 'async-sema',
      role: 'peer' as const,
      fn: () =>
        cycles(async () => {
          await sema.acquire();
          sema.release();
        }),
    },
    {
      name: 'async-mutex Semaphore',
      role: 'peer' as const,
      fn: () =>
        cycles(async () => {
          const [, release] = await mutexSemaphore.acquire();
          release();
        }),
    },
    {
      name: 'hand-written FIFO + release-once permit',
      role: 'peer' as const,
      fn: () =>
        cycles(async () => {
          const permit = await permitFloor.acquire();
          permit.release();
        }),
    },
    {
      name: 'hand-written FIFO semaphore (floor)',
      role: 'floor' as const,
      fn: () =>
        cycles(async () => {
          await floor.acquire();
          floor.release();
        }),
    },
  ];
}

const floorQueue = {
  name: '16 workers over an index (floor)',
  role: 'floor' as const,
  fn: () => workersOverIndex(tasks, (task) => task(), CONCURRENCY),
};

/** `waiters` onIdle() waiters parked on a busy queue while 1,000 tasks run: their cost per task. */
function queueWithWaiters(waiters: number): Promise<unknown> {
  const queue = new TaskQueue({ concurrency: CONCURRENCY });
  const added = tasks.slice(0, 1_000).map((task) => queue.add(task));
  const idle = Array.from({ length: waiters }, () => queue.onIdle());
  return Promise.all([...added, ...idle]);
}

/** Tasks added one by one, each add returning its own promise, all awaited together. */
function queueCases() {
  return [
    {
      name: 'skein TaskQueue.add',
      role: 'skein' as const,
      fn: () => {
        const queue = new TaskQueue({ concurrency: CONCURRENCY });
        return Promise.all(tasks.map((task) => queue.add(task)));
      },
    },
    {
      name: 'p-queue add',
      role: 'peer' as const,
      fn: () => {
        const queue = new PQueue({ concurrency: CONCURRENCY });
        return Promise.all(tasks.map((task) => queue.add(task)));
      },
    },
    {
      name: 'p-limit',
      role: 'peer' as const,
      fn: () => {
        const limit = pLimit(CONCURRENCY);
        return Promise.all(tasks.map((task) => limit(task)));
      },
    },
    floorQueue,
  ];
}

/** The whole batch handed over at once: one call, one promise for all the results. */
function batchCases() {
  return [
    {
      name: 'skein TaskQueue.addAll',
      role: 'skein' as const,
      fn: () => new TaskQueue({ concurrency: CONCURRENCY }).addAll(tasks),
    },
    {
      name: 'p-queue addAll',
      role: 'peer' as const,
      fn: () => new PQueue({ concurrency: CONCURRENCY }).addAll(tasks),
    },
    floorQueue,
  ];
}

const MESSAGES = 1_000_000;
const CAPACITY = 64;

async function timeIt(run: () => Promise<unknown>): Promise<number> {
  const best: number[] = [];
  for (let i = 0; i < 5; i++) {
    const start = performance.now();
    await run();
    best.push(performance.now() - start);
  }
  best.sort((a, b) => a - b);
  return best[Math.floor(best.length / 2)]!;
}

async function channelRun(): Promise<number> {
  const channel = new Channel<number>(CAPACITY);
  const producer = (async () => {
    for (let i = 0; i < MESSAGES; i++) await channel.send(i);
    channel.close();
  })();
  let sum = 0;
  for await (const value of channel) sum += value;
  await producer;
  return sum;
}

const prefilled = Array.from({ length: MESSAGES }, (_, i) => i);
async function arrayRun(): Promise<number> {
  let sum = 0;
  // eslint-disable-next-line @typescript-eslint/await-thenable -- the floor is exactly this: for await over a plain array
  for await (const value of prefilled) sum += value;
  return sum;
}

const CAPTURES = 100_000;

/**
 * Ways to make a queued callback run in the async context of whoever queued it, 100,000 times:
 * what TaskQueue pays for its context guarantee. skein registers the promise reaction that starts
 * the task when the task is queued (a reaction runs in the context it was registered in).
 */
function captureCases() {
  const run = async (queueOne: (callback: () => void) => () => void): Promise<void> => {
    const starters = new Array<() => void>(CAPTURES);
    let ran = 0;
    const all = new Promise<void>((resolve) => {
      const callback = (): void => {
        if (++ran === CAPTURES) resolve();
      };
      for (let i = 0; i < CAPTURES; i++) starters[i] = queueOne(callback);
    });
    for (let i = 0; i < CAPTURES; i++) starters[i]!();
    await all;
  };
  return [
    {
      name: 'promise reaction registered at enqueue (skein)',
      role: 'skein' as const,
      fn: () =>
        run((callback) => {
          let open!: () => void;
          void new Promise<void>((resolve) => (open = resolve)).then(callback);
          return open;
        }),
    },
    { name: 'AsyncResource.bind', role: 'peer' as const, fn: () => run((callback) => AsyncResource.bind(callback)) },
    {
      name: 'AsyncLocalStorage.snapshot',
      role: 'peer' as const,
      fn: () =>
        run((callback) => {
          const snapshot = AsyncLocalStorage.snapshot();
          return () => snapshot(callback);
        }),
    },
    { name: 'no capture, called directly (floor)', role: 'floor' as const, fn: () => run((callback) => callback) },
  ];
}

export default [
  timedSuite({
    name: 'map: 100,000 no-op async items, concurrency 16',
    description: 'Map 100,000 numbers through an async identity function, at most 16 calls at once, results in order.',
    timeMs: 1_000,
    iterations: 5,
    cases: [
      { name: 'skein map', role: 'skein', fn: () => map(items, noop, { concurrency: CONCURRENCY }) },
      { name: 'p-map', role: 'peer', fn: () => pMap(items, noop, { concurrency: CONCURRENCY }) },
      {
        name: 'p-limit',
        role: 'peer',
        fn: () => {
          const limit = pLimit(CONCURRENCY);
          return Promise.all(items.map((item) => limit(() => noop(item))));
        },
      },
      { name: '16 workers over an index (floor)', role: 'floor', fn: () => workersOverIndex(items, noop, CONCURRENCY) },
    ],
  }),
  timedSuite({
    name: 'Semaphore: 16 loops x 1,000 acquire/release cycles, 4 permits (contended)',
    description: '16 async loops each acquire and release 1,000 times through one 4-permit semaphore.',
    timeMs: 1_000,
    iterations: 5,
    cases: semaphoreCases(PERMITS),
  }),
  timedSuite({
    name: 'Semaphore: 16 loops x 1,000 acquire/release cycles, 16 permits (uncontended)',
    description: 'The same loops through a 16-permit semaphore: every acquire finds a free permit.',
    timeMs: 1_000,
    iterations: 5,
    cases: semaphoreCases(LOOPS),
  }),
  timedSuite({
    name: 'Mutex: 16 loops x 1,000 lock/unlock cycles',
    description: '16 async loops each lock and unlock one mutex 1,000 times.',
    timeMs: 1_000,
    iterations: 5,
    cases: (() => {
      const skein = new Mutex();
      const peer = new AsyncMutex();
      const sema = new Sema(1);
      const floor = new FloorSemaphore(1);
      return [
        {
          name: 'skein Mutex',
          role: 'skein' as const,
          fn: () =>
            cycles(async () => {
              const lock = await skein.lock();
              lock.release();
            }),
        },
        {
          name: 'async-mutex Mutex',
          role: 'peer' as const,
          fn: () =>
            cycles(async () => {
              const release = await peer.acquire();
              release();
            }),
        },
        {
          name: 'async-sema (1)',
          role: 'peer' as const,
          fn: () =>
            cycles(async () => {
              await sema.acquire();
              sema.release();
            }),
        },
        {
          name: 'hand-written FIFO semaphore (floor)',
          role: 'floor' as const,
          fn: () =>
            cycles(async () => {
              await floor.acquire();
              floor.release();
            }),
        },
      ];
    })(),
  }),
  timedSuite({
    name: 'TaskQueue: 1,000 no-op async tasks while 1,000 onIdle waiters wait, concurrency 16',
    description: 'Park 1,000 onIdle() waiters, add 1,000 async tasks one by one, await them and the waiters.',
    cases: [
      { name: 'skein TaskQueue.add, 1,000 onIdle waiters', role: 'skein', fn: () => queueWithWaiters(1_000) },
      { name: 'skein TaskQueue.add, 1 onIdle waiter', role: 'floor', fn: () => queueWithWaiters(1) },
      {
        name: 'p-queue add, 1,000 onIdle waiters',
        role: 'peer',
        fn: () => {
          const queue = new PQueue({ concurrency: CONCURRENCY });
          const added = tasks.slice(0, 1_000).map((task) => queue.add(task));
          const waiters = Array.from({ length: 1_000 }, () => queue.onIdle());
          return Promise.all([...added, ...waiters]);
        },
      },
    ],
  }),
  timedSuite({
    name: 'TaskQueue: 100,000 no-op async tasks as one batch, concurrency 16',
    description: 'Queue 100,000 async tasks in one call on a queue running 16 at a time and await all their results.',
    timeMs: 1_000,
    iterations: 5,
    cases: batchCases(),
  }),
  timedSuite({
    name: 'TaskQueue: 100,000 no-op async tasks added one by one, concurrency 16',
    description:
      'Add 100,000 async tasks one add() at a time (a promise each) to a queue running 16 at a time, then await them all.',
    timeMs: 1_000,
    iterations: 5,
    cases: queueCases(),
  }),
  customSuite({
    name: 'Channel: 1,000,000 values, capacity 64',
    description:
      'One producer awaits send() for 1,000,000 numbers into a 64-slot channel while one consumer iterates it ' +
      'with for await; the floor is for await over a pre-filled array (the least an async hand-off costs). ' +
      'Median of 5 runs.',
    run: async () => {
      await channelRun(); // warm-up
      await arrayRun();
      const channelMs = await timeIt(channelRun);
      const arrayMs = await timeIt(arrayRun);
      const figures: Figure[] = [
        { name: 'skein Channel', value: MESSAGES / (channelMs / 1_000), unit: 'messages/s' },
        { name: 'for await over an array (floor)', value: MESSAGES / (arrayMs / 1_000), unit: 'messages/s' },
        { name: 'skein time / floor time', value: channelMs / arrayMs, unit: 'x' },
      ];
      return figures;
    },
  }),
  timedSuite({
    name: 'Async context capture: 100,000 queued callbacks',
    description:
      'What running queued work in the context of whoever queued it costs, per technique, with no AsyncLocalStorage in use.',
    timeMs: 1_000,
    iterations: 5,
    cases: captureCases(),
  }),
  customSuite({
    name: 'TaskQueue: 100,000 tasks with an AsyncLocalStorage active',
    description:
      'The TaskQueue suite run inside AsyncLocalStorage.run (async hooks on, so every promise pays for context ' +
      'tracking); median of 5 runs per case. The storage is disabled afterwards so later suites are unaffected.',
    run: async () => {
      const storage = new AsyncLocalStorage<number>();
      const figures: Figure[] = [];
      try {
        const times = new Map<string, number>();
        for (const benchCase of [...queueCases(), batchCases()[0]!]) {
          await storage.run(1, benchCase.fn); // warm-up
          times.set(benchCase.name, await timeIt(() => storage.run(1, benchCase.fn)));
        }
        const skeinMs = times.get('skein TaskQueue.add')!;
        for (const [name, ms] of times) figures.push({ name, value: ms, unit: 'ms' });
        for (const [name, ms] of times) {
          if (name !== 'skein TaskQueue.add') figures.push({ name: `skein add / ${name}`, value: skeinMs / ms, unit: 'x' });
        }
      } finally {
        storage.disable();
      }
      return figures;
    },
  }),
];

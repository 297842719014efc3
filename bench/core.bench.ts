/**
 * The core combinators against the promise built-ins (the floor: no combinator can do less than
 * Promise.all) and against the structured-concurrency peers Effect and Effection, in one run.
 */
import { Effect } from 'effect';
import { all as effectionAll, call, run as effectionRun, spawn as effectionSpawn } from 'effection';
import { gather, scope } from 'skein';
import { timedSuite, type BenchCase } from './harness.js';

const COUNT = 10_000;
const signal = new AbortController().signal;

type AsyncTask = (signal: AbortSignal) => Promise<number>;

const resolvedTasks: AsyncTask[] = Array.from({ length: COUNT }, (_, i) => () => Promise.resolve(i));
const microtaskTasks: AsyncTask[] = Array.from({ length: COUNT }, (_, i) => async () => {
  await Promise.resolve();
  return i;
});

function peers(tasks: readonly AsyncTask[]): BenchCase[] {
  return [
    { name: 'Promise.all (floor)', role: 'floor', fn: () => Promise.all(tasks.map((task) => task(signal))) },
    { name: 'Promise.allSettled', role: 'peer', fn: () => Promise.allSettled(tasks.map((task) => task(signal))) },
    {
      name: 'Effect.all (unbounded)',
      role: 'peer',
      fn: () =>
        Effect.runPromise(
          Effect.all(
            tasks.map((task) => Effect.promise((effectSignal) => task(effectSignal))),
            { concurrency: 'unbounded' },
          ),
        ),
    },
    {
      name: 'Effection all',
      role: 'peer',
      fn: () => effectionRun(() => effectionAll(tasks.map((task) => call(() => task(signal))))),
    },
  ];
}

export default [
  timedSuite({
    name: 'gather: 10,000 already-resolved tasks',
    description: 'Run 10,000 tasks that each return an already-resolved promise and collect their values.',
    iterations: 5,
    cases: [{ name: 'skein gather', role: 'skein', fn: () => gather(resolvedTasks) }, ...peers(resolvedTasks)],
  }),
  timedSuite({
    name: 'gather: 10,000 tasks awaiting one microtask',
    description: 'Run 10,000 async tasks that each await once and collect their values.',
    iterations: 5,
    cases: [{ name: 'skein gather', role: 'skein', fn: () => gather(microtaskTasks) }, ...peers(microtaskTasks)],
  }),
  timedSuite({
    name: 'scope: spawn 10,000 children',
    description: 'Spawn 10,000 async children (each awaits once) into a scope and wait for all of them.',
    iterations: 5,
    cases: [
      {
        name: 'skein scope + spawn',
        role: 'skein',
        fn: () =>
          scope((group) => {
            for (const task of microtaskTasks) group.spawn(task);
          }),
      },
      ...peers(microtaskTasks).slice(0, 2),
      {
        name: 'Effect.forEach forked fibers',
        role: 'peer',
        fn: () =>
          Effect.runPromise(
            Effect.scoped(
              Effect.gen(function* () {
                const fibers = yield* Effect.forEach(microtaskTasks, (task) =>
                  Effect.forkScoped(Effect.promise((s) => task(s))),
                );
                for (const fiber of fibers) yield* fiber.await;
              }),
            ),
          ),
      },
      {
        name: 'Effection spawn',
        role: 'peer',
        fn: () =>
          effectionRun(function* () {
            const spawned = [];
            for (const task of microtaskTasks) spawned.push(yield* effectionSpawn(() => call(() => task(signal))));
            for (const child of spawned) yield* child;
          }),
      },
    ],
  }),
];

/**
 * The three-agent chain (a -> b -> c) for the PostgreSQL bench: the workflow, and, run as a script,
 * one worker process (`BENCH_SCHEMA`, `BENCH_URL`) that works until SIGTERM.
 */
import { PostgresStore } from '../src/board/stores/postgres/index.js';
import { runStoreWorker, type TestWorkflow } from '../src/board/stores/postgres/fixtures/store-worker.js';

const next: Record<string, string | undefined> = { A: 'a', B: 'b', C: 'c' };

export const chain: TestWorkflow = {
  agents: ['a', 'b', 'c'],
  attempts: 1,
  execute: (agent, inputs) => (agent === 'c' ? [] : [{ type: agent === 'a' ? 'B' : 'C', payload: inputs[0]!.payload }]),
  route: (artifact) => {
    const agent = next[artifact.type];
    return { runs: agent === undefined ? [] : [{ id: `r:${artifact.id}`, agent, subscription: 0, inputIds: [artifact.id], correlationId: artifact.correlationId }], deposits: [] };
  },
  close: () => ({ facts: [] }),
};

if (process.env.BENCH_SCHEMA !== undefined && process.argv[1]?.endsWith('postgres-chain.ts')) {
  const store = await PostgresStore.open({ connectionString: process.env.BENCH_URL!, schema: process.env.BENCH_SCHEMA, poolSize: 4, skipMigrations: true });
  const stop = new AbortController();
  process.once('SIGTERM', () => stop.abort());
  let wake: (() => void) | undefined;
  await store.onNotice(() => wake?.());
  process.stdout.write('ready\n');
  await runStoreWorker(store, chain, {
    owner: `bench-${process.pid}`,
    signal: stop.signal,
    claimLimit: 16,
    idle: (signal) =>
      new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          wake = undefined;
          signal.removeEventListener('abort', done);
          resolve();
        };
        const timer = setTimeout(done, 50);
        wake = done;
        signal.addEventListener('abort', done, { once: true });
      }),
  });
  await store.close();
  process.exit(0);
}

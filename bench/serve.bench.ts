/**
 * skein/serve under load: a large workflow (a chain of three agents, 100,000 runs by default) run
 * side by side with no server, and with a server streaming every event to 100 SSE subscribers (in a
 * child process, so that the subscribers' reading is not billed to the board; it shares the 2 cores,
 * and its CPU time is reported). Figures: the elapsed time of each, their ratio, the frames the
 * subscribers received (fewer than every event to every subscriber when one was skipped ahead,
 * `lagged`: compare ratios only between runs that received about as many), and the peak heap of each run
 * (bounded memory: a slow subscriber is skipped ahead, never buffered without end). The publisher
 * yields to the event loop every 16 publishes in every setup, so that the stream goes out live.
 * `SKEIN_BENCH_SERVE_RUNS` changes the run count.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { z } from 'zod';
import { Board, artifactType } from 'skein/board';
import { serve } from 'skein/serve';
import { customSuite, type Figure } from './harness.js';

const Value = z.object({ n: z.number() });
const A = artifactType('A', Value);
const B = artifactType('B', Value);
const C = artifactType('C', Value);
const D = artifactType('D', Value);

const RUNS = Number(process.env.SKEIN_BENCH_SERVE_RUNS ?? 100_000);
const SUBSCRIBERS = 100;
/** Publishes between two turns of the event loop, so that the stream is written while the workflow runs. */
const YIELD_EVERY = 16;
/** Rounds of the three setups (`SKEIN_BENCH_SERVE_ROUNDS`). */
const ROUNDS = Number(process.env.SKEIN_BENCH_SERVE_ROUNDS ?? 3);

/**
 * The subscribers: 100 SSE connections reading every frame; prints `ready`, then the frame count and
 * its own CPU time (ms) when its stdin closes. (Counting in the raw bytes instead of decoded strings
 * was tried: no cheaper per frame received.)
 */
const SUBSCRIBER_SCRIPT = `
const http = require('node:http');
const url = process.argv[1];
let frames = 0, ready = 0;
for (let i = 0; i < ${SUBSCRIBERS}; i++) {
  http.get(url, { agent: false }, (res) => {
    res.setEncoding('utf8');
    res.on('data', (chunk) => { for (let j = chunk.indexOf('\\nid: '); j >= 0; j = chunk.indexOf('\\nid: ', j + 1)) frames++; if (chunk.startsWith('id: ')) frames++; });
    if (++ready === ${SUBSCRIBERS}) process.stdout.write('ready\\n');
  }).on('error', () => {});
}
process.stdin.on('end', () => { const cpu = process.cpuUsage(); process.stdout.write(frames + ' ' + (cpu.user + cpu.system) / 1000 + '\\n'); process.exit(0); });
process.stdin.resume();
`;

function chain(): Board {
  const board = new Board();
  board.agent('first').consumes(A).publishes(B).handle(([a]) => ({ n: a.payload.n + 1 }));
  board.agent('second').consumes(B).publishes(C).handle(([b]) => ({ n: b.payload.n + 1 }));
  board.agent('third').consumes(C).publishes(D).handle(([c]) => ({ n: c.payload.n + 1 }));
  return board;
}

/** Publishes RUNS / 3 artifacts into one workflow and waits for idle; the elapsed ms and the peak heap. */
async function runWorkflow(board: Board): Promise<{ ms: number; cpuMs: number; peakHeapMb: number }> {
  let peak = process.memoryUsage().heapUsed;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().heapUsed)), 50);
  const start = performance.now();
  const cpu = process.cpuUsage();
  try {
    for (let i = 0; i < Math.ceil(RUNS / 3); i++) {
      await board.publish(A, { n: i }, { correlationId: 'large' });
      // A turn of the event loop every YIELD_EVERY publishes, in every setup alike, as a service's
      // I/O gives one: with synchronous agents on the memory store the board would otherwise never
      // let the server write, and the stream would go out in one piece after the workflow.
      if (i % YIELD_EVERY === YIELD_EVERY - 1) await new Promise<void>((resolve) => setImmediate(resolve));
    }
    await board.runUntilIdle();
  } finally {
    clearInterval(sampler);
  }
  const used = process.cpuUsage(cpu);
  return { ms: performance.now() - start, cpuMs: (used.user + used.system) / 1000, peakHeapMb: Math.max(peak, process.memoryUsage().heapUsed) / 1024 / 1024 };
}

async function plain(): Promise<{ ms: number; cpuMs: number; peakHeapMb: number }> {
  const board = chain();
  try {
    return await runWorkflow(board);
  } finally {
    await board.shutdown();
  }
}

async function served(subscribers: number): Promise<{ ms: number; cpuMs: number; peakHeapMb: number; frames: number; subscriberCpuMs: number }> {
  const board = chain();
  const server = await serve(board, { auth: false, rateLimit: false });
  if (subscribers === 0) {
    try {
      return { ...(await runWorkflow(board)), frames: 0, subscriberCpuMs: 0 };
    } finally {
      await server.close();
      await board.shutdown();
    }
  }
  const child = spawn(process.execPath, ['-e', SUBSCRIBER_SCRIPT, new URL('events', server.url).href], { stdio: ['pipe', 'pipe', 'inherit'] });
  try {
    child.stdout.setEncoding('utf8');
    let out = '';
    child.stdout.on('data', (chunk: string) => (out += chunk));
    while (!out.includes('ready\n')) await once(child.stdout, 'data');
    const result = await runWorkflow(board);
    // let the stream drain to the subscribers before counting
    await new Promise((resolve) => setTimeout(resolve, 500));
    child.stdin.end();
    await once(child, 'exit');
    const [frames, subscriberCpuMs] = out.split('\n').at(-2)!.split(' ').map(Number) as [number, number];
    return { ...result, frames, subscriberCpuMs };
  } finally {
    child.kill();
    await server.close();
    await board.shutdown();
  }
}

export default [
  customSuite({
    name: `serve: ${SUBSCRIBERS} SSE subscribers during a ${RUNS.toLocaleString('en')}-run workflow`,
    description: `elapsed time of the same workflow with no server, a server without subscribers, and a server streaming to ${SUBSCRIBERS} subscribers in a child process (${ROUNDS} rounds, alternating; best and median)`,
    async run(): Promise<Figure[]> {
      // Rounds alternate the three setups, so that a machine's load drifting during the suite hits
      // each alike; the best of each is what the setup costs at its least disturbed.
      const baseline: { ms: number; cpuMs: number; peakHeapMb: number }[] = [];
      const idle: { ms: number; cpuMs: number; peakHeapMb: number }[] = [];
      const withSse: { ms: number; cpuMs: number; peakHeapMb: number; frames: number; subscriberCpuMs: number }[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        baseline.push(await plain());
        idle.push(await served(0));
        withSse.push(await served(SUBSCRIBERS));
      }
      const best = (xs: { ms: number }[]) => Math.min(...xs.map((x) => x.ms));
      const median = (xs: { ms: number }[]) => {
        const sorted = xs.map((x) => x.ms).sort((a, b) => a - b);
        return sorted.length % 2 === 1 ? sorted[(sorted.length - 1) / 2]! : (sorted[sorted.length / 2 - 1]! + sorted[sorted.length / 2]!) / 2;
      };
      // CPU time of this process (the board and the server; the subscribers are another process): on a
      // machine shared with other work, less disturbed by it than the elapsed time.
      const cpu = (xs: { cpuMs: number }[]) => Math.min(...xs.map((x) => x.cpuMs));
      return [
        { name: 'no server', value: best(baseline), unit: 'ms' },
        { name: 'server, no subscriber', value: best(idle), unit: 'ms' },
        { name: `${SUBSCRIBERS} SSE subscribers`, value: best(withSse), unit: 'ms' },
        { name: 'ratio (server, no subscriber / no server), best', value: best(idle) / best(baseline), unit: 'x' },
        { name: 'ratio (subscribers / no server), best', value: best(withSse) / best(baseline), unit: 'x' },
        { name: 'ratio (server, no subscriber / no server), median', value: median(idle) / median(baseline), unit: 'x' },
        { name: 'ratio (subscribers / no server), median', value: median(withSse) / median(baseline), unit: 'x' },
        { name: 'CPU time, no server (least)', value: cpu(baseline), unit: 'ms' },
        { name: 'CPU time ratio (server, no subscriber / no server)', value: cpu(idle) / cpu(baseline), unit: 'x' },
        { name: 'CPU time ratio (subscribers / no server)', value: cpu(withSse) / cpu(baseline), unit: 'x' },
        // Every event to every subscriber, less what a subscriber that fell behind skipped (it is told `lagged`).
        { name: 'frames received by all subscribers (last run)', value: withSse.at(-1)!.frames, unit: 'frames' },
        // What the server cost this process per frame it delivered: comparable between runs whose subscribers lagged by different amounts.
        { name: 'server CPU per frame received (last run, over the least no-server CPU)', value: ((withSse.at(-1)!.cpuMs - cpu(baseline)) * 1e6) / Math.max(1, withSse.at(-1)!.frames), unit: 'ns' },
        // The subscribers' process (its whole life: connecting, reading, counting) shares the 2 cores.
        { name: 'CPU time of the subscribers process (last run)', value: withSse.at(-1)!.subscriberCpuMs, unit: 'ms' },
        { name: 'peak heap, no server', value: Math.max(...baseline.map((x) => x.peakHeapMb)), unit: 'MB' },
        { name: 'peak heap, with subscribers', value: Math.max(...withSse.map((x) => x.peakHeapMb)), unit: 'MB' },
      ];
    },
  }),
];

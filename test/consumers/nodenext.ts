// A Node project with `module: nodenext`: every entry point type-checks without skipLibCheck and loads.
import { CancelledError, Emitter, gather, sleep } from 'skein';
import { main, monitorEventLoop } from 'skein/node';
import { Board, artifactType, type StandardSchemaV1 } from 'skein/board';
import type { WorkerPool } from 'skein/worker';
import { serve, signWebhook, verifyWebhook } from 'skein/serve';

const Text: StandardSchemaV1<string> = {
  '~standard': {
    version: 1,
    vendor: 'consumer',
    validate: (value) => (typeof value === 'string' ? { value } : { issues: [{ message: 'not a string' }] }),
  },
};
const Note = artifactType('Note', Text);
const board = new Board();
const seen: string[] = [];
board.agent('reader').consumes(Note).handle(([note]) => { seen.push(note.payload); });
await board.publish(Note, 'hello');
await board.runUntilIdle();
await board.shutdown();

// skein/serve ships with its dashboard: the page is served from the compiled package.
const served = new Board();
const server = await serve(served, { auth: false });
const page = await (await fetch(server.url, { headers: { connection: 'close' } })).text();
await server.close();
await served.shutdown();
const signed = signWebhook('consumer-secret-123', '{}');

const [a, b] = await gather([async (signal) => { await sleep(1, { signal }); return 1; }, async () => 'two']);
const pool: WorkerPool | undefined = undefined;
console.log(JSON.stringify({
  gather: [a, b],
  board: seen,
  node: [typeof main, typeof monitorEventLoop],
  names: [new CancelledError('x').name, typeof Emitter, pool === undefined],
  serve: [page.includes('<title>skein board</title>'), verifyWebhook('consumer-secret-123', signed, '{}')],
}));

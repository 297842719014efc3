// A Node project with `module: nodenext`: every entry point type-checks without skipLibCheck and loads.
import { CancelledError, Emitter, gather, sleep } from 'skein';
import { main, monitorEventLoop } from 'skein/node';
import { Board, artifactType, type StandardSchemaV1 } from 'skein/board';
import type { WorkerPool } from 'skein/worker';
import { serve, signWebhook, verifyWebhook } from 'skein/serve';
import { BudgetExceededError, llmEngine } from 'skein/llm';

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

// skein/llm loads and type-checks without its optional peer `ai`; a run that needs it says so.
const labelSchema = {
  '~standard': {
    version: 1 as const,
    vendor: 'consumer',
    validate: (value: unknown) => (typeof value === 'string' ? { value } : { issues: [{ message: 'not a string' }] }),
    jsonSchema: { input: () => ({ type: 'string' }) },
  },
};
const Label = artifactType('Label', labelSchema);
const llmBoard = new Board();
llmBoard.agent('labeller').consumes(Note).publishes(Label).engine(llmEngine({ model: 'openai/gpt-4.1-mini', output: Label })).handle();
await llmBoard.publish(Note, 'label me');
await llmBoard.runUntilIdle();
const [letter] = await llmBoard.deadLetters();
await llmBoard.shutdown();

const [a, b] = await gather([async (signal) => { await sleep(1, { signal }); return 1; }, async () => 'two']);
const pool: WorkerPool | undefined = undefined;
console.log(JSON.stringify({
  gather: [a, b],
  board: seen,
  node: [typeof main, typeof monitorEventLoop],
  names: [new CancelledError('x').name, typeof Emitter, pool === undefined],
  serve: [page.includes('<title>skein board</title>'), verifyWebhook('consumer-secret-123', signed, '{}')],
  llm: [letter?.error.message ?? 'no dead letter', new BudgetExceededError('labeller', 1, 2).name],
}));

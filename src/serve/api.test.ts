import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { Board, artifactType, visibility } from '../board/index.js';
import { call } from './fixtures/client.js';
import { serve, type ServeHandle, type ServeOptions } from './index.js';

const TOKEN = 'test-token-0123456789';
const Order = artifactType('Order', z.object({ qty: z.number().int().min(1), note: z.string().optional() }));
const Invoice = artifactType('Invoice', z.object({ total: z.number() }));
const Secret = artifactType('Secret', z.string());

let board: Board;
let server: ServeHandle;

async function start(options: ServeOptions = { token: TOKEN }, setup?: (b: Board) => void): Promise<void> {
  board = new Board();
  if (setup) setup(board);
  else {
    board.agent('billing').consumes(Order).publishes(Invoice).handle(([order]) => ({ total: order.payload.qty * 10 }));
    board.agent('archive').consumes(Invoice).handle(() => {});
    board.agent('vault').consumes(Secret).handle(() => {});
  }
  server = await serve(board, options);
}

afterEach(async () => {
  await server?.close();
  await board?.shutdown();
});

describe('serve: starting', () => {
  it('binds 127.0.0.1 on a free port by default and closes idempotently', async () => {
    await start();
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    await server.close();
    await server.close();
  });

  it('refuses to start without a token unless auth: false on loopback', async () => {
    const b = new Board();
    try {
      const saved = process.env.SKEIN_SERVE_TOKEN;
      delete process.env.SKEIN_SERVE_TOKEN;
      try {
        await expect(serve(b)).rejects.toThrow(/needs a token/);
        await expect(serve(b, { host: '0.0.0.0', auth: false })).rejects.toThrow(/only on a loopback/);
        await expect(serve(b, { token: 'short' })).rejects.toThrow(/at least 8/);
        const open = await serve(b, { auth: false });
        await open.close();
      } finally {
        if (saved !== undefined) process.env.SKEIN_SERVE_TOKEN = saved;
      }
    } finally {
      await b.shutdown();
    }
  });

  it('refuses an unknown option with a TypeError naming the known ones, and starts nothing', async () => {
    const b = new Board();
    try {
      const refusal = serve(b, { auth: false, hearbeatMs: 5 } as ServeOptions);
      await expect(refusal).rejects.toThrow(TypeError);
      await expect(refusal).rejects.toThrow(/serve has no option "hearbeatMs"; its options are host, port, token, auth, .*heartbeatMs/);
      await expect(serve(b, { auth: false, cors: { origin: ['https://a.example'] } } as never)).rejects.toThrow(/cors has no option "origin"; its options are origins/);
      await expect(serve(b, { auth: false, rateLimit: { limit: 5, interval: 1000 } } as never)).rejects.toThrow(/rateLimit has no option "interval"/);
      await expect(serve(b, { token: TOKEN, webhooks: { secret: 'a'.repeat(16), retries: 3 } } as never)).rejects.toThrow(/webhooks has no option "retries"; its options are secret, subscriptions, maxAttempts/);
    } finally {
      await b.shutdown();
    }
  });

  it('refuses a wrong option value up front, naming the option (not at the first request or delivery that reads it)', async () => {
    const b = new Board();
    const refused: [ServeOptions, RegExp, ErrorConstructor][] = [
      [null as never, /serve options must be an object, got null/, TypeError],
      [{ auth: false, host: '' }, /host must be a non-empty string/, TypeError],
      [{ auth: false, port: 70_000 }, /port must be an integer from 0 to 65535, got 70000/, RangeError],
      [{ auth: 'no' as never }, /auth must be a boolean, got "no"/, TypeError],
      [{ auth: false, dashboard: 0 as never }, /dashboard must be a boolean/, TypeError],
      [{ auth: false, bodyLimit: 0 }, /bodyLimit must be an integer >= 1, got 0/, RangeError],
      [{ auth: false, eventBuffer: 1.5 }, /eventBuffer must be an integer >= 1/, RangeError],
      [{ auth: false, heartbeatMs: -1 }, /heartbeatMs must be an integer/, RangeError],
      [{ auth: false, eventFlushMs: -1 }, /eventFlushMs must be an integer from 0 to 1000, got -1/, RangeError],
      [{ auth: false, eventFlushMs: 2.5 }, /eventFlushMs must be an integer from 0 to 1000, got 2.5/, RangeError],
      [{ auth: false, eventFlushMs: 5_000 }, /eventFlushMs must be an integer from 0 to 1000, got 5000/, RangeError],
      [{ auth: false, cors: { origins: 'https://a.example' as never } }, /cors.origins must be an array of non-empty strings/, TypeError],
      [{ auth: false, rateLimit: { limit: 0, intervalMs: 1_000 } }, /rateLimit.limit must be an integer >= 1, got 0/, RangeError],
      [{ auth: false, rateLimit: { limit: 5, intervalMs: 0 } }, /rateLimit.intervalMs must be > 0/, RangeError],
      [{ auth: false, rateLimit: true as never }, /rateLimit must be \{ limit, intervalMs, burst\? \} or false/, TypeError],
      [{ auth: false, allowedHosts: ['localhost', 7 as never] }, /allowedHosts must be an array of non-empty strings/, TypeError],
      [{ auth: false, identify: 'x-user' as never }, /identify must be a function/, TypeError],
      [{ auth: false, types: [{ name: 'Order' }] as never }, /types must be an array of artifact types/, TypeError],
      [{ auth: false, signal: {} as never }, /signal must be an AbortSignal/, TypeError],
      [{ token: TOKEN, webhooks: { secret: 'a'.repeat(16), maxAttempts: 0 } }, /webhooks.maxAttempts must be an integer >= 1, got 0/, RangeError],
      [{ token: TOKEN, webhooks: { secret: 'a'.repeat(16), initialBackoffMs: 5_000, maxBackoffMs: 1_000 } }, /webhooks.maxBackoffMs must be >= webhooks.initialBackoffMs/, RangeError],
      [{ token: TOKEN, webhooks: { secret: 'a'.repeat(16), timeoutMs: 0 } }, /webhooks.timeoutMs must be an integer from 1/, RangeError],
    ];
    try {
      for (const [options, message, type] of refused) {
        const refusal = serve(b, options);
        await expect(refusal, message.source).rejects.toThrow(message);
        await expect(refusal, message.source).rejects.toThrow(type);
      }
    } finally {
      await b.shutdown();
    }
  });

  it('takes the token from SKEIN_SERVE_TOKEN', async () => {
    const saved = process.env.SKEIN_SERVE_TOKEN;
    process.env.SKEIN_SERVE_TOKEN = 'env-token-123456';
    try {
      await start({});
      expect((await call(server.url, 'POST', 'api/artifacts', { body: { type: 'Order', payload: { qty: 1 } }, token: 'env-token-123456' })).status).toBe(201);
      expect((await call(server.url, 'POST', 'api/artifacts', { body: { type: 'Order', payload: { qty: 1 } }, token: TOKEN })).status).toBe(401);
    } finally {
      if (saved === undefined) delete process.env.SKEIN_SERVE_TOKEN;
      else process.env.SKEIN_SERVE_TOKEN = saved;
    }
  });
});

describe('serve: publishing', () => {
  it('publishes a valid artifact (201) and the board runs it', async () => {
    await start();
    const reply = await call(server.url, 'POST', 'api/artifacts', { body: { type: 'Order', payload: { qty: 3 }, correlationId: 'wf-1', tags: ['rush'] }, token: TOKEN });
    expect(reply.status).toBe(201);
    expect(reply.json.artifact).toMatchObject({ type: 'Order', payload: { qty: 3 }, correlationId: 'wf-1', tags: ['rush'], producedBy: 'external' });
    await board.runUntilIdle();
    const invoices = await board.store.list({ type: Invoice });
    expect(invoices.map((i) => i.payload)).toEqual([{ total: 30 }]);
  });

  it('answers each bad publish with a clear 4xx and stores nothing', async () => {
    await start({ token: TOKEN, bodyLimit: 200 });
    const cases: [number, string, Parameters<typeof call>[3]][] = [
      [401, 'unauthorized', { body: { type: 'Order', payload: { qty: 1 } } }],
      [401, 'unauthorized', { body: { type: 'Order', payload: { qty: 1 } }, token: 'wrong-token-123456' }],
      [401, 'unauthorized', { body: { type: 'Order', payload: { qty: 1 } }, headers: { authorization: `Basic ${TOKEN}` } }],
      [400, 'validation_failed', { body: { type: 'Order', payload: { qty: 0, note: 5 } }, token: TOKEN }],
      [404, 'unknown_type', { body: { type: 'Nope', payload: {} }, token: TOKEN }],
      [413, 'payload_too_large', { body: { type: 'Order', payload: { qty: 1, note: 'x'.repeat(500) } }, token: TOKEN }],
      [415, 'unsupported_media_type', { raw: 'type=Order', headers: { 'content-type': 'application/x-www-form-urlencoded' }, token: TOKEN }],
      [415, 'unsupported_media_type', { raw: '{}', token: TOKEN }],
      [400, 'invalid_json', { raw: '{"type":', headers: { 'content-type': 'application/json' }, token: TOKEN }],
      [400, 'invalid_request', { body: ['Order'], token: TOKEN }],
      [400, 'invalid_request', { body: { type: 'Order' }, token: TOKEN }],
      [400, 'invalid_request', { body: { type: 'Order', payload: { qty: 1 }, extra: true }, token: TOKEN }],
      [400, 'invalid_request', { body: { type: 'Order', payload: { qty: 1 }, tags: 'x' }, token: TOKEN }],
      [400, 'invalid_request', { body: { type: 'Order', payload: { qty: 1 }, visibility: { kind: 'secret' } }, token: TOKEN }],
      [400, 'invalid_request', { body: { type: 'Order', payload: { qty: 1 }, correlationId: 7 }, token: TOKEN }],
    ];
    for (const [status, code, options] of cases) {
      const reply = await call(server.url, 'POST', 'api/artifacts', options);
      expect({ status: reply.status, code: reply.json?.error?.code }, JSON.stringify(options)).toEqual({ status, code });
      expect(typeof reply.json.error.message).toBe('string');
    }
    const invalid = await call(server.url, 'POST', 'api/artifacts', { body: { type: 'Order', payload: { qty: 0, note: 5 } }, token: TOKEN });
    expect(invalid.json.error.details.map((d: { path: string }) => d.path).sort()).toEqual(['note', 'qty']);
    expect((await call(server.url, 'POST', 'api/artifacts', { body: {}, token: 'bad-token-000000' })).headers['www-authenticate']).toMatch(/^Bearer/);
    expect(await board.store.list()).toEqual([]);
  });

  it('answers 409 for a publish into a cancelled workflow', async () => {
    await start();
    await board.workflow('wf-x').cancel();
    const reply = await call(server.url, 'POST', 'api/artifacts', { body: { type: 'Order', payload: { qty: 1 }, correlationId: 'wf-x' }, token: TOKEN });
    expect(reply.status).toBe(409);
    expect(await board.store.list()).toEqual([]);
  });

  it('publishes a type no agent declares only when given in options.types', async () => {
    const Extra = artifactType('Extra', z.number());
    await start({ token: TOKEN, types: [Extra] });
    expect((await call(server.url, 'POST', 'api/artifacts', { body: { type: 'Extra', payload: 1 }, token: TOKEN })).status).toBe(201);
    const types = (await call(server.url, 'GET', 'api/types')).json.types as { name: string; jsonSchema: unknown }[];
    expect(types.map((t) => t.name).sort()).toEqual(['Extra', 'Invoice', 'Order', 'Secret']);
    expect(types.find((t) => t.name === 'Order')?.jsonSchema).toMatchObject({ type: 'object', properties: { qty: { type: 'integer' } }, required: ['qty'] });
  });
});

describe('serve: reading', () => {
  it('queries artifacts by type, correlation id, producer, since and limit, with a cursor', async () => {
    await start();
    for (let i = 1; i <= 5; i++) await board.publish(Order, { qty: i }, { correlationId: `wf-${i % 2}` });
    await board.runUntilIdle();
    const get = async (q: string) => (await call(server.url, 'GET', `api/artifacts${q}`)).json;
    expect((await get('?type=Order')).artifacts).toHaveLength(5);
    expect((await get('?type=Invoice&producedBy=billing')).artifacts).toHaveLength(5);
    expect((await get('?correlationId=wf-1&type=Order')).artifacts.map((a: { payload: { qty: number } }) => a.payload.qty)).toEqual([1, 3, 5]);
    expect((await get(`?since=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`)).artifacts).toEqual([]);
    const pages: number[][] = [];
    let cursor: string | null = null;
    do {
      const page = (await get(`?type=Order&limit=2${cursor ? `&cursor=${cursor}` : ''}`)) as { artifacts: { payload: { qty: number } }[]; nextCursor: string | null };
      pages.push(page.artifacts.map((a) => a.payload.qty));
      cursor = page.nextCursor;
    } while (cursor !== null && pages.length < 10);
    expect(pages.flat()).toEqual([1, 2, 3, 4, 5]);
    const one = (await get('?type=Order&limit=1')).artifacts[0];
    expect((await call(server.url, 'GET', `api/artifacts/${one.id}`)).json.artifact).toEqual(one);
  });

  it('answers 400 for bad queries and 404 for unknown ids and routes, 405 for a wrong method', async () => {
    await start();
    for (const q of ['?limit=0', '?limit=abc', '?limit=5000', '?since=yesterday', '?cursor=nonsense', '?colour=red']) {
      const reply = await call(server.url, 'GET', `api/artifacts${q}`);
      expect({ q, status: reply.status, code: reply.json.error.code }).toEqual({ q, status: 400, code: 'invalid_query' });
    }
    expect((await call(server.url, 'GET', 'api/artifacts/nope')).status).toBe(404);
    expect((await call(server.url, 'GET', 'api/nothing')).json.error.code).toBe('not_found');
    const wrong = await call(server.url, 'DELETE', 'api/artifacts');
    expect(wrong.status).toBe(405);
    expect(wrong.headers.allow).toBe('POST, GET');
    expect((await call(server.url, 'GET', 'events?kinds=bogus')).status).toBe(400);
    expect((await call(server.url, 'GET', 'api/runs?limit=-1')).status).toBe(400);
  });

  it('serves stats and the agent graph', async () => {
    await start();
    await board.publish(Order, { qty: 1 });
    await board.runUntilIdle();
    const graph = (await call(server.url, 'GET', 'api/graph')).json;
    expect(graph.agents).toContainEqual({ name: 'billing', consumes: [['Order']], publishes: ['Invoice'], labels: [], stats: expect.objectContaining({ done: 1, failed: 0 }) });
    expect(graph.published).toBe(2);
    const stats = (await call(server.url, 'GET', 'api/stats')).json;
    expect(stats).toMatchObject({ published: 2, idle: true, agents: { archive: { done: 1 } }, server: { sseClients: 0, webhooks: null } });
  });

  it('applies visibility when the caller presents an identity', async () => {
    await start();
    await board.publish(Secret, 'for hr', { visibility: visibility.private(['hr']) });
    await board.publish(Secret, 'for acme', { visibility: visibility.tenant('acme') });
    await board.publish(Secret, 'internal', { visibility: visibility.labels(['internal']) });
    await board.publish(Secret, 'public');
    const read = async (headers: Record<string, string>) =>
      ((await call(server.url, 'GET', 'api/artifacts?type=Secret', { headers })).json.artifacts as { payload: string }[]).map((a) => a.payload);
    expect(await read({})).toEqual(['for hr', 'for acme', 'internal', 'public']);
    expect(await read({ 'x-skein-viewer': 'hr' })).toEqual(['for hr', 'public']);
    expect(await read({ 'x-skein-tenant': 'acme' })).toEqual(['for acme', 'public']);
    expect(await read({ 'x-skein-labels': 'internal, ops' })).toEqual(['internal', 'public']);
    const hidden = (await board.store.list({ type: Secret }))[0]!;
    expect((await call(server.url, 'GET', `api/artifacts/${hidden.id}`, { headers: { 'x-skein-tenant': 'acme' } })).status).toBe(404);
  });

  it('refuses reads without an identity when requireIdentity, and reads without the token when protectReads', async () => {
    await start({ token: TOKEN, requireIdentity: true, protectReads: true });
    expect((await call(server.url, 'GET', 'api/stats')).status).toBe(401);
    expect((await call(server.url, 'GET', 'api/stats', { token: TOKEN })).json.error.code).toBe('identity_required');
    expect((await call(server.url, 'GET', 'api/stats', { token: TOKEN, headers: { 'x-skein-viewer': 'ops' } })).status).toBe(200);
  });
});

describe('serve: workflows and dead letters', () => {
  it('shows, pauses, resumes and cancels a workflow, with its artifacts and runs', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    await start({ token: TOKEN }, (b) => {
      b.agent('billing').consumes(Order).publishes(Invoice).handle(async ([o]) => {
        await gate;
        return { total: o.payload.qty };
      });
    });
    const post = (path: string, body: unknown = {}) => call(server.url, 'POST', path, { body, token: TOKEN });
    expect((await call(server.url, 'POST', 'api/workflows/wf/pause', { body: {} })).status).toBe(401);
    expect((await post('api/workflows/wf/pause')).json.workflow).toEqual({ id: 'wf', state: 'paused' });
    await board.publish(Order, { qty: 2 }, { correlationId: 'wf' });
    const shown = (await call(server.url, 'GET', 'api/workflows/wf')).json.workflow;
    expect(shown).toMatchObject({ id: 'wf', state: 'paused', pending: { paused: 1, running: 0 } });
    expect((await call(server.url, 'GET', 'api/workflows/wf/runs')).json.runs).toMatchObject([{ agent: 'billing', state: 'queued' }]);
    expect((await post('api/workflows/wf/resume')).json.workflow.state).toBe('active');
    release();
    await board.workflow('wf').done();
    expect((await call(server.url, 'GET', 'api/workflows/wf/artifacts')).json.artifacts.map((a: { type: string }) => a.type)).toEqual(['Order', 'Invoice']);
    await new Promise((resolve) => setImmediate(resolve));
    expect((await call(server.url, 'GET', 'api/workflows/wf/runs')).json.runs).toMatchObject([{ agent: 'billing', state: 'finished' }]);
    expect((await post('api/workflows/wf/cancel', { reason: 'enough' })).json.workflow.state).toBe('cancelled');
    expect((await post('api/workflows/wf/resume')).status).toBe(409);
    expect((await post('api/workflows/wf/cancel', { reason: 5 })).status).toBe(400);
    expect((await call(server.url, 'POST', 'api/workflows/wf/pause', { raw: '', token: TOKEN })).status).toBe(415);
  });

  it('lists dead letters and replays one; 404 for an unknown letter', async () => {
    let fail = true;
    await start({ token: TOKEN }, (b) => {
      b.agent('billing').consumes(Order).retry({ maxAttempts: 1 }).handle(() => {
        if (fail) throw new Error('card declined');
      });
    });
    await board.publish(Order, { qty: 1 });
    await board.runUntilIdle();
    const letters = (await call(server.url, 'GET', 'api/dead-letters')).json.deadLetters as { id: string; error: { message: string } }[];
    expect(letters.map((l) => l.error.message)).toEqual(['card declined']);
    expect((await call(server.url, 'GET', 'api/dead-letters?agent=nobody')).json.deadLetters).toEqual([]);
    expect((await call(server.url, 'POST', `api/dead-letters/${letters[0]!.id}/replay`, { body: {} })).status).toBe(401);
    expect((await call(server.url, 'POST', 'api/dead-letters/nope/replay', { body: {}, token: TOKEN })).status).toBe(404);
    fail = false;
    expect((await call(server.url, 'POST', `api/dead-letters/${letters[0]!.id}/replay`, { body: {}, token: TOKEN })).status).toBe(202);
    await board.runUntilIdle();
    expect(await board.deadLetters()).toEqual([]);
    expect(board.stats().agents.billing).toMatchObject({ done: 1, failed: 1 });
  });
});

describe('serve: the gate', () => {
  it('refuses foreign Host headers on loopback (DNS rebinding) and cross-origin writes', async () => {
    await start();
    expect((await call(server.url, 'GET', 'api/stats', { headers: { host: 'evil.example:80' } })).status).toBe(403);
    const cross = await call(server.url, 'POST', 'api/artifacts', { body: { type: 'Order', payload: { qty: 1 } }, token: TOKEN, headers: { origin: 'https://evil.example' } });
    expect(cross.json.error.code).toBe('cross_origin_write');
    expect(cross.headers['access-control-allow-origin']).toBeUndefined();
    expect((await call(server.url, 'OPTIONS', 'api/artifacts', { headers: { origin: 'https://evil.example' } })).status).toBe(403);
  });

  it('answers CORS only for configured origins', async () => {
    await start({ token: TOKEN, cors: { origins: ['https://ops.example'] } });
    const preflight = await call(server.url, 'OPTIONS', 'api/artifacts', { headers: { origin: 'https://ops.example', 'access-control-request-method': 'POST' } });
    expect(preflight.status).toBe(204);
    expect(preflight.headers['access-control-allow-origin']).toBe('https://ops.example');
    expect(preflight.headers['access-control-allow-headers']).toContain('authorization');
    const write = await call(server.url, 'POST', 'api/artifacts', { body: { type: 'Order', payload: { qty: 1 } }, token: TOKEN, headers: { origin: 'https://ops.example' } });
    expect(write.status).toBe(201);
    expect(write.headers['access-control-allow-origin']).toBe('https://ops.example');
  });

  it('rate-limits each client with a 429 and Retry-After', async () => {
    await start({ token: TOKEN, rateLimit: { limit: 1, intervalMs: 60_000, burst: 3 } });
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await call(server.url, 'GET', 'api/stats')).status);
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
    const refused = await call(server.url, 'GET', 'api/stats');
    expect(refused.json.error.code).toBe('rate_limited');
    expect(refused.headers['retry-after']).toBe('1');
    expect((await call(server.url, 'GET', '')).status).toBe(200); // the dashboard page is not counted
  });

  it('closes when its signal aborts', async () => {
    const controller = new AbortController();
    await start({ token: TOKEN, signal: controller.signal });
    controller.abort();
    await server.close();
    await expect(call(server.url, 'GET', 'api/stats')).rejects.toThrow();
  });
});

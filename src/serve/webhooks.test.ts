import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Board, artifactType } from '../board/index.js';
import { MemoryStore } from '../board/stores/memory-store.js';
import { SqliteStore } from '../board/stores/sqlite/sqlite-store.js';
import { call, settle } from './fixtures/client.js';
import { serve, signWebhook, verifyWebhook, type ServeHandle, type ServeOptions, type WebhookOptions } from './index.js';

const SECRET = 'webhook-secret-0123456789';
const TOKEN = 'test-token-0123456789';
const Order = artifactType('Order', z.object({ qty: z.number() }));
const Note = artifactType('Note', z.string());

type Mode = 'ok' | 'fail' | 'stall';

/** A receiver on 127.0.0.1 whose answers the test scripts: fail, stall (never answer) or accept. */
class Receiver {
  readonly server: Server;
  readonly received: { headers: IncomingHttpHeaders; body: string; mode: Mode }[] = [];
  readonly stalled: ServerResponse[] = [];
  modes: Mode[] = [];
  fallback: Mode = 'ok';
  #waiters = new Set<() => void>();

  constructor() {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const mode = this.modes.shift() ?? this.fallback;
        this.received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), mode });
        if (mode === 'ok') res.writeHead(204).end();
        else if (mode === 'fail') res.writeHead(500).end('down');
        else this.stalled.push(res);
        for (const w of [...this.#waiters]) w();
      });
    });
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hook`;
  }

  /** Resolves once `n` requests have arrived. */
  until(n: number): Promise<void> {
    return new Promise((resolve) => {
      const check = (): void => {
        if (this.received.length >= n) {
          this.#waiters.delete(check);
          resolve();
        }
      };
      this.#waiters.add(check);
      check();
    });
  }

  async close(): Promise<void> {
    for (const res of this.stalled) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await settle();
  }
}

let board: Board;
let server: ServeHandle;
let receiver: Receiver;

async function start(webhooks: (url: string) => WebhookOptions, extra: Partial<ServeOptions> = {}): Promise<string> {
  receiver = new Receiver();
  const url = await receiver.listen();
  board = new Board();
  board.agent('sink').consumes(Order).consumes(Note).handle(() => {});
  server = await serve(board, { token: TOKEN, webhooks: webhooks(url), rateLimit: false, ...extra });
  return url;
}

/** Polls the server's own API (no sleeps): resolves when `check` holds for its answer. */
async function eventually<T>(read: () => Promise<T>, check: (value: T) => boolean): Promise<T> {
  for (;;) {
    const value = await read();
    if (check(value)) return value;
    await settle();
  }
}

afterEach(async () => {
  await server?.close();
  await board?.shutdown();
  await receiver?.close();
});

const fast = { initialBackoffMs: 1, maxBackoffMs: 5 };

describe('webhooks', () => {
  it('delivers artifacts of subscribed types, signed over timestamp.body', async () => {
    await start((url) => ({ secret: SECRET, subscriptions: [{ url, types: ['Order'] }] }));
    await board.publish(Note, 'not subscribed');
    const order = await board.publish(Order, { qty: 2 });
    await receiver.until(1);
    const [delivery] = receiver.received;
    expect(verifyWebhook(SECRET, delivery!.headers, delivery!.body)).toBe(true);
    expect(JSON.parse(delivery!.body)).toMatchObject({ event: 'artifact.published', artifact: { id: order.id, type: 'Order', payload: { qty: 2 } } });
    expect(delivery!.headers['x-skein-webhook-signature']).toMatch(/^v1=[0-9a-f]{64}$/);
    const stats = await eventually(async () => (await call(server.url, 'GET', 'api/stats')).json.server.webhooks, (s) => s.delivered === 1);
    expect(stats).toMatchObject({ delivered: 1, failed: 0 });
    expect(receiver.received).toHaveLength(1);
  });

  it('retries a failing receiver with the same delivery id until it recovers', async () => {
    await start((url) => ({ secret: SECRET, subscriptions: [{ url, types: ['*'] }], maxAttempts: 5, ...fast }));
    receiver.modes = ['fail', 'fail'];
    await board.publish(Order, { qty: 1 });
    await receiver.until(3);
    expect(receiver.received.map((r) => r.mode)).toEqual(['fail', 'fail', 'ok']);
    expect(new Set(receiver.received.map((r) => r.headers['x-skein-webhook-id'])).size).toBe(1);
    await eventually(async () => (await call(server.url, 'GET', 'api/stats')).json.server.webhooks.delivered, (n) => n === 1);
  });

  it('times out a stalled receiver and retries', async () => {
    await start((url) => ({ secret: SECRET, subscriptions: [{ url, types: ['Order'] }], timeoutMs: 50, ...fast }));
    receiver.modes = ['stall'];
    await board.publish(Order, { qty: 1 });
    await receiver.until(2);
    expect(receiver.received.map((r) => r.mode)).toEqual(['stall', 'ok']);
    await eventually(async () => (await call(server.url, 'GET', 'api/stats')).json.server.webhooks.delivered, (n) => n === 1);
  });

  it('records a failure when it gives up, lists it, and delivers it again on request', async () => {
    await start((url) => ({ secret: SECRET, subscriptions: [{ url, types: ['Order'] }], maxAttempts: 2, breakerFailures: 100, ...fast }));
    receiver.fallback = 'fail';
    const order = await board.publish(Order, { qty: 1 });
    const failures = await eventually(async () => (await call(server.url, 'GET', 'api/webhooks/failures')).json.failures, (f: { id: string; error: string }[]) => f.length === 1);
    expect(failures[0]).toMatchObject({ artifactId: order.id, type: 'Order', attempts: 2, error: expect.stringContaining('answered 500') });
    expect(receiver.received).toHaveLength(2);
    receiver.fallback = 'ok';
    expect((await call(server.url, 'POST', `api/webhooks/failures/${failures[0]!.id}/redeliver`, { body: {} })).status).toBe(401);
    expect((await call(server.url, 'POST', 'api/webhooks/failures/nope/redeliver', { body: {}, token: TOKEN })).status).toBe(404);
    expect((await call(server.url, 'POST', `api/webhooks/failures/${failures[0]!.id}/redeliver`, { body: {}, token: TOKEN })).status).toBe(202);
    await receiver.until(3);
    expect(receiver.received[2]!.mode).toBe('ok');
    expect((await call(server.url, 'GET', 'api/webhooks/failures')).json.failures).toEqual([]);
  });

  it('opens the endpoint breaker after consecutive failures: later deliveries are refused without a call', async () => {
    await start((url) => ({ secret: SECRET, subscriptions: [{ url, types: ['Order'] }], maxAttempts: 5, breakerFailures: 2, breakerOpenMs: 60_000, ...fast }));
    receiver.fallback = 'fail';
    await board.publish(Order, { qty: 1 });
    const first = await eventually(async () => (await call(server.url, 'GET', 'api/webhooks/failures')).json.failures, (f: { id: string; error: string }[]) => f.length === 1);
    expect(first[0]!.error).toMatch(/BrokenCircuitError/);
    expect(receiver.received).toHaveLength(2);
    await board.publish(Order, { qty: 2 });
    await eventually(async () => (await call(server.url, 'GET', 'api/webhooks/failures')).json.failures, (f: { id: string; error: string }[]) => f.length === 2);
    expect(receiver.received).toHaveLength(2);
    const stats = (await call(server.url, 'GET', 'api/stats')).json.server.webhooks;
    expect(Object.values(stats.breakers)).toEqual(['open']);
  });

  it('bounds deliveries in flight, and close aborts a stalled one', async () => {
    await start((url) => ({ secret: SECRET, subscriptions: [{ url, types: ['Order'] }], concurrency: 2, timeoutMs: 60_000 }));
    receiver.fallback = 'stall';
    for (let i = 0; i < 5; i++) await board.publish(Order, { qty: i });
    await receiver.until(2);
    const stats = await eventually(async () => (await call(server.url, 'GET', 'api/stats')).json.server.webhooks, (s) => s.queued === 3);
    expect(stats).toMatchObject({ running: 2, queued: 3 });
    expect(receiver.received).toHaveLength(2);
    await server.close();
    expect(receiver.received).toHaveLength(2);
  });

  it('subscribes and unsubscribes through the API, with 4xx for bad input', async () => {
    const url = await start(() => ({ secret: SECRET }));
    const post = (body: unknown, token: string | null = TOKEN) => call(server.url, 'POST', 'api/webhooks', { body, ...(token === null ? {} : { token }) });
    expect((await post({ url, types: ['Order'] }, null)).status).toBe(401);
    for (const bad of [{ url: 'ftp://x/', types: ['Order'] }, { url: 'not a url', types: ['Order'] }, { url, types: [] }, { url, types: [3] }, []]) {
      const reply = await post(bad);
      expect({ bad, status: reply.status, code: reply.json.error.code }).toEqual({ bad, status: 400, code: 'invalid_request' });
    }
    const created = await post({ url, types: ['Order'] });
    expect(created.status).toBe(201);
    const id = created.json.webhook.id as string;
    expect((await call(server.url, 'GET', 'api/webhooks')).json.webhooks).toEqual([{ id, url, types: ['Order'] }]);
    await board.publish(Order, { qty: 1 });
    await receiver.until(1);
    expect((await call(server.url, 'DELETE', `api/webhooks/${id}`, { token: TOKEN })).status).toBe(200);
    expect((await call(server.url, 'DELETE', `api/webhooks/${id}`, { token: TOKEN })).status).toBe(404);
    expect((await call(server.url, 'GET', 'api/webhooks')).json.webhooks).toEqual([]);
  });

  it('answers 409 for a subscription when webhooks are off, and refuses to start without a secret', async () => {
    board = new Board();
    server = await serve(board, { token: TOKEN });
    expect((await call(server.url, 'POST', 'api/webhooks', { body: { url: 'http://127.0.0.1:1/', types: ['*'] }, token: TOKEN })).status).toBe(409);
    const saved = process.env.SKEIN_SERVE_WEBHOOK_SECRET;
    delete process.env.SKEIN_SERVE_WEBHOOK_SECRET;
    try {
      await expect(serve(board, { token: TOKEN, webhooks: {} })).rejects.toThrow(/signing secret/);
      await expect(serve(board, { token: TOKEN, webhooks: { secret: SECRET, subscriptions: [{ url: 'mailto:x', types: ['*'] }] } })).rejects.toThrow(/http/);
    } finally {
      if (saved !== undefined) process.env.SKEIN_SERVE_WEBHOOK_SECRET = saved;
    }
  });
});

describe('webhooks kept in the store', () => {
  it('keeps subscriptions made through the API and failed deliveries across a restart on SQLite; configured ones are not stored', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'skein-webhooks-'));
    const path = join(dir, 'board.db');
    receiver = new Receiver();
    const url = await receiver.listen();
    receiver.fallback = 'fail';
    const configured = { url: `${url}?configured`, types: ['Note'] };
    const life = async (): Promise<SqliteStore> => {
      const store = new SqliteStore({ path });
      board = new Board({ store });
      board.agent('sink').consumes(Order).consumes(Note).handle(() => {});
      server = await serve(board, { token: TOKEN, rateLimit: false, webhooks: { secret: SECRET, maxAttempts: 1, ...fast, subscriptions: [configured] } });
      return store;
    };
    const end = async (store: SqliteStore): Promise<void> => {
      await server.close();
      await board.shutdown();
      store.close();
    };
    try {
      // First life: a subscription through the API, one delivery that fails.
      let store = await life();
      const made = await call(server.url, 'POST', 'api/webhooks', { body: { url, types: ['Order'] }, token: TOKEN });
      expect(made.status).toBe(201);
      const hook = made.json.webhook as { id: string };
      const order = await board.publish(Order, { qty: 3 });
      await receiver.until(1);
      const [failure] = await eventually(async () => (await call(server.url, 'GET', 'api/webhooks/failures')).json.failures, (f) => f.length === 1);
      expect(failure).toMatchObject({ webhookId: hook.id, artifactId: order.id, type: 'Order', attempts: 1 });
      const firstDeliveryId = receiver.received[0]!.headers['x-skein-webhook-id'];
      const configuredId = (await call(server.url, 'GET', 'api/webhooks')).json.webhooks.find((w: { url: string }) => w.url === configured.url).id as string;
      await end(store);

      // Second life: both are back; the configured subscription is there once, with the same id.
      store = await life();
      const hooks = (await call(server.url, 'GET', 'api/webhooks')).json.webhooks as { id: string; url: string }[];
      expect(hooks.map((h) => h.id).sort()).toEqual([hook.id, configuredId].sort());
      expect((await call(server.url, 'GET', 'api/webhooks/failures')).json.failures).toEqual([failure]);
      // The receiver recovers: the failure is delivered again, with its delivery id, its artifact read from the store.
      receiver.fallback = 'ok';
      expect((await call(server.url, 'POST', `api/webhooks/failures/${failure.id}/redeliver`, { body: {}, token: TOKEN })).status).toBe(202);
      await receiver.until(2);
      const again = receiver.received[1]!;
      expect(again.headers['x-skein-webhook-id']).toBe(firstDeliveryId);
      expect(verifyWebhook(SECRET, again.headers, again.body)).toBe(true);
      expect(JSON.parse(again.body).artifact).toEqual(order);
      expect((await call(server.url, 'GET', 'api/webhooks/failures')).json.failures).toEqual([]);
      expect((await call(server.url, 'DELETE', `api/webhooks/${hook.id}`, { token: TOKEN })).status).toBe(200);
      await end(store);

      // Third life: the redelivered failure and the deleted subscription stay gone.
      store = await life();
      expect((await call(server.url, 'GET', 'api/webhooks')).json.webhooks.map((h: { id: string }) => h.id)).toEqual([configuredId]);
      expect((await call(server.url, 'GET', 'api/webhooks/failures')).json.failures).toEqual([]);
      expect(store.listValues('skein.serve.webhooks')).toEqual([]);
      await end(store);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keeps only the last maxFailures failures in the store, and persist: false keeps nothing there', async () => {
    receiver = new Receiver();
    const url = await receiver.listen();
    receiver.fallback = 'fail';
    const store = new MemoryStore();
    board = new Board({ store });
    board.agent('sink').consumes(Order).handle(() => {});
    server = await serve(board, { token: TOKEN, rateLimit: false, webhooks: { secret: SECRET, maxAttempts: 1, ...fast, maxFailures: 2, concurrency: 1, subscriptions: [{ url, types: ['Order'] }] } });
    const orders: { id: string }[] = [];
    for (let i = 0; i < 4; i++) orders.push(await board.publish(Order, { qty: i }));
    const failures = await eventually(async () => (await call(server.url, 'GET', 'api/webhooks/failures')).json.failures as { artifactId: string }[], (f) => f.some((x) => x.artifactId === orders[3]!.id));
    expect(failures.map((f) => f.artifactId)).toEqual([orders[2]!.id, orders[3]!.id]);
    await server.close(); // waits for the store writes
    expect(store.listValues('skein.serve.webhook-failures').map((k) => (k.value as { artifactId: string }).artifactId)).toEqual([orders[2]!.id, orders[3]!.id]);
    await board.shutdown();

    board = new Board({ store: new MemoryStore() });
    server = await serve(board, { token: TOKEN, webhooks: { secret: SECRET, persist: false } });
    expect((await call(server.url, 'POST', 'api/webhooks', { body: { url, types: ['*'] }, token: TOKEN })).status).toBe(201);
    expect((board.store as MemoryStore).listValues('skein.serve.webhooks')).toEqual([]);
  });
});

describe('verifyWebhook', () => {
  const body = JSON.stringify({ artifact: { id: 'a1' } });
  const now = 1_800_000_000_000;
  const headers = signWebhook(SECRET, body, { timestamp: now / 1000 });

  it('accepts a genuine delivery, from a plain record or a Headers object', () => {
    expect(verifyWebhook(SECRET, headers, body, { now })).toBe(true);
    expect(verifyWebhook(SECRET, new Headers(headers), Buffer.from(body), { now })).toBe(true);
  });

  it('refuses a wrong secret, a tampered body, a replay outside the window and missing headers', () => {
    expect(verifyWebhook('another secret', headers, body, { now })).toBe(false);
    expect(verifyWebhook(SECRET, headers, body.replace('a1', 'a2'), { now })).toBe(false);
    expect(verifyWebhook(SECRET, headers, body, { now: now + 301_000 })).toBe(false);
    expect(verifyWebhook(SECRET, headers, body, { now: now + 301_000, toleranceSec: 600 })).toBe(true);
    expect(verifyWebhook(SECRET, { ...headers, 'x-skein-webhook-timestamp': String(now / 1000 + 1) }, body, { now })).toBe(false);
    expect(verifyWebhook(SECRET, {}, body, { now })).toBe(false);
    expect(verifyWebhook(SECRET, { ...headers, 'x-skein-webhook-signature': 'v1=00' }, body, { now })).toBe(false);
  });
});

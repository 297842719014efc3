/**
 * `serve(board, options)`: the board over HTTP on `node:http`. A JSON API under `/api`, the live
 * event stream at `/events` (Server-Sent Events), webhooks, and the dashboard at `/`.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CancelledError } from '../core/errors.js';
import { isThenable } from '../core/task.js';
import { Deque } from '../flow/deque.js';
import { RateLimiter } from '../flow/rate-limiter.js';
import type { AnyArtifactType, Artifact } from '../board/artifact.js';
import type { Board } from '../board/board.js';
import type { BoardEvent } from '../board/events.js';
import { BoardClosedError, PublishBlockedError, ValidationError } from '../board/errors.js';
import { summarizeError } from '../board/builtins.js';
import { isVisibleTo, type Viewer } from '../board/visibility.js';
import { dashboardHtml } from './dashboard.js';
import { expectObject, HttpError, isLoopback, readJson, safeEqual, sendError, sendJson } from './http.js';
import { RunHistory } from './runs.js';
import { StoreFeed } from './feed.js';
import { checkFollow, checkServeOptions, type Identity, type ServeOptions } from './options.js';
import { EventLog } from './sse.js';
import { checkSubscription, Webhooks } from './webhooks.js';

/**
 * A running server, from {@link serve}. `close()` (or `await using`) ends the event streams, stops
 * webhook deliveries and releases every listener and timer; the board is left running.
 *
 * @example
 * ```ts
 * import { Board } from 'skein/board';
 * import { serve } from 'skein/serve';
 * await using board = new Board();
 * await using server = await serve(board, { auth: false });
 * console.log(server.url); // http://127.0.0.1:<port>/
 * ```
 */
export interface ServeHandle extends AsyncDisposable {
  /** The base URL, ending in `/`. */
  readonly url: string;
  readonly port: number;
  /** Stops the server; idempotent. */
  close(): Promise<void>;
}

const DEFAULT_LIMIT = 100;
/** How long events gather before the SSE clients are written (`eventFlushMs`). */
const DEFAULT_EVENT_FLUSH_MS = 5;
/** Events waiting behind an artifact lookup before the oldest are dropped (and a `lagged` event says so). */
const INGEST_BACKLOG = 65_536;
const MAX_LIMIT = 1_000;
// Every kind of board event, checked by the compiler: a new kind must be named here to be asked for.
const KIND_NAMES: Record<BoardEvent['kind'], true> = {
  published: true, scheduled: true, started: true, retrying: true, finished: true, failed: true, cancelled: true,
  progress: true, usage: true, skipped: true, blocked: true, idle: true, lagged: true, error: true,
};
const EVENT_KINDS: ReadonlySet<string> = new Set(Object.keys(KIND_NAMES));

function headerIdentity(req: IncomingMessage): Identity | undefined {
  const header = (name: string): string | undefined => {
    const value = req.headers[name];
    return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
  };
  const name = header('x-skein-viewer');
  const tenant = header('x-skein-tenant');
  const labels = header('x-skein-labels');
  if (name === undefined && tenant === undefined && labels === undefined) return undefined;
  return { name, tenant, labels: labels?.split(',').map((l) => l.trim()).filter((l) => l !== '') };
}

const toViewer = (identity: Identity): Viewer => ({ name: identity.name ?? '', labels: new Set(identity.labels ?? []), tenant: identity.tenant });

/** Cursor of an artifact page: the last createdAt seen and how many artifacts with it were already returned. */
interface Cursor {
  readonly since: string;
  readonly skip: number;
}

const encodeCursor = (cursor: Cursor): string => Buffer.from(JSON.stringify(cursor)).toString('base64url');

function decodeCursor(text: string): Cursor {
  try {
    const value = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as Cursor;
    if (typeof value.since === 'string' && !Number.isNaN(Date.parse(value.since)) && Number.isInteger(value.skip) && value.skip >= 0) return value;
  } catch {
    // falls through
  }
  throw new HttpError(400, 'invalid_query', 'cursor is not a cursor this server gave out', { details: [{ path: 'cursor', message: 'malformed' }] });
}

function queryLimit(params: URLSearchParams): number {
  const raw = params.get('limit');
  if (raw === null) return DEFAULT_LIMIT;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > MAX_LIMIT) {
    throw new HttpError(400, 'invalid_query', `limit must be an integer from 1 to ${MAX_LIMIT}`, { details: [{ path: 'limit', message: `got ${JSON.stringify(raw)}` }] });
  }
  return n;
}

/** The JSON Schema of a type's payload, when its validator can describe itself (Standard JSON Schema, as zod 4 does). */
function jsonSchemaOf(type: AnyArtifactType): unknown {
  const standard = (type.schema as { '~standard'?: { jsonSchema?: { input?: (options: { target: string }) => unknown } } })['~standard'];
  try {
    return standard?.jsonSchema?.input?.({ target: 'draft-2020-12' });
  } catch {
    return undefined;
  }
}

interface Request {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly url: URL;
  readonly params: readonly string[];
  readonly viewer: Viewer | undefined;
  readonly signal: AbortSignal;
}

type Handler = (request: Request) => Promise<void> | void;

interface Route {
  readonly method: string;
  readonly pattern: RegExp;
  readonly write: boolean;
  readonly handler: Handler;
}

/**
 * Serves a board over HTTP: a JSON API, the live event stream and the dashboard (docs/serve.md).
 * Binds to 127.0.0.1 unless `host` says otherwise. Writes need a bearer token (`token` or env
 * `SKEIN_SERVE_TOKEN`); without one it refuses to start, unless it is bound to loopback and `auth`
 * is `false`. Resolves once it listens.
 *
 * @example
 * ```ts
 * import { Board, artifactType } from 'skein/board';
 * import { serve } from 'skein/serve';
 * import { z } from 'zod';
 * const Order = artifactType('Order', z.object({ qty: z.number() }));
 * await using board = new Board();
 * board.agent('billing').consumes(Order).handle(() => {});
 * await using server = await serve(board, { token: 'a long random token' });
 * const res = await fetch(new URL('api/artifacts', server.url), {
 *   method: 'POST',
 *   headers: { authorization: 'Bearer a long random token', 'content-type': 'application/json' },
 *   body: JSON.stringify({ type: 'Order', payload: { qty: 2 } }),
 * });
 * console.log(res.status); // 201
 * ```
 */
export async function serve(board: Board, options: ServeOptions = {}): Promise<ServeHandle> {
  checkServeOptions(options);
  const host = options.host ?? '127.0.0.1';
  const loopback = isLoopback(host);
  const token = options.token ?? process.env.SKEIN_SERVE_TOKEN;
  if (token !== undefined && (typeof token !== 'string' || token.length < 8)) throw new TypeError('token must be a string of at least 8 characters');
  if (token === undefined) {
    if (options.auth !== false) throw new Error('serve needs a token for writes (option token or env SKEIN_SERVE_TOKEN); on a loopback address, auth: false serves without one');
    if (!loopback) throw new Error(`serve refuses to run without a token on ${host}: auth: false is allowed only on a loopback address`);
  }
  const protectReads = options.protectReads ?? !loopback;
  if (protectReads && token === undefined) throw new Error('protectReads needs a token');
  const bodyLimit = options.bodyLimit ?? 1024 * 1024;
  const origins = new Set(options.cors?.origins ?? []);
  const identify = options.identify ?? headerIdentity;
  const allowedHosts = options.allowedHosts ?? (loopback ? ['localhost', '127.0.0.1', '[::1]'] : undefined);
  const rate = options.rateLimit === undefined ? { limit: 50, intervalMs: 1_000, burst: 200 } : options.rateLimit;
  const heartbeatMs = options.heartbeatMs ?? 15_000;
  const extraTypes = new Map((options.types ?? []).map((t) => [t.name, t]));
  let webhooks: Webhooks | undefined;
  if (options.webhooks !== undefined) {
    const secret = options.webhooks.secret ?? process.env.SKEIN_SERVE_WEBHOOK_SECRET;
    if (typeof secret !== 'string' || secret.length < 16) throw new Error('webhooks need a signing secret of at least 16 characters (webhooks.secret or env SKEIN_SERVE_WEBHOOK_SECRET)');
    webhooks = new Webhooks(secret, options.webhooks, board.store);
    await webhooks.load();
  }
  const followSettings = checkFollow(options.follow ?? board.shared);
  if (options.signal?.aborted) throw options.signal.reason;

  const controller = new AbortController();
  const log = new EventLog(options.eventBuffer ?? 1_024, options.clientBacklog ?? 256, randomBytes(4).toString('hex'), options.eventFlushMs ?? DEFAULT_EVENT_FLUSH_MS);
  const runs = new RunHistory(4 * (options.runHistory ?? 10_000));
  const limiters = new Map<string, RateLimiter>();
  const streams = new Set<() => void>();

  const typeOf = (name: string): AnyArtifactType | undefined => board.graph().types.find((t) => t.name === name) ?? extraTypes.get(name);
  const visible = (artifact: Artifact, viewer: Viewer | undefined): boolean => viewer === undefined || isVisibleTo(artifact.visibility, artifact.producedBy, viewer);

  // ---- the board's events: the ring, the run history and the webhooks. A synchronous listener (no
  // promise per event); only a `published` event whose artifact must be looked up (identified SSE
  // clients, webhooks) takes the asynchronous path, and the events after it queue behind it, in order.
  const needsLookup = (event: BoardEvent): event is Extract<BoardEvent, { kind: 'published' }> =>
    event.kind === 'published' && (log.needsVisibility || webhooks?.wants(event.type) === true);
  const record = (event: BoardEvent, vis?: { visibility: Artifact['visibility']; producedBy: string }): void => {
    runs.track(event);
    log.append(event, vis);
  };
  const lookup = async (event: Extract<BoardEvent, { kind: 'published' }>): Promise<{ visibility: Artifact['visibility']; producedBy: string } | undefined> => {
    try {
      const found = board.store.getArtifacts([event.artifactId]);
      const [artifact] = isThenable(found) ? await found : found;
      if (artifact === undefined) return undefined;
      if (webhooks?.wants(artifact.type) === true) webhooks.dispatch(artifact);
      return { visibility: artifact.visibility, producedBy: artifact.producedBy };
    } catch {
      // The store failed: the event still goes out (identified clients do not see it).
      return undefined;
    }
  };
  let queued: Deque<BoardEvent> | undefined;
  let dropped = 0;
  let draining: Promise<void> = Promise.resolve();
  const drain = async (queue: Deque<BoardEvent>): Promise<void> => {
    for (let event = queue.shift(); event !== undefined; event = queue.shift()) {
      if (dropped > 0) {
        record({ kind: 'lagged', at: Date.now(), dropped });
        dropped = 0;
      }
      if (controller.signal.aborted) continue;
      record(event, needsLookup(event) ? await lookup(event) : undefined);
    }
    queued = undefined;
  };
  const ingestEvent = (event: BoardEvent): void => {
    if (queued !== undefined) {
      if (queued.length >= INGEST_BACKLOG) {
        queued.shift();
        dropped++;
      }
      queued.push(event);
    } else if (needsLookup(event)) {
      queued = new Deque<BoardEvent>();
      queued.push(event);
      draining = drain(queued);
    } else {
      record(event);
    }
  };
  const feed =
    followSettings === undefined
      ? undefined
      : new StoreFeed(board.store, followSettings, ingestEvent, (error) => {
          if (!controller.signal.aborted) ingestEvent({ kind: 'error', at: Date.now(), operation: 'following the store', error: summarizeError(error) });
        });
  const onEvent = feed === undefined ? ingestEvent : (event: BoardEvent): void => {
    if (feed.local(event)) ingestEvent(event);
  };
  feed?.start();
  const ingest = (async () => {
    try {
      // Yields nothing (onEvent takes every event); ends when the board shuts down or the server closes.
      for await (const event of board.events({ signal: controller.signal, onEvent })) void event;
    } catch {
      // The stream ends when the board shuts down or the server closes.
    }
    await draining;
  })();

  // ---- routes
  const routes: Route[] = [];
  const route = (method: string, path: string, write: boolean, handler: Handler): void => {
    routes.push({ method, pattern: new RegExp(`^${path.replace(/:[a-z]+/g, '([^/]+)')}$`), write, handler });
  };

  route('GET', '/api/types', false, ({ res }) => {
    const names = new Map([...board.graph().types, ...extraTypes.values()].map((t) => [t.name, t]));
    sendJson(res, 200, { types: [...names.values()].map((t) => ({ name: t.name, jsonSchema: jsonSchemaOf(t) ?? null })) });
  });

  route('GET', '/api/graph', false, ({ res }) => {
    const graph = board.graph();
    const stats = board.stats();
    sendJson(res, 200, {
      types: graph.types.map((t) => t.name),
      agents: graph.agents.map((agent) => ({ ...agent, stats: stats.agents[agent.name] })),
      published: stats.published,
      idle: stats.idle,
    });
  });

  route('GET', '/api/stats', false, ({ res }) => {
    sendJson(res, 200, { ...board.stats(), server: { sseClients: log.clients, webhooks: webhooks?.stats() ?? null } });
  });

  route('POST', '/api/artifacts', true, async ({ req, res, signal }) => {
    const body = expectObject(await readJson(req, bodyLimit, signal), 'the body');
    for (const key of Object.keys(body)) {
      if (!['type', 'payload', 'correlationId', 'tags', 'visibility'].includes(key)) throw new HttpError(400, 'invalid_request', `unknown field '${key}'`, { details: [{ path: key, message: 'not a publish field' }] });
    }
    if (typeof body.type !== 'string' || body.type === '') throw new HttpError(400, 'invalid_request', 'type must be a type name', { details: [{ path: 'type', message: 'required string' }] });
    if (!('payload' in body)) throw new HttpError(400, 'invalid_request', 'payload is required', { details: [{ path: 'payload', message: 'required' }] });
    const type = typeOf(body.type);
    if (type === undefined) throw new HttpError(404, 'unknown_type', `no artifact type named '${body.type}' on this board`);
    const artifact = await board.publish(type, body.payload, {
      signal,
      ...(body.correlationId === undefined ? {} : { correlationId: body.correlationId as string }),
      ...(body.tags === undefined ? {} : { tags: body.tags as string[] }),
      ...(body.visibility === undefined ? {} : { visibility: body.visibility as Artifact['visibility'] }),
    });
    sendJson(res, 201, { artifact });
  });

  route('GET', '/api/artifacts', false, async ({ res, url, viewer }) => {
    const p = url.searchParams;
    for (const key of p.keys()) {
      if (!['type', 'correlationId', 'producedBy', 'since', 'limit', 'cursor'].includes(key)) throw new HttpError(400, 'invalid_query', `unknown query parameter '${key}'`, { details: [{ path: key, message: 'not a query parameter' }] });
    }
    const limit = queryLimit(p);
    const cursorText = p.get('cursor');
    const cursor = cursorText === null ? undefined : decodeCursor(cursorText);
    const since = cursor?.since ?? p.get('since') ?? undefined;
    if (since !== undefined && Number.isNaN(Date.parse(since))) throw new HttpError(400, 'invalid_query', 'since must be an ISO 8601 date', { details: [{ path: 'since', message: `got ${JSON.stringify(since)}` }] });
    const skip = cursor?.skip ?? 0;
    const fetched = await board.store.list({
      ...(p.has('type') ? { type: p.get('type')! } : {}),
      ...(p.has('correlationId') ? { correlationId: p.get('correlationId')! } : {}),
      ...(p.has('producedBy') ? { producedBy: p.get('producedBy')! } : {}),
      ...(since === undefined ? {} : { since }),
      limit: limit + skip,
    });
    const page = fetched.slice(skip);
    let nextCursor: string | null = null;
    const last = page.at(-1);
    if (fetched.length === limit + skip && last !== undefined) {
      let same = 0;
      for (const a of fetched) if (a.createdAt === last.createdAt) same++;
      nextCursor = encodeCursor({ since: last.createdAt, skip: same });
    }
    sendJson(res, 200, { artifacts: page.filter((a) => visible(a, viewer)), nextCursor });
  });

  route('GET', '/api/artifacts/:id', false, async ({ res, params, viewer }) => {
    const found = board.store.getArtifacts([params[0]!]);
    const [artifact] = isThenable(found) ? await found : found;
    if (artifact === undefined || !visible(artifact, viewer)) throw new HttpError(404, 'not_found', `no artifact with id '${params[0]}'`);
    sendJson(res, 200, { artifact });
  });

  route('GET', '/api/runs', false, async ({ res, url }) => {
    const p = url.searchParams;
    const correlationId = p.get('correlationId') ?? undefined;
    const agent = p.get('agent') ?? undefined;
    const stored = await board.store.listRuns({ ...(correlationId === undefined ? {} : { correlationId }), ...(agent === undefined ? {} : { agent }) });
    sendJson(res, 200, { runs: runs.list({ correlationId, agent }, stored, queryLimit(p)) });
  });

  route('GET', '/api/workflows/:id', false, async ({ res, params }) => {
    const id = params[0]!;
    const pending = await board.store.pending({ correlationId: id });
    sendJson(res, 200, { workflow: { id, state: board.workflow(id).state, pending } });
  });

  route('GET', '/api/workflows/:id/artifacts', false, async ({ res, params, viewer, url }) => {
    const artifacts = await board.workflow(params[0]!).artifacts({ limit: queryLimit(url.searchParams) });
    sendJson(res, 200, { artifacts: artifacts.filter((a) => visible(a, viewer)) });
  });

  route('GET', '/api/workflows/:id/runs', false, async ({ res, params, url }) => {
    const stored = await board.store.listRuns({ correlationId: params[0]! });
    sendJson(res, 200, { runs: runs.list({ correlationId: params[0]! }, stored, queryLimit(url.searchParams)) });
  });

  for (const action of ['pause', 'resume', 'cancel'] as const) {
    route('POST', `/api/workflows/:id/${action}`, true, async ({ req, res, params, signal }) => {
      const body = expectObject(await readJson(req, bodyLimit, signal), 'the body');
      const workflow = board.workflow(params[0]!);
      if (action === 'cancel') {
        if (body.reason !== undefined && typeof body.reason !== 'string') throw new HttpError(400, 'invalid_request', 'reason must be a string', { details: [{ path: 'reason', message: 'not a string' }] });
        await workflow.cancel(new CancelledError(typeof body.reason === 'string' ? body.reason : 'cancelled through the API'));
      } else {
        if (action === 'resume' && workflow.state === 'cancelled') throw new HttpError(409, 'workflow_cancelled', `workflow '${workflow.id}' is cancelled and cannot resume`);
        await workflow[action]();
      }
      sendJson(res, 200, { workflow: { id: workflow.id, state: workflow.state } });
    });
  }

  route('GET', '/api/dead-letters', false, async ({ res, url }) => {
    const p = url.searchParams;
    const letters = await board.deadLetters({
      ...(p.has('agent') ? { agent: p.get('agent')! } : {}),
      ...(p.has('correlationId') ? { correlationId: p.get('correlationId')! } : {}),
      limit: queryLimit(p),
    });
    sendJson(res, 200, { deadLetters: letters });
  });

  route('POST', '/api/dead-letters/:id/replay', true, async ({ req, res, params, signal }) => {
    expectObject(await readJson(req, bodyLimit, signal), 'the body');
    const id = params[0]!;
    if (!(await board.deadLetters()).some((letter) => letter.id === id)) throw new HttpError(404, 'not_found', `no dead letter with id '${id}'`);
    try {
      await board.replayDeadLetter(id);
    } catch (error) {
      if (error instanceof RangeError) throw new HttpError(409, 'not_replayable', error.message);
      throw error;
    }
    sendJson(res, 202, { replayed: id });
  });

  route('GET', '/api/webhooks', false, ({ res }) => {
    sendJson(res, 200, { webhooks: webhooks?.list() ?? [], enabled: webhooks !== undefined });
  });

  route('GET', '/api/webhooks/failures', false, ({ res }) => {
    sendJson(res, 200, { failures: webhooks?.failures() ?? [] });
  });

  route('POST', '/api/webhooks', true, async ({ req, res, signal }) => {
    const body = await readJson(req, bodyLimit, signal);
    if (webhooks === undefined) throw new HttpError(409, 'webhooks_disabled', 'webhooks are off: start the server with the webhooks option (and a secret)');
    let subscription;
    try {
      subscription = checkSubscription(expectObject(body, 'the body'));
    } catch (error) {
      if (error instanceof TypeError) throw new HttpError(400, 'invalid_request', error.message);
      throw error;
    }
    sendJson(res, 201, { webhook: await webhooks.subscribe(subscription) });
  });

  route('DELETE', '/api/webhooks/:id', true, async ({ res, params }) => {
    if ((await webhooks?.unsubscribe(params[0]!)) !== true) throw new HttpError(404, 'not_found', `no webhook with id '${params[0]}'`);
    sendJson(res, 200, { deleted: params[0] });
  });

  route('POST', '/api/webhooks/failures/:id/redeliver', true, async ({ req, res, params, signal }) => {
    expectObject(await readJson(req, bodyLimit, signal), 'the body');
    const read = async (artifactId: string): Promise<Artifact | undefined> => {
      const found = board.store.getArtifacts([artifactId]);
      return (isThenable(found) ? await found : found)[0];
    };
    if ((await webhooks?.redeliver(params[0]!, read)) !== true) throw new HttpError(404, 'not_found', `no failed delivery with id '${params[0]}'`);
    sendJson(res, 202, { redelivering: params[0] });
  });

  route('GET', '/events', false, ({ req, res, url, viewer }) => {
    const kindsParam = url.searchParams.get('kinds');
    let kinds: Set<string> | undefined;
    if (kindsParam !== null) {
      kinds = new Set(kindsParam.split(',').filter((k) => k !== ''));
      for (const kind of kinds) if (!EVENT_KINDS.has(kind)) throw new HttpError(400, 'invalid_query', `unknown event kind '${kind}'`, { details: [{ path: 'kinds', message: `one of ${[...EVENT_KINDS].join(', ')}` }] });
    }
    const lastEventId = (req.headers['last-event-id'] as string | undefined) ?? url.searchParams.get('lastEventId') ?? undefined;
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    res.write(': connected\n\n');
    const detach = log.attach(res, { kinds, correlationId: url.searchParams.get('correlationId') ?? undefined, viewer }, lastEventId);
    const end = (): void => {
      streams.delete(end);
      detach();
      if (!res.writableEnded) res.end();
    };
    streams.add(end);
    res.on('close', end);
  });

  if (options.dashboard !== false) {
    route('GET', '/', false, ({ res }) => {
      res.writeHead(200, {
        'content-type': 'text/html; charset=utf-8',
        'cache-control': 'no-store',
        'content-security-policy': "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'",
        'x-content-type-options': 'nosniff',
        'referrer-policy': 'no-referrer',
      });
      res.end(dashboardHtml);
    });
  }

  // ---- the request pipeline
  const authorized = (req: IncomingMessage): boolean => {
    if (token === undefined) return true;
    const header = req.headers.authorization;
    const match = typeof header === 'string' ? /^Bearer (.+)$/i.exec(header.trim()) : null;
    return match !== null && safeEqual(match[1]!, token);
  };

  const limited = (req: IncomingMessage): boolean => {
    if (rate === false) return false;
    const key = req.socket.remoteAddress ?? 'unknown';
    let limiter = limiters.get(key);
    if (limiter === undefined) {
      if (limiters.size >= 10_000) limiters.delete(limiters.keys().next().value!);
      limiter = new RateLimiter({ limit: rate.limit, intervalMs: rate.intervalMs, ...(rate.burst === undefined ? {} : { burst: rate.burst }) });
      limiters.set(key, limiter);
    }
    return !limiter.tryAcquire();
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const requestController = new AbortController();
    const onClose = (): void => {
      if (!res.writableFinished) requestController.abort(new CancelledError('the client went away'));
    };
    res.on('close', onClose);
    const signal = AbortSignal.any([requestController.signal, controller.signal]);
    try {
      const hostHeader = req.headers.host ?? '';
      if (allowedHosts !== undefined && !allowedHosts.includes(hostHeader.replace(/:\d+$/, '').toLowerCase())) {
        throw new HttpError(403, 'host_not_allowed', `Host '${hostHeader}' is not served here`);
      }
      const origin = req.headers.origin;
      const selfOrigin = `http://${hostHeader}`;
      const corsAllowed = typeof origin === 'string' && origins.has(origin);
      if (corsAllowed) {
        res.setHeader('access-control-allow-origin', origin);
        res.setHeader('vary', 'Origin');
      }
      const url = new URL(req.url ?? '/', 'http://localhost');
      if (req.method === 'OPTIONS') {
        if (!corsAllowed) throw new HttpError(403, 'cors_refused', 'cross-origin requests are not allowed from this origin');
        res.writeHead(204, {
          'access-control-allow-methods': 'GET, POST, DELETE',
          'access-control-allow-headers': 'authorization, content-type, last-event-id, x-skein-viewer, x-skein-tenant, x-skein-labels',
          'access-control-max-age': '600',
        });
        res.end();
        return;
      }
      const isApi = url.pathname.startsWith('/api/') || url.pathname === '/events';
      if (isApi && limited(req)) throw new HttpError(429, 'rate_limited', 'too many requests from this client; slow down', { headers: { 'retry-after': '1' } });
      const candidates = routes.filter((r) => r.pattern.test(url.pathname));
      if (candidates.length === 0) throw new HttpError(404, 'not_found', `no route ${url.pathname}`);
      const found = candidates.find((r) => r.method === req.method);
      if (found === undefined) throw new HttpError(405, 'method_not_allowed', `${req.method} is not allowed on ${url.pathname}`, { headers: { allow: [...new Set(candidates.map((r) => r.method))].join(', ') } });
      if (found.write && typeof origin === 'string' && origin !== selfOrigin && !corsAllowed) {
        throw new HttpError(403, 'cross_origin_write', `writes from origin ${origin} are refused`);
      }
      if ((found.write || (protectReads && isApi)) && !authorized(req)) {
        throw new HttpError(401, 'unauthorized', 'this needs a valid bearer token (Authorization: Bearer <token>)', { headers: { 'www-authenticate': 'Bearer realm="skein"' } });
      }
      if (controller.signal.aborted) throw new HttpError(503, 'closing', 'the server is closing');
      const identity = isApi ? identify(req) : undefined;
      if (isApi && !found.write && identity === undefined && options.requireIdentity === true) {
        throw new HttpError(401, 'identity_required', 'reads need an identity (X-Skein-Viewer, X-Skein-Tenant or X-Skein-Labels)');
      }
      const params = found.pattern.exec(url.pathname)!.slice(1).map((p) => decodeURIComponent(p));
      await found.handler({ req, res, url, params, viewer: identity === undefined ? undefined : toViewer(identity), signal });
    } catch (error) {
      sendError(res, toHttpError(error));
      // A body left unread (413, 415, early refusals) would keep the socket busy: close it after the answer.
      if (!req.readableEnded) res.on('finish', () => req.socket.destroySoon());
    } finally {
      res.off('close', onClose);
    }
  };

  const server = createServer((req, res) => void handle(req, res));
  server.headersTimeout = 20_000;
  server.requestTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  }).catch(async (error: unknown) => {
    controller.abort();
    await feed?.stop();
    await ingest;
    await webhooks?.close();
    throw error;
  });
  const heartbeat = setInterval(() => log.heartbeat(), heartbeatMs);
  const address = server.address() as AddressInfo;
  const urlHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  let closing: Promise<void> | undefined;
  const removeAbort = (() => {
    const signal = options.signal;
    if (signal === undefined) return () => {};
    const onAbort = (): void => void close();
    signal.addEventListener('abort', onAbort, { once: true });
    return () => signal.removeEventListener('abort', onAbort);
  })();
  const close = (): Promise<void> => {
    closing ??= (async () => {
      removeAbort();
      clearInterval(heartbeat);
      controller.abort(new CancelledError('the server is closing'));
      for (const end of [...streams]) end();
      log.closeAll();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      await Promise.all([closed, ingest, feed?.stop(), webhooks?.close()]);
      // The listening handle and the sockets are freed in libuv's close callbacks, after 'close': wait for them.
      await new Promise<void>((resolve) => setImmediate(() => setImmediate(resolve)));
    })();
    return closing;
  };
  return {
    url: `http://${urlHost}:${address.port}/`,
    port: address.port,
    close,
    [Symbol.asyncDispose]: close,
  };
}

function toHttpError(error: unknown): HttpError {
  if (error instanceof HttpError) return error;
  if (error instanceof ValidationError) {
    return new HttpError(400, 'validation_failed', error.message, { details: error.issues.map((i) => ({ path: i.path, message: i.message })) });
  }
  if (error instanceof BoardClosedError) return new HttpError(503, 'board_closed', error.message);
  if (error instanceof PublishBlockedError) return new HttpError(409, 'publish_blocked', error.message);
  if (error instanceof CancelledError) return new HttpError(409, 'cancelled', error.message);
  if (error instanceof TypeError || error instanceof RangeError) return new HttpError(400, 'invalid_request', error.message);
  return new HttpError(500, 'internal_error', 'the server failed to answer this request');
}

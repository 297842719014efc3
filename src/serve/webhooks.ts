/**
 * Webhooks: artifacts of subscribed types POSTed to URLs, signed with HMAC-SHA256 over
 * `timestamp.body`, retried with skein's `retry` and backoff behind a circuit breaker per endpoint,
 * with bounded concurrency and a bounded waiting line; a delivery that gives up is recorded as a
 * failure the API lists (and can deliver again).
 */
import { createHash, createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { CancelledError } from '../core/errors.js';
import { assertDuration, assertInteger, assertKnownOptions, describe, MAX_TIMER_MS } from '../core/validate.js';
import { TaskQueue } from '../flow/task-queue.js';
import { CircuitBreaker } from '../resilience/circuit-breaker.js';
import { consecutive } from '../resilience/consecutive.js';
import { exponential } from '../resilience/exponential.js';
import { retry } from '../resilience/retry.js';
import type { Artifact } from '../board/artifact.js';
import type { BoardStore } from '../board/store/contract.js';
import { isThenable } from '../core/task.js';

/** The store namespaces of what {@link Webhooks} keeps (`WebhookOptions.persist`). */
export const WEBHOOK_NAMESPACE = 'skein.serve.webhooks';
export const WEBHOOK_FAILURE_NAMESPACE = 'skein.serve.webhook-failures';

/** The header carrying the delivery's id (the same on every attempt: receivers deduplicate with it). */
export const WEBHOOK_ID_HEADER = 'x-skein-webhook-id';
/** The header carrying the signing time, in Unix seconds. */
export const WEBHOOK_TIMESTAMP_HEADER = 'x-skein-webhook-timestamp';
/** The header carrying `v1=<hex HMAC-SHA256(secret, timestamp + '.' + body)>`. */
export const WEBHOOK_SIGNATURE_HEADER = 'x-skein-webhook-signature';

/**
 * A webhook subscription: where to POST artifacts of which types.
 *
 * @example
 * ```ts
 * import type { WebhookSubscription } from 'skein/serve';
 * const hook: WebhookSubscription = { url: 'https://example.com/skein', types: ['Order'] };
 * ```
 */
export interface WebhookSubscription {
  /** An `http:` or `https:` URL. */
  readonly url: string;
  /** Artifact type names; `['*']` for every type. */
  readonly types: readonly string[];
}

/**
 * Delivery settings of `serve({ webhooks })`.
 *
 * @example
 * ```ts
 * import type { WebhookOptions } from 'skein/serve';
 * const webhooks: WebhookOptions = { secret: 'a long random secret', subscriptions: [{ url: 'http://127.0.0.1:9000/hook', types: ['Order'] }], maxAttempts: 5 };
 * ```
 */
export interface WebhookOptions {
  /** The shared signing secret (default: env `SKEIN_SERVE_WEBHOOK_SECRET`; required when there are webhooks). */
  readonly secret?: string;
  /** Subscriptions made at start (more through `POST /api/webhooks`). */
  readonly subscriptions?: readonly WebhookSubscription[];
  /** Attempts per delivery, the first included (default 5). */
  readonly maxAttempts?: number;
  /** The first retry's ceiling in ms; full-jitter exponential backoff after it (default 500). */
  readonly initialBackoffMs?: number;
  /** No wait between attempts exceeds this (default 30,000 ms). */
  readonly maxBackoffMs?: number;
  /** One attempt's time limit (default 10,000 ms). */
  readonly timeoutMs?: number;
  /** Deliveries in flight at once, all endpoints together (default 8). */
  readonly concurrency?: number;
  /** Deliveries that may wait for a slot; past it a delivery is recorded as failed at once (default 10,000). */
  readonly maxQueued?: number;
  /** Consecutive failures that open an endpoint's breaker (default 5). */
  readonly breakerFailures?: number;
  /** How long an open breaker refuses before a probe (default 30,000 ms). */
  readonly breakerOpenMs?: number;
  /** Failed deliveries kept for the API (default 1,000; the oldest go first). */
  readonly maxFailures?: number;
  /**
   * Keep subscriptions made through the API and the failed deliveries in the board's store (its
   * key/value space), so that they outlast a restart of the server (default true when the store has
   * one: SQLite, PostgreSQL, and a `MemoryStore` for as long as it lives). Subscriptions given in
   * `subscriptions` are configuration: they are made again at each start, never stored.
   */
  readonly persist?: boolean;
}

/** A subscription as the server keeps it. */
export interface WebhookRecord extends WebhookSubscription {
  readonly id: string;
}

/** A delivery that gave up. */
export interface WebhookFailure {
  readonly id: string;
  readonly webhookId: string;
  readonly url: string;
  readonly artifactId: string;
  readonly type: string;
  readonly attempts: number;
  readonly error: string;
  /** ISO 8601. */
  readonly failedAt: string;
}

/**
 * Signs a webhook body: the headers to send with it.
 *
 * @example
 * ```ts
 * import { signWebhook } from 'skein/serve';
 * const headers = signWebhook('secret', '{"hello":1}', { id: 'delivery-1', timestamp: 1_700_000_000 });
 * console.log(headers['x-skein-webhook-signature'].startsWith('v1=')); // true
 * ```
 */
export function signWebhook(secret: string, body: string, options?: { readonly id?: string; readonly timestamp?: number }): Record<string, string> {
  const timestamp = options?.timestamp ?? Math.floor(Date.now() / 1000);
  const signature = createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
  return {
    [WEBHOOK_ID_HEADER]: options?.id ?? randomUUID(),
    [WEBHOOK_TIMESTAMP_HEADER]: String(timestamp),
    [WEBHOOK_SIGNATURE_HEADER]: `v1=${signature}`,
  };
}

/**
 * Checks a delivery on the receiving side: true when the signature over `timestamp.body` matches the
 * secret (compared in constant time) and the timestamp is within `toleranceSec` (default 300) of
 * now, which refuses a replay of an old delivery. Pass the raw body, exactly as received.
 *
 * @example
 * ```ts
 * import { signWebhook, verifyWebhook } from 'skein/serve';
 * const body = JSON.stringify({ artifact: { id: 'a1' } });
 * const headers = signWebhook('secret', body);
 * console.log(verifyWebhook('secret', headers, body)); // true
 * console.log(verifyWebhook('other secret', headers, body)); // false
 * ```
 */
export function verifyWebhook(
  secret: string,
  headers: IncomingHttpHeaders | Headers | Readonly<Record<string, string | readonly string[] | undefined>>,
  body: string | Uint8Array,
  options?: { readonly toleranceSec?: number; readonly now?: number },
): boolean {
  const get = (name: string): string | undefined => {
    const value = typeof (headers as Headers).get === 'function' ? (headers as Headers).get(name) : (headers as Record<string, unknown>)[name];
    return typeof value === 'string' ? value : Array.isArray(value) && typeof value[0] === 'string' ? value[0] : undefined;
  };
  const timestamp = get(WEBHOOK_TIMESTAMP_HEADER);
  const signature = get(WEBHOOK_SIGNATURE_HEADER);
  if (timestamp === undefined || signature === undefined || !/^\d{1,15}$/.test(timestamp)) return false;
  const now = Math.floor((options?.now ?? Date.now()) / 1000);
  if (Math.abs(now - Number(timestamp)) > (options?.toleranceSec ?? 300)) return false;
  const text = typeof body === 'string' ? body : Buffer.from(body).toString('utf8');
  const expected = Buffer.from(`v1=${createHmac('sha256', secret).update(`${timestamp}.${text}`).digest('hex')}`);
  const given = Buffer.from(signature);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** A receiver answered with a status that is not 2xx. */
class DeliveryError extends Error {
  override readonly name = 'DeliveryError';
}

interface Delivery {
  readonly id: string;
  readonly hook: WebhookRecord;
  readonly artifact: Artifact;
}

/** A failure as kept (in memory and in the store): the artifact by id, read again to redeliver. */
type StoredFailure = WebhookFailure & { readonly deliveryId: string };

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null;

// Every option of WebhookOptions, checked by the compiler: a new option must be named here to be accepted.
const WEBHOOK_OPTION_NAMES: Record<keyof WebhookOptions, true> = {
  secret: true, subscriptions: true, maxAttempts: true, initialBackoffMs: true, maxBackoffMs: true, timeoutMs: true, concurrency: true,
  maxQueued: true, breakerFailures: true, breakerOpenMs: true, maxFailures: true, persist: true,
};

/** Checks `serve({ webhooks })` before the server starts (the secret, which may come from the environment, where it is read). */
export function checkWebhookOptions(value: unknown): asserts value is WebhookOptions {
  if (!isRecord(value) || Array.isArray(value)) throw new TypeError(`webhooks must be an object, got ${describe(value)}`);
  assertKnownOptions(value, Object.keys(WEBHOOK_OPTION_NAMES), 'webhooks');
  const o = value as WebhookOptions;
  if (o.secret !== undefined && typeof o.secret !== 'string') throw new TypeError(`webhooks.secret must be a string, got ${describe(o.secret)}`);
  if (o.subscriptions !== undefined) {
    if (!Array.isArray(o.subscriptions)) throw new TypeError(`webhooks.subscriptions must be an array, got ${describe(o.subscriptions)}`);
    for (const subscription of o.subscriptions) checkSubscription(subscription);
  }
  for (const name of ['maxAttempts', 'concurrency', 'breakerFailures', 'maxFailures'] as const) if (o[name] !== undefined) assertInteger(o[name], `webhooks.${name}`, { min: 1 });
  if (o.maxQueued !== undefined) assertInteger(o.maxQueued, 'webhooks.maxQueued', { min: 0 });
  for (const name of ['initialBackoffMs', 'maxBackoffMs', 'breakerOpenMs'] as const) if (o[name] !== undefined) assertDuration(o[name], `webhooks.${name}`);
  if (o.timeoutMs !== undefined) assertInteger(o.timeoutMs, 'webhooks.timeoutMs', { min: 1, max: MAX_TIMER_MS });
  const initialMs = o.initialBackoffMs ?? 500;
  const maxMs = o.maxBackoffMs ?? 30_000;
  if (maxMs < initialMs) throw new RangeError(`webhooks.maxBackoffMs must be >= webhooks.initialBackoffMs (${initialMs}), got ${maxMs}`);
  if (o.persist !== undefined && typeof o.persist !== 'boolean') throw new TypeError(`webhooks.persist must be a boolean, got ${describe(o.persist)}`);
}

/** Checks a subscription given by a user; throws a TypeError saying what is wrong. */
export function checkSubscription(value: unknown): WebhookSubscription {
  const v = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
  let url: URL;
  try {
    url = new URL(String(v.url));
  } catch {
    throw new TypeError(`webhook url must be an absolute http(s) URL, got ${JSON.stringify(v.url)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError(`webhook url must be http: or https:, got ${url.protocol}`);
  if (!Array.isArray(v.types) || v.types.length === 0 || v.types.some((t) => typeof t !== 'string' || t === '')) {
    throw new TypeError('webhook types must be a non-empty array of type names (or ["*"])');
  }
  return { url: url.href, types: [...(v.types as string[])] };
}

/** The deliveries of one server. */
export class Webhooks {
  readonly #secret: string;
  readonly #options: WebhookOptions;
  readonly #hooks = new Map<string, WebhookRecord>();
  /** Ids of the subscriptions of `options.subscriptions` (configuration, never stored). */
  readonly #configured = new Set<string>();
  readonly #breakers = new Map<string, CircuitBreaker>();
  readonly #failures = new Map<string, StoredFailure>();
  /** Artifacts of the failures kept in memory (those loaded from the store are read again on redelivery). */
  readonly #failedArtifacts = new Map<string, Artifact>();
  readonly #queue: TaskQueue;
  readonly #controller = new AbortController();
  readonly #store: BoardStore | undefined;
  /** Store writes of failures, one after the other (a failure's put before the delete that evicts it). */
  #writes: Promise<void> = Promise.resolve();
  #delivered = 0;

  constructor(secret: string, options: WebhookOptions, store?: BoardStore) {
    this.#secret = secret;
    this.#options = options;
    this.#queue = new TaskQueue({ concurrency: options.concurrency ?? 8, maxSize: options.maxQueued ?? 10_000 });
    const persist = options.persist ?? true;
    if (typeof persist !== 'boolean') throw new TypeError(`webhooks.persist must be a boolean, got ${String(persist)}`);
    this.#store = persist && store?.listValues !== undefined && store.putValue !== undefined && store.deleteValue !== undefined ? store : undefined;
    for (const subscription of options.subscriptions ?? []) {
      const checked = checkSubscription(subscription);
      // The same configuration gets the same id at every start.
      const id = `config-${createHash('sha256').update(JSON.stringify([checked.url, checked.types])).digest('hex').slice(0, 16)}`;
      this.#hooks.set(id, { id, ...checked });
      this.#configured.add(id);
    }
  }

  /** Whether subscriptions and failures are kept in the store. */
  get persistent(): boolean {
    return this.#store !== undefined;
  }

  /** Reads the subscriptions and failures the store kept (before the server listens). */
  async load(): Promise<void> {
    const store = this.#store;
    if (store === undefined) return;
    for (const { key, value } of await store.listValues!(WEBHOOK_NAMESPACE)) {
      if (!isRecord(value)) continue;
      try {
        this.#hooks.set(key, { id: key, ...checkSubscription(value) });
      } catch {
        // An entry this version cannot read: left in the store, not served.
      }
    }
    for (const { key, value } of await store.listValues!(WEBHOOK_FAILURE_NAMESPACE)) {
      if (!isRecord(value) || typeof value.artifactId !== 'string' || typeof value.url !== 'string') continue;
      this.#failures.set(key, { ...(value as unknown as StoredFailure), id: key });
    }
    await this.#trimFailures();
  }

  /** Adds a subscription (stored before it answers); answers it with its id. */
  async subscribe(subscription: WebhookSubscription): Promise<WebhookRecord> {
    const checked = checkSubscription(subscription);
    const record: WebhookRecord = { id: randomUUID(), ...checked };
    await this.#store?.putValue!(WEBHOOK_NAMESPACE, record.id, { url: record.url, types: record.types });
    this.#hooks.set(record.id, record);
    return record;
  }

  async unsubscribe(id: string): Promise<boolean> {
    if (!this.#hooks.has(id)) return false;
    if (!this.#configured.has(id)) await this.#store?.deleteValue!(WEBHOOK_NAMESPACE, id);
    return this.#hooks.delete(id);
  }

  list(): WebhookRecord[] {
    return [...this.#hooks.values()];
  }

  failures(): WebhookFailure[] {
    return [...this.#failures.values()].map(({ deliveryId: _deliveryId, ...failure }) => failure);
  }

  stats(): { readonly delivered: number; readonly failed: number; readonly queued: number; readonly running: number; readonly breakers: Record<string, string> } {
    const breakers: Record<string, string> = {};
    for (const [url, breaker] of this.#breakers) breakers[url] = breaker.state;
    return { delivered: this.#delivered, failed: this.#failures.size, queued: this.#queue.size, running: this.#queue.running, breakers };
  }

  /** Whether some subscription wants artifacts of `type`. */
  wants(type: string): boolean {
    for (const hook of this.#hooks.values()) if (hook.types.includes(type) || hook.types.includes('*')) return true;
    return false;
  }

  /** Queues a delivery of `artifact` to every subscription of its type. */
  dispatch(artifact: Artifact): void {
    for (const hook of this.#hooks.values()) {
      if (hook.types.includes(artifact.type) || hook.types.includes('*')) this.#enqueue({ id: randomUUID(), hook, artifact });
    }
  }

  /**
   * Delivers a failed delivery again, to the URL it failed at, with its delivery id (it leaves the
   * failure list); false when there is none with that id, or its artifact is no longer in the store.
   */
  async redeliver(id: string, read: (artifactId: string) => Promise<Artifact | undefined>): Promise<boolean> {
    const failure = this.#failures.get(id);
    if (failure === undefined) return false;
    const artifact = this.#failedArtifacts.get(id) ?? (await read(failure.artifactId));
    if (artifact === undefined || !this.#failures.has(id)) return false;
    this.#failures.delete(id);
    this.#failedArtifacts.delete(id);
    await this.#persist(() => this.#store?.deleteValue!(WEBHOOK_FAILURE_NAMESPACE, id));
    const hook = this.#hooks.get(failure.webhookId) ?? { id: failure.webhookId, url: failure.url, types: [failure.type] };
    this.#enqueue({ id: failure.deliveryId, hook, artifact });
    return true;
  }

  /** Stops: deliveries waiting are dropped, those in flight aborted; resolves when they have settled. */
  async close(): Promise<void> {
    this.#controller.abort(new CancelledError('the server is closing'));
    this.#queue.clear();
    await this.#queue.onIdle();
    await this.#writes;
  }

  /** Runs a store write after those before it; resolves when it is done (a failing write is dropped: memory still has it). */
  #persist(write: () => unknown): Promise<void> {
    this.#writes = this.#writes.then(async () => {
      try {
        const done = write();
        if (isThenable(done)) await done;
      } catch {
        // The store refused: the failure stays listed in memory for this server's life.
      }
    });
    return this.#writes;
  }

  async #trimFailures(): Promise<void> {
    const max = this.#options.maxFailures ?? 1_000;
    while (this.#failures.size > max) {
      const oldest = this.#failures.keys().next().value!;
      this.#failures.delete(oldest);
      this.#failedArtifacts.delete(oldest);
      await this.#persist(() => this.#store?.deleteValue!(WEBHOOK_FAILURE_NAMESPACE, oldest));
    }
  }

  #enqueue(delivery: Delivery): void {
    if (this.#controller.signal.aborted) return;
    this.#queue.add((signal) => this.#deliver(delivery, signal), { signal: this.#controller.signal }).then(
      () => void this.#delivered++,
      (error: unknown) => {
        if (this.#controller.signal.aborted) return;
        this.#fail(delivery, error, (error as { attempts?: number }).attempts ?? 0);
      },
    );
  }

  #breaker(url: string): CircuitBreaker {
    const origin = new URL(url).origin;
    let breaker = this.#breakers.get(origin);
    if (breaker === undefined) {
      breaker = new CircuitBreaker({ policy: consecutive(this.#options.breakerFailures ?? 5), openMs: this.#options.breakerOpenMs ?? 30_000 });
      this.#breakers.set(origin, breaker);
    }
    return breaker;
  }

  async #deliver(delivery: Delivery, signal: AbortSignal): Promise<void> {
    const body = JSON.stringify({ id: delivery.id, event: 'artifact.published', artifact: delivery.artifact });
    const breaker = this.#breaker(delivery.hook.url);
    let attempts = 0;
    try {
      await retry(
        async (attemptSignal) => {
          attempts++;
          await breaker.execute((breakerSignal) => this.#post(delivery, body, breakerSignal), { signal: attemptSignal });
        },
        {
          signal,
          maxAttempts: this.#options.maxAttempts ?? 5,
          backoff: exponential({ initialMs: this.#options.initialBackoffMs ?? 500, maxMs: this.#options.maxBackoffMs ?? 30_000 }),
        },
      );
    } catch (error) {
      throw Object.assign(error instanceof Error ? error : new Error(String(error)), { attempts });
    }
  }

  #post(delivery: Delivery, body: string, signal: AbortSignal): Promise<void> {
    const url = new URL(delivery.hook.url);
    const headers = {
      ...signWebhook(this.#secret, body, { id: delivery.id }),
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(body)),
      'user-agent': 'skein-serve-webhooks',
    };
    const timeout = AbortSignal.timeout(this.#options.timeoutMs ?? 10_000);
    const both = AbortSignal.any([signal, timeout]);
    return new Promise<void>((resolve, reject) => {
      const request = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, { method: 'POST', headers, agent: false, signal: both }, (res) => {
        res.resume();
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) resolve();
          else reject(new DeliveryError(`${url.href} answered ${status}`));
        });
        res.on('error', reject);
      });
      request.on('error', (error) => reject(signal.aborted ? signal.reason : timeout.aborted ? new DeliveryError(`${url.href} did not answer within ${this.#options.timeoutMs ?? 10_000} ms`) : error));
      request.end(body);
    });
  }

  #fail(delivery: Delivery, error: unknown, attempts: number): void {
    const id = randomUUID();
    const failure: StoredFailure = {
      id,
      webhookId: delivery.hook.id,
      url: delivery.hook.url,
      artifactId: delivery.artifact.id,
      type: delivery.artifact.type,
      attempts,
      error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
      failedAt: new Date().toISOString(),
      deliveryId: delivery.id,
    };
    this.#failures.set(id, failure);
    this.#failedArtifacts.set(id, delivery.artifact);
    void this.#persist(() => this.#store?.putValue!(WEBHOOK_FAILURE_NAMESPACE, id, failure));
    void this.#trimFailures();
  }
}

/**
 * The options of `serve(board, options)` and their checks: every option is checked before the server
 * starts (type, range, unknown names refused), so that a misspelt or wrong option fails at once
 * instead of at the first request, delivery or event that reads it.
 */
import type { IncomingMessage } from 'node:http';
import { assertDuration, assertInteger, assertKnownOptions, assertSignal, describe, MAX_TIMER_MS } from '../core/validate.js';
import type { AnyArtifactType } from '../board/artifact.js';
import { isStandardSchema } from '../board/standard-schema.js';
import type { FollowSettings } from './feed.js';
import { checkWebhookOptions, type WebhookOptions } from './webhooks.js';

/**
 * Who a caller is, for the board's visibility rules: reads show only what an agent with this name,
 * these labels and this tenant may see.
 *
 * @example
 * ```ts
 * import type { Identity } from 'skein/serve';
 * const auditor: Identity = { name: 'auditor', tenant: 'acme', labels: ['internal'] };
 * ```
 */
export interface Identity {
  readonly name?: string;
  readonly tenant?: string;
  readonly labels?: readonly string[];
}

/**
 * Options of {@link serve}.
 *
 * @example
 * ```ts
 * import type { ServeOptions } from 'skein/serve';
 * const options: ServeOptions = { host: '127.0.0.1', port: 0, token: 'a long random token', cors: { origins: ['https://ops.example.com'] } };
 * ```
 */
export interface ServeOptions {
  /** The address to bind (default `127.0.0.1`). Anything else needs a token. */
  readonly host?: string;
  /** The port (default 0: a free one; read it from `handle.url`). */
  readonly port?: number;
  /** The bearer token writes need (default: env `SKEIN_SERVE_TOKEN`). */
  readonly token?: string;
  /** `false` serves without a token; allowed only on a loopback address. */
  readonly auth?: boolean;
  /** Reads need the token too (default: true unless bound to loopback). */
  readonly protectReads?: boolean;
  /** The largest request body in bytes (default 1 MiB). */
  readonly bodyLimit?: number;
  /** Origins allowed to call the API from a browser (default: none, no CORS headers at all). */
  readonly cors?: { readonly origins: readonly string[] };
  /** Requests per client address: a token bucket (default 50 per second, bursts of 200); `false` for none. */
  readonly rateLimit?: { readonly limit: number; readonly intervalMs: number; readonly burst?: number } | false;
  /** Host headers accepted (default on loopback: `localhost`, `127.0.0.1`, `[::1]`, against DNS rebinding; elsewhere any). */
  readonly allowedHosts?: readonly string[];
  /**
   * Who a request comes from (default: the `X-Skein-Viewer`, `X-Skein-Tenant` and `X-Skein-Labels`
   * headers, comma-separated labels; none of them: no identity, the board's own view).
   */
  readonly identify?: (req: IncomingMessage) => Identity | undefined;
  /** Refuse reads without an identity (401). */
  readonly requireIdentity?: boolean;
  /** Types that may be published though no agent declares them. */
  readonly types?: readonly AnyArtifactType[];
  /** Recent events kept for `Last-Event-ID` resumption (default 1,024). */
  readonly eventBuffer?: number;
  /** Events one SSE client may be behind before it is skipped ahead to the newest ones with a `lagged` event (default 256). */
  readonly clientBacklog?: number;
  /**
   * How long events gather before they are written to the SSE clients, in ms (default 5): each client
   * gets at most one write per interval, however many events came, so that a busy board with many
   * clients pays for a few large writes instead of one per client per turn of the event loop. An
   * event reaches the clients up to this much later; 0 writes at the end of every turn of the event
   * loop (the least latency, the most writes). Half of `eventBuffer` events waiting are written at
   * the end of the turn without waiting for the interval.
   */
  readonly eventFlushMs?: number;
  /** The SSE heartbeat interval (default 15,000 ms). */
  readonly heartbeatMs?: number;
  /** Runs remembered for the runs views, about (default 10,000): the server keeps their last `4 × runHistory` run events. */
  readonly runHistory?: number;
  /** Webhook deliveries (off unless given). */
  readonly webhooks?: WebhookOptions;
  /**
   * Follow the store: report what other boards sharing it do (their artifacts, the runs they run,
   * their dead letters) as events, polled every `pollMs` (default 1,000) and sooner on the store's
   * notices, re-reading `lookbackMs` (default 2,000) of artifacts for transactions that commit late.
   * Default: on for a `shared` board, off otherwise.
   */
  readonly follow?: boolean | { readonly pollMs?: number; readonly lookbackMs?: number };
  /** Serve the dashboard at `/` (default true). */
  readonly dashboard?: boolean;
  /** Closes the server when it aborts. */
  readonly signal?: AbortSignal;
}

// Every option of ServeOptions, checked by the compiler: a new option must be named here to be accepted.
const OPTION_NAMES: Record<keyof ServeOptions, true> = {
  host: true, port: true, token: true, auth: true, protectReads: true, bodyLimit: true, cors: true, rateLimit: true, allowedHosts: true,
  identify: true, requireIdentity: true, types: true, eventBuffer: true, clientBacklog: true, eventFlushMs: true, heartbeatMs: true, runHistory: true,
  webhooks: true, follow: true, dashboard: true, signal: true,
};
const OPTIONS = Object.keys(OPTION_NAMES);

const isPlainObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

function assertBoolean(value: unknown, name: string): void {
  if (value !== undefined && typeof value !== 'boolean') throw new TypeError(`${name} must be a boolean, got ${describe(value)}`);
}

function assertStrings(value: unknown, name: string): void {
  if (value === undefined) return;
  if (!Array.isArray(value) || value.some((item) => typeof item !== 'string' || item === '')) {
    throw new TypeError(`${name} must be an array of non-empty strings, got ${describe(value)}`);
  }
}

/** Checks every option of `serve` (those that depend on the environment, the token and auth, are checked where they are read). */
export function checkServeOptions(options: unknown): asserts options is ServeOptions {
  if (!isPlainObject(options)) throw new TypeError(`serve options must be an object, got ${describe(options)}`);
  assertKnownOptions(options, OPTIONS, 'serve');
  const o = options as ServeOptions;
  if (o.host !== undefined && (typeof o.host !== 'string' || o.host === '')) throw new TypeError(`host must be a non-empty string, got ${describe(o.host)}`);
  if (o.port !== undefined) assertInteger(o.port, 'port', { min: 0, max: 65_535 });
  assertBoolean(o.auth, 'auth');
  assertBoolean(o.protectReads, 'protectReads');
  assertBoolean(o.requireIdentity, 'requireIdentity');
  assertBoolean(o.dashboard, 'dashboard');
  for (const name of ['bodyLimit', 'eventBuffer', 'clientBacklog', 'runHistory'] as const) if (o[name] !== undefined) assertInteger(o[name], name, { min: 1 });
  if (o.heartbeatMs !== undefined) assertInteger(o.heartbeatMs, 'heartbeatMs', { min: 1, max: MAX_TIMER_MS });
  // A second is already far more latency than a live view wants: a larger value is a mistake.
  if (o.eventFlushMs !== undefined) assertInteger(o.eventFlushMs, 'eventFlushMs', { min: 0, max: 1_000 });
  if (o.cors !== undefined) {
    if (!isPlainObject(o.cors)) throw new TypeError(`cors must be { origins }, got ${describe(o.cors)}`);
    assertKnownOptions(o.cors, ['origins'], 'cors');
    if (o.cors.origins === undefined) throw new TypeError('cors.origins is required: the origins allowed to call the API');
    assertStrings(o.cors.origins, 'cors.origins');
  }
  if (o.rateLimit !== undefined && o.rateLimit !== false) {
    if (!isPlainObject(o.rateLimit)) throw new TypeError(`rateLimit must be { limit, intervalMs, burst? } or false, got ${describe(o.rateLimit)}`);
    assertKnownOptions(o.rateLimit, ['limit', 'intervalMs', 'burst'], 'rateLimit');
    assertInteger(o.rateLimit.limit, 'rateLimit.limit', { min: 1 });
    assertDuration(o.rateLimit.intervalMs, 'rateLimit.intervalMs');
    if (o.rateLimit.intervalMs === 0) throw new RangeError('rateLimit.intervalMs must be > 0, got 0');
    if (o.rateLimit.burst !== undefined) assertInteger(o.rateLimit.burst, 'rateLimit.burst', { min: 1 });
  }
  assertStrings(o.allowedHosts, 'allowedHosts');
  if (o.identify !== undefined && typeof o.identify !== 'function') throw new TypeError(`identify must be a function, got ${describe(o.identify)}`);
  if (o.types !== undefined) {
    const types: unknown = o.types;
    if (!Array.isArray(types) || types.some((t) => !isPlainObject(t) || typeof t.name !== 'string' || !isStandardSchema(t.schema))) {
      throw new TypeError(`types must be an array of artifact types (from artifactType), got ${describe(types)}`);
    }
  }
  if (o.webhooks !== undefined) checkWebhookOptions(o.webhooks);
  if (o.follow !== undefined) checkFollow(o.follow);
  assertSignal(o.signal);
}

/** The feed's settings, or undefined when the server does not follow the store. */
export function checkFollow(follow: ServeOptions['follow']): FollowSettings | undefined {
  if (follow === false) return undefined;
  if (follow === true) return { pollMs: 1_000, lookbackMs: 2_000 };
  if (!isPlainObject(follow)) throw new TypeError(`follow must be a boolean or { pollMs, lookbackMs }, got ${describe(follow)}`);
  for (const key of Object.keys(follow)) if (key !== 'pollMs' && key !== 'lookbackMs') throw new TypeError(`unknown follow option '${key}' (known: pollMs, lookbackMs)`);
  const pollMs = follow.pollMs ?? 1_000;
  const lookbackMs = follow.lookbackMs ?? 2_000;
  assertInteger(pollMs, 'follow.pollMs', { min: 1, max: MAX_TIMER_MS });
  assertInteger(lookbackMs, 'follow.lookbackMs', { min: 0 });
  return { pollMs, lookbackMs };
}

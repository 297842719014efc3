/**
 * HTTP plumbing of the server: the error shape every bad input gets, body reading under a limit,
 * JSON responses, constant-time token checks and request identities.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** One issue in an error's details: where (`path`) and what is wrong. */
export interface ErrorDetail {
  readonly path: string;
  readonly message: string;
}

/** What every refused request gets, as `{ error: { code, message, details? } }` with its status. */
export class HttpError extends Error {
  override readonly name = 'HttpError';
  readonly status: number;
  readonly code: string;
  readonly details: readonly ErrorDetail[] | undefined;
  /** Extra response headers (`Retry-After`, `WWW-Authenticate`). */
  readonly headers: Readonly<Record<string, string>>;

  constructor(status: number, code: string, message: string, options?: { readonly details?: readonly ErrorDetail[]; readonly headers?: Readonly<Record<string, string>> }) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = options?.details;
    this.headers = options?.headers ?? {};
  }

  /** The response body. */
  toJSON(): { error: { code: string; message: string; details?: readonly ErrorDetail[] } } {
    return { error: { code: this.code, message: this.message, ...(this.details === undefined ? {} : { details: this.details }) } };
  }
}

/** Sends `value` as JSON with `status`. */
export function sendJson(res: ServerResponse, status: number, value: unknown, headers?: Readonly<Record<string, string>>): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { ...headers, 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  res.end(body);
}

/** Sends an {@link HttpError}. */
export function sendError(res: ServerResponse, error: HttpError): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(res, error.status, error.toJSON(), error.headers);
}

/**
 * Reads a JSON body of at most `limit` bytes: 415 unless the content type is JSON, 413 over the
 * limit (announced or counted), 400 for malformed JSON.
 */
export async function readJson(req: IncomingMessage, limit: number, signal: AbortSignal): Promise<unknown> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') {
    throw new HttpError(415, 'unsupported_media_type', `the body must be application/json, got ${type === '' ? 'no content type' : type}`);
  }
  const announced = Number(req.headers['content-length']);
  if (Number.isFinite(announced) && announced > limit) throw new HttpError(413, 'payload_too_large', `the body is ${announced} bytes; the limit is ${limit}`);
  const chunks: Buffer[] = [];
  let size = 0;
  await new Promise<void>((resolve, reject) => {
    const cleanup = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onFail);
      signal.removeEventListener('abort', onAbort);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        reject(new HttpError(413, 'payload_too_large', `the body is over the limit of ${limit} bytes`));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      resolve();
    };
    const onFail = (error: Error): void => {
      cleanup();
      reject(error);
    };
    const onAbort = (): void => {
      cleanup();
      reject(signal.reason);
    };
    if (signal.aborted) return onAbort();
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onFail);
    signal.addEventListener('abort', onAbort, { once: true });
  });
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new HttpError(400, 'invalid_json', `the body is not valid JSON: ${(error as Error).message}`);
  }
}

const digest = (value: string): Buffer => createHash('sha256').update(value).digest();

/** Compares two secrets in constant time (over their SHA-256 digests, so that lengths leak nothing either). */
export function safeEqual(a: string, b: string): boolean {
  return timingSafeEqual(digest(a), digest(b));
}

/** True for addresses and names of the loopback interface. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127(?:\.\d{1,3}){3}$/.test(h) || h === '::ffff:127.0.0.1';
}

/** A plain JSON object, or a 400 saying what it got instead. */
export function expectObject(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new HttpError(400, 'invalid_request', `${what} must be a JSON object`);
  }
  return value as Record<string, unknown>;
}

/** Argument checks of the stores' admission control, shared so that every store rejects the same mistakes. */
import { assertInteger } from '../../core/validate.js';
import type { AdmissionRequest } from './contract.js';

/** Throws a TypeError or RangeError naming what is wrong with an {@link AdmissionRequest}. */
export function checkAdmission(request: AdmissionRequest): void {
  if (typeof request !== 'object' || request === null) throw new TypeError(`an admission request must be an object, got ${String(request)}`);
  for (const name of ['correlationId', 'inputId'] as const) {
    const value: unknown = request[name];
    if (typeof value !== 'string' || value === '' || value.includes('\u0000')) {
      throw new TypeError(`an admission request's ${name} must be a non-empty string without NUL characters, got ${JSON.stringify(value)}`);
    }
  }
  assertInteger(request.max, 'max', { min: 1 });
  assertInteger(request.reserveMs, 'reserveMs', { min: 0 });
  if (typeof request.now !== 'number' || !Number.isFinite(request.now)) throw new TypeError(`an admission request's now must be a finite number (epoch ms), got ${String(request.now)}`);
}

/**
 * The signal a task receives when its caller passed none. Creating an `AbortController` per call
 * would cost more than the call itself on the success path, so one signal that can never abort is
 * shared. Because it can never fire, listeners added to it would only pile up (a task that calls
 * `signal.addEventListener('abort', ..., { once: true })` and never removes it): this instance drops
 * them instead of keeping them, so sharing it cannot leak.
 */
const controller = new AbortController();

export const NEVER_ABORTED: AbortSignal = controller.signal;

Object.defineProperties(NEVER_ABORTED, {
  addEventListener: { value: (): void => {} },
  removeEventListener: { value: (): void => {} },
  onabort: { get: () => null, set: () => {} },
});

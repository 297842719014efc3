/**
 * Why an agent failed, in bounded memory: the count of final failures and the first few distinct
 * error messages with how often each came, which is what a reader of the summary needs to start
 * looking ("12 failed: ENOENT ... (11), EACCES ... (1)") without keeping every error of a long run.
 */
import type { BoardEvent } from 'skein/board';

/** The error of a failed run, as the board's `failed` event reports it. */
export type FailureError = Extract<BoardEvent, { kind: 'failed' }>['error'];

/** One distinct error message and how many final failures had it. */
export interface ErrorCount {
  /** `Name: message`, first line only (the name is left out when it is the plain `Error`). */
  readonly message: string;
  readonly count: number;
}

/** How many distinct messages are kept; later new messages are counted as others. */
export const MAX_DISTINCT_ERRORS = 3;
/** Longer messages are cut: the summary shows a hint, the trace keeps the whole error. */
const MAX_MESSAGE_LENGTH = 200;

/**
 * Counts final failures and keeps the first {@link MAX_DISTINCT_ERRORS} distinct messages, in the
 * order they first occurred; failures with any other message are counted in `others`.
 *
 * @example
 * ```ts
 * const tally = new FailureTally();
 * tally.record({ name: 'Error', message: 'job 1 is odd' });
 * tally.record({ name: 'Error', message: 'job 1 is odd' });
 * tally.count;    // 2
 * tally.errors(); // [{ message: 'job 1 is odd', count: 2 }]
 * ```
 */
export class FailureTally {
  readonly #byMessage = new Map<string, number>();
  #count = 0;
  #others = 0;

  /** Final failures recorded. */
  get count(): number {
    return this.#count;
  }

  /** Failures whose message was not among the first distinct ones kept. */
  get others(): number {
    return this.#others;
  }

  record(error: FailureError): void {
    this.#count++;
    const message = describeFailure(error);
    const seen = this.#byMessage.get(message);
    if (seen !== undefined) this.#byMessage.set(message, seen + 1);
    else if (this.#byMessage.size < MAX_DISTINCT_ERRORS) this.#byMessage.set(message, 1);
    else this.#others++;
  }

  /** The kept messages with their counts, in order of first occurrence. */
  errors(): ErrorCount[] {
    return [...this.#byMessage].map(([message, count]) => ({ message, count }));
  }
}

/** `TypeError: x is not a function`, or just the message for a plain `Error`; first line, cut to length. */
export function describeFailure(error: FailureError): string {
  const message = String(error.message ?? '').split('\n')[0] ?? '';
  const text = error.name === undefined || error.name === '' || error.name === 'Error' ? message : `${error.name}: ${message}`;
  return text.length > MAX_MESSAGE_LENGTH ? `${text.slice(0, MAX_MESSAGE_LENGTH - 1)}…` : text;
}

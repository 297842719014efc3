/**
 * The board's own errors. Cancellation and deadlines use the core's `CancelledError` and
 * `TimeoutError`; these are the failures only a board can have.
 */

/** One failing place in a payload: a dotted path (`items.0.qty`, `(root)` for the value itself) and why. */
export interface ValidationIssue {
  readonly path: string;
  readonly message: string;
}

/**
 * A payload did not satisfy its artifact type's schema. Nothing was stored or scheduled. `issues`
 * names every failing path; the message lists them too.
 *
 * @example
 * ```ts
 * import { Board, artifactType, ValidationError } from 'skein/board';
 * import { z } from 'zod';
 * const Order = artifactType('Order', z.object({ qty: z.number() }));
 * await using board = new Board();
 * const error = await board.publish(Order, { qty: 'two' } as never).catch((e: unknown) => e);
 * (error as ValidationError).issues[0]?.path; // 'qty'
 * ```
 */
export class ValidationError extends Error {
  override readonly name = 'ValidationError';
  /** The artifact type whose schema rejected the payload. */
  readonly typeName: string;
  readonly issues: readonly ValidationIssue[];

  constructor(typeName: string, issues: readonly ValidationIssue[], options?: ErrorOptions) {
    const listed = issues.map((issue) => `${issue.path}: ${issue.message}`).join('; ');
    super(`invalid ${typeName} payload: ${listed || 'rejected by its schema'}`, options);
    this.typeName = typeName;
    this.issues = issues;
  }
}

/**
 * The board was shut down (or is shutting down): it accepts no more artifacts and starts no more runs.
 *
 * @example
 * ```ts
 * import { Board, BoardClosedError, artifactType } from 'skein/board';
 * import { z } from 'zod';
 * const board = new Board();
 * await board.shutdown();
 * await board.publish(artifactType('X', z.string()), 'late').catch((e) => e instanceof BoardClosedError); // true
 * ```
 */
export class BoardClosedError extends Error {
  override readonly name = 'BoardClosedError';

  constructor(message = 'the board is shut down', options?: ErrorOptions) {
    super(message, options);
  }
}

/**
 * A board component's `onPublish` blocked an artifact; it was not stored. `reason` says why.
 *
 * @example
 * ```ts
 * import { PublishBlockedError } from 'skein/board';
 * const error = new PublishBlockedError('Note', 'looks like a secret');
 * error.reason; // 'looks like a secret'
 * ```
 */
export class PublishBlockedError extends Error {
  override readonly name = 'PublishBlockedError';
  readonly reason: string;

  constructor(typeName: string, reason: string, options?: ErrorOptions) {
    super(`publishing ${typeName} was blocked: ${reason}`, options);
    this.reason = reason;
  }
}

/**
 * Raised inside a run whose outputs break the agent's declaration (an undeclared type, too many fan-out items).
 *
 * @example
 * ```ts
 * import { Board, artifactType } from 'skein/board';
 * import { z } from 'zod';
 * const In = artifactType('In', z.string());
 * const Out = artifactType('Out', z.string());
 * await using board = new Board();
 * // Returns 3 items where fanOut allows 2: the run fails with an OutputError (see board.deadLetters()).
 * board.agent('greedy').consumes(In).publishes(Out, { fanOut: 2 }).handle(() => ['a', 'b', 'c']);
 * ```
 */
export class OutputError extends Error {
  override readonly name = 'OutputError';

  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
  }
}

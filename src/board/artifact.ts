/**
 * Artifacts and their types. An artifact is an immutable, typed fact on the board; its type is a
 * name plus a Standard Schema validator, so the board can check every payload it accepts.
 */
import { describe } from '../core/validate.js';
import { ValidationError, type ValidationIssue } from './errors.js';
import { isStandardSchema, type StandardSchemaV1 } from './standard-schema.js';
import { checkVisibility, type Visibility } from './visibility.js';

/** Where an artifact's publish span lives, so that the runs it triggers can link to it. */
export interface TraceRef {
  readonly traceId: string;
  readonly spanId: string;
  readonly traceFlags: number;
}

/**
 * A published, validated, stored artifact. Times are ISO 8601 strings in UTC.
 *
 * @example
 * ```ts
 * import { Board, artifactType } from 'skein/board';
 * import { z } from 'zod';
 * const Note = artifactType('Note', z.string());
 * await using board = new Board();
 * const note = await board.publish(Note, 'hello');
 * console.log(note.id, note.type, note.payload, note.producedBy, note.correlationId, note.createdAt);
 * ```
 */
export interface Artifact<T = unknown> {
  readonly id: string;
  /** The artifact type's name. */
  readonly type: string;
  readonly payload: T;
  /** The agent that produced it, or `'external'` for `board.publish`. */
  readonly producedBy: string;
  /** The workflow it belongs to. Outputs inherit the correlation id of the run's inputs. */
  readonly correlationId: string;
  readonly tags: readonly string[];
  readonly visibility: Visibility;
  readonly createdAt: string;
  /** The ids of the artifacts whose run produced this one (empty for external publishes). */
  readonly causedBy: readonly string[];
  /**
   * The agents whose runs led to this artifact (its producer and its inputs' lineage); absent for
   * external publishes. How the board tells a feedback loop (an agent consuming what descends from
   * its own output) from volume.
   */
  readonly lineage?: readonly string[] | undefined;
  readonly trace?: TraceRef | undefined;
  /**
   * When it became visible (ISO 8601, UTC), for an artifact published under an embargo
   * (`visibleAt`, `visibleAfterMs`); absent for one visible from its publication. Until then the
   * store holds it apart: no agent is triggered by it, and no read (an agent's, `store.list`, the
   * HTTP API) finds it.
   */
  readonly visibleAt?: string | undefined;
}

/**
 * Per-artifact options of a publish.
 *
 * @example
 * ```ts
 * import { Board, artifactType } from 'skein/board';
 * import { z } from 'zod';
 * import { visibility } from 'skein/board';
 * const Note = artifactType('Note', z.string());
 * const draft = Note.draft('secret', { tags: ['hr'], visibility: visibility.private(['hr-bot']) });
 * ```
 */
export interface DraftOptions {
  readonly tags?: readonly string[];
  readonly visibility?: Visibility;
  /**
   * An embargo: the artifact becomes visible at this instant (a `Date`, an ISO 8601 string, or epoch
   * milliseconds), visible to no agent and no reader before. An instant not after the publication is
   * no embargo. Not with `visibleAfterMs`.
   */
  readonly visibleAt?: Date | string | number;
  /** An embargo: the artifact becomes visible this many milliseconds after its publication (0: at once). Not with `visibleAt`. */
  readonly visibleAfterMs?: number;
}

const DRAFT = Symbol('skein.board.draft');

/**
 * An output an agent returns or yields when it must say which type it is: made with `Type.draft(payload)`.
 *
 * @example
 * ```ts
 * import { artifactType, isDraft } from 'skein/board';
 * import { z } from 'zod';
 * const Note = artifactType('Note', z.string());
 * isDraft(Note.draft('x')); // true
 * ```
 */
export interface Draft<T = unknown> {
  readonly [DRAFT]: true;
  readonly type: ArtifactTypeOf<T>;
  readonly payload: unknown;
  readonly options: DraftOptions | undefined;
}

/**
 * True for a value made by {@link ArtifactType.draft}.
 *
 * @example
 * ```ts
 * import { artifactType, isDraft } from 'skein/board';
 * import { z } from 'zod';
 * isDraft(artifactType('Note', z.string()).draft('x')); // true
 * isDraft({ payload: 'x' }); // false
 * ```
 */
export function isDraft(value: unknown): value is Draft {
  return typeof value === 'object' && value !== null && (value as { [DRAFT]?: unknown })[DRAFT] === true;
}

/**
 * A named artifact type: payloads of type `T` (after validation), accepted as `I`.
 *
 * @example
 * ```ts
 * import { artifactType, type ArtifactType } from 'skein/board';
 * import { z } from 'zod';
 * const Order: ArtifactType<{ qty: number }> = artifactType('Order', z.object({ qty: z.number() }));
 * ```
 */
export interface ArtifactType<T = unknown, I = T> {
  readonly name: string;
  readonly schema: StandardSchemaV1<I, T>;
  /**
   * Wraps a payload with its type, for agents that publish several types and must say which one a
   * returned or yielded value is.
   */
  draft(payload: I, options?: DraftOptions): Draft<T>;
}

/**
 * The payload type of an artifact type: `PayloadOf<typeof Order>`.
 *
 * @example
 * ```ts
 * import { artifactType, type PayloadOf } from 'skein/board';
 * import { z } from 'zod';
 * const Order = artifactType('Order', z.object({ qty: z.number().default(1) }));
 * type Order = PayloadOf<typeof Order>; // { qty: number }
 * ```
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type PayloadOf<A> = A extends ArtifactType<infer T, any> ? T : never;
/**
 * What `publish` accepts for an artifact type (the schema's input).
 *
 * @example
 * ```ts
 * import { artifactType, type InputOf } from 'skein/board';
 * import { z } from 'zod';
 * const Order = artifactType('Order', z.object({ qty: z.number().default(1) }));
 * type OrderInput = InputOf<typeof Order>; // { qty?: number | undefined }
 * ```
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type InputOf<A> = A extends ArtifactType<any, infer I> ? I : never;
/** An artifact type whose payloads are `T`, whatever it accepts as input. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type ArtifactTypeOf<T> = ArtifactType<T, any>;
/** Any artifact type. */
export type AnyArtifactType = ArtifactTypeOf<unknown>;

const NAME = /^[A-Za-z_][\w.:-]*$/;

/**
 * Declares an artifact type from a name and any Standard Schema validator (zod, valibot, arktype).
 * Names are unique per board: registering two different types with one name is an error.
 *
 * @example
 * ```ts
 * import { artifactType } from 'skein/board';
 * import { z } from 'zod';
 * const Order = artifactType('Order', z.object({ id: z.string(), qty: z.number().int().positive() }));
 * Order.name; // 'Order'
 * ```
 */
export function artifactType<S extends StandardSchemaV1>(
  name: string,
  schema: S,
): ArtifactType<StandardSchemaV1.InferOutput<S>, StandardSchemaV1.InferInput<S>> {
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw new TypeError(`artifactType name must be an identifier-like string (letters, digits, _ . : -), got ${describe(name)}`);
  }
  if (!isStandardSchema(schema)) {
    throw new TypeError(`artifactType('${name}') needs a Standard Schema validator (zod, valibot, arktype...), got ${describe(schema)}`);
  }
  type T = StandardSchemaV1.InferOutput<S>;
  const type: ArtifactType<T, StandardSchemaV1.InferInput<S>> = Object.freeze({
    name,
    schema: schema,
    draft(payload: unknown, options?: DraftOptions): Draft<T> {
      return { [DRAFT]: true, type, payload, options };
    },
  });
  return type;
}

/** Checks that `value` is an artifact type made by {@link artifactType}. */
export function assertArtifactType(value: unknown, what: string): asserts value is AnyArtifactType {
  if (
    typeof value !== 'object' ||
    value === null ||
    typeof (value as { name?: unknown }).name !== 'string' ||
    !isStandardSchema((value as { schema?: unknown }).schema)
  ) {
    throw new TypeError(`${what} must be an artifact type made with artifactType(name, schema), got ${describe(value)}`);
  }
}

function pathOf(issue: StandardSchemaV1.Issue): string {
  if (issue.path === undefined || issue.path.length === 0) return '(root)';
  return issue.path
    .map((segment) => String(typeof segment === 'object' && segment !== null ? segment.key : segment))
    .join('.');
}

function toIssues(issues: ReadonlyArray<StandardSchemaV1.Issue>): ValidationIssue[] {
  return issues.map((issue) => ({ path: pathOf(issue), message: issue.message }));
}

function settleResult<T>(type: AnyArtifactType, result: StandardSchemaV1.Result<T>): T {
  if (result.issues !== undefined) throw new ValidationError(type.name, toIssues(result.issues));
  return result.value;
}

/**
 * Validates `payload` against `type`'s schema. Returns the parsed value, synchronously when the
 * schema is synchronous (the common case, and the fast one), or a promise when it is not. Throws (or
 * rejects with) a {@link ValidationError} naming every failing path.
 */
export function validatePayload<T>(type: ArtifactTypeOf<T>, payload: unknown): T | Promise<T> {
  let result: StandardSchemaV1.Result<T> | Promise<StandardSchemaV1.Result<T>>;
  try {
    result = type.schema['~standard'].validate(payload);
  } catch (error) {
    throw new ValidationError(type.name, [{ path: '(root)', message: `the schema threw: ${String(error)}` }], { cause: error });
  }
  if (result instanceof Promise) return result.then((settled) => settleResult(type, settled));
  return settleResult(type, result);
}

/** Checks a tag list given by a user. */
export function checkTags(value: unknown, what = 'tags'): readonly string[] {
  if (value === undefined) return EMPTY;
  if (!Array.isArray(value) || value.some((tag) => typeof tag !== 'string')) {
    throw new TypeError(`${what} must be an array of strings, got ${describe(value)}`);
  }
  return value.length === 0 ? EMPTY : Object.freeze([...(value as string[])]);
}

export const EMPTY: readonly string[] = Object.freeze([]);

export { checkVisibility };

/**
 * Who may see an artifact. The board checks visibility twice: when it decides which agents an
 * artifact schedules, and when an agent reads the board through its context. An agent never sees,
 * and is never triggered by, an artifact it may not see.
 *
 * Visibility may also begin later (an embargo: `visibleAt`, `visibleAfterMs`): the store holds such
 * an artifact apart until then, and releases it (stores it and schedules its agents) when the time
 * comes, so that before that instant it is visible to nobody, agents and readers alike.
 */
import { describe } from '../core/validate.js';

/** Everyone may see it (the default). */
export interface PublicVisibility {
  readonly kind: 'public';
}
/** Only the named agents (and the producer) may see it. */
export interface PrivateVisibility {
  readonly kind: 'private';
  readonly agents: readonly string[];
}
/** Only agents that carry every one of these labels (and the producer) may see it. */
export interface LabelledVisibility {
  readonly kind: 'labels';
  readonly labels: readonly string[];
}
/** Only agents of this tenant (and the producer) may see it. */
export interface TenantVisibility {
  readonly kind: 'tenant';
  readonly tenant: string;
}

/**
 * Who may see an artifact: make one with {@link visibility}.
 *
 * @example
 * ```ts
 * import { visibility, type Visibility } from 'skein/board';
 * const onlyAuditors: Visibility = visibility.private(['auditor']);
 * ```
 */
export type Visibility = PublicVisibility | PrivateVisibility | LabelledVisibility | TenantVisibility;

/** What the board knows about an agent when it checks visibility. */
export interface Viewer {
  readonly name: string;
  readonly labels: ReadonlySet<string>;
  readonly tenant: string | undefined;
}

const PUBLIC: PublicVisibility = Object.freeze({ kind: 'public' });

function names(value: unknown, what: string): readonly string[] {
  if (!Array.isArray(value) || value.some((item) => typeof item !== 'string' || item === '')) {
    throw new TypeError(`${what} must be an array of non-empty strings, got ${describe(value)}`);
  }
  return Object.freeze([...(value as string[])]);
}

/**
 * Constructors for {@link Visibility} values.
 *
 * @example
 * ```ts
 * import { visibility } from 'skein/board';
 * visibility.private(['auditor']); // { kind: 'private', agents: ['auditor'] }
 * visibility.tenant('acme');       // { kind: 'tenant', tenant: 'acme' }
 * ```
 */
export const visibility = Object.freeze({
  public: (): PublicVisibility => PUBLIC,
  private: (agents: readonly string[]): PrivateVisibility =>
    Object.freeze({ kind: 'private', agents: names(agents, 'visibility.private(agents)') }),
  labels: (labels: readonly string[]): LabelledVisibility =>
    Object.freeze({ kind: 'labels', labels: names(labels, 'visibility.labels(labels)') }),
  tenant: (tenant: string): TenantVisibility => {
    if (typeof tenant !== 'string' || tenant === '') {
      throw new TypeError(`visibility.tenant(tenant) must be a non-empty string, got ${describe(tenant)}`);
    }
    return Object.freeze({ kind: 'tenant', tenant });
  },
});

/** Checks a visibility value given by a user and returns it (frozen), or throws a TypeError saying what is allowed. */
export function checkVisibility(value: unknown, what = 'visibility'): Visibility {
  if (value === undefined) return PUBLIC;
  const v = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
  const kind = v.kind;
  switch (kind) {
    case 'public':
      return PUBLIC;
    case 'private':
      return visibility.private(v.agents as string[]);
    case 'labels':
      return visibility.labels(v.labels as string[]);
    case 'tenant':
      return visibility.tenant(v.tenant as string);
    default:
      throw new TypeError(
        `${what} must be made with visibility.public(), .private(agents), .labels(labels) or .tenant(name), got ${describe(value)}`,
      );
  }
}

/** True when `viewer` may see an artifact with `visible`, produced by `producedBy`. */
export function isVisibleTo(visible: Visibility, producedBy: string, viewer: Viewer): boolean {
  switch (visible.kind) {
    case 'public':
      return true;
    case 'private':
      return producedBy === viewer.name || visible.agents.includes(viewer.name);
    case 'labels':
      return producedBy === viewer.name || visible.labels.every((label) => viewer.labels.has(label));
    case 'tenant':
      return producedBy === viewer.name || visible.tenant === viewer.tenant;
  }
}

/**
 * The instant (epoch ms) an artifact published at `now` with these options becomes visible, or
 * undefined when it is visible at once (no embargo, or one not after `now`). Throws a TypeError or
 * RangeError naming the option for a bad value, or both options at once.
 */
export function embargoEnd(options: { readonly visibleAt?: unknown; readonly visibleAfterMs?: unknown } | undefined, now: number): number | undefined {
  const at = options?.visibleAt;
  const afterMs = options?.visibleAfterMs;
  if (at !== undefined && afterMs !== undefined) throw new TypeError('visibleAt and visibleAfterMs cannot be given together: give one');
  let end: number | undefined;
  if (afterMs !== undefined) {
    if (typeof afterMs !== 'number' || !Number.isFinite(afterMs) || afterMs < 0) {
      throw new RangeError(`visibleAfterMs must be a finite number of milliseconds >= 0, got ${describe(afterMs)}`);
    }
    end = now + afterMs;
  } else if (at !== undefined) {
    end = at instanceof Date ? at.getTime() : typeof at === 'string' ? Date.parse(at) : typeof at === 'number' ? at : NaN;
    if (!Number.isFinite(end)) throw new TypeError(`visibleAt must be a valid Date, ISO 8601 string or epoch milliseconds, got ${describe(at)}`);
  }
  return end !== undefined && end > now ? end : undefined;
}

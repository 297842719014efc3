/**
 * A timer's schedule, as pure arithmetic over epoch milliseconds: which instants ("slots") it ticks
 * at, and what to do when the board finds slots that passed while no board was firing them. Nothing
 * here keeps time or state: the store holds a timer's next slot and tick count, the board's timer
 * stage (`pipeline/timers.ts`) arms one `setTimeout` for the earliest slot.
 *
 * Recurrences:
 * - `every` (an interval): slots at a fixed pace from the first (no drift: slot k is first + k * every);
 * - `at: 'HH:MM'` (a time of day in `timeZone`), computed with `Intl` alone;
 * - `cron` (an expression), through `croner`, an optional peer loaded on first use;
 * - `after` (an initial delay) alone, or `at` given a `Date`: one tick.
 *
 * Time zones default to UTC rather than the machine's zone, so that every worker sharing a store
 * computes the same slots.
 */
import { createRequire } from 'node:module';
import { describe } from '../core/validate.js';

/**
 * What to do with slots that passed before a board could fire them (the board was down, the
 * timer's workflow paused, the process stalled): `'once'` (the default) fires one tick for them all,
 * for the earliest, then goes on from the next slot in the future (as cron's anacron and systemd's
 * `Persistent=true` do); `'all'` fires one tick per missed slot, in order; `'skip'` drops every slot
 * more than `toleranceMs` late and goes on from the next one.
 *
 * @example
 * ```ts
 * import type { MissedTicks } from 'skein/board';
 * const policy: MissedTicks = 'all'; // a billing timer must account for every period
 * ```
 */
export type MissedTicks = 'skip' | 'once' | 'all';

/**
 * When an agent runs by itself: `.schedule(options)` on the agent builder. Give a recurrence
 * (`every`, `at` or `cron`), or `after` alone for one tick; `after` with a recurrence delays its start.
 *
 * @example
 * ```ts
 * import { Board, artifactType } from 'skein/board';
 * import { z } from 'zod';
 * const Report = artifactType('Report', z.object({ tick: z.number() }));
 * await using board = new Board();
 * board.agent('nightly').schedule({ at: '02:30', timeZone: 'Europe/Paris', missed: 'once' }).publishes(Report)
 *   .handle((_inputs, ctx) => ({ tick: ctx.timer!.tick }));
 * ```
 */
export interface ScheduleOptions {
  /** An interval in milliseconds (>= 1): slots at this pace, the first `after` (default: `every`) from the start. */
  readonly every?: number;
  /** An initial delay in milliseconds: alone, one tick that much after the start; with a recurrence, its first slot is no sooner. */
  readonly after?: number;
  /** A time of day, `'HH:MM'` or `'HH:MM:SS'` in `timeZone` (daily); or a `Date`: one tick then (the first slot, with `every`). */
  readonly at?: string | Date;
  /** A cron expression (5 fields, or 6 with seconds first), read by `croner` (an optional peer: `npm install croner`). */
  readonly cron?: string;
  /** An IANA time zone for `at` and `cron` (default `'UTC'`). */
  readonly timeZone?: string;
  /** At most this many ticks in all (integer >= 1); then the timer is done. Skipped slots do not count. */
  readonly maxRepeats?: number;
  /** Slots that passed before a board fired them (default `'once'`). */
  readonly missed?: MissedTicks;
  /** A tick fired up to this late counts as on time, under `missed: 'skip'` (default 1000 ms). */
  readonly toleranceMs?: number;
  /**
   * A workflow (correlation id) the timer belongs to: its ticks run in it, pausing it pauses the
   * timer (slots passing meanwhile are missed ones), cancelling it ends the timer. Without it, each
   * tick is a workflow of its own (`timer:<agent>:<tick>`).
   */
  readonly workflow?: string;
}

const KEYS = ['every', 'after', 'at', 'cron', 'timeZone', 'maxRepeats', 'missed', 'toleranceMs', 'workflow'] as const;
const MISSED: readonly MissedTicks[] = ['skip', 'once', 'all'];
/** The longest interval or delay accepted: a hundred years, far past any sensible schedule but still exact in a double. */
const MAX_SPAN_MS = 100 * 365 * 24 * 3_600_000;
/** How many passed slots `plan` walks through before jumping to the present. */
const MAX_WALK = 10_000;
const TIME_OF_DAY = /^([01]\d|2[0-3]):([0-5]\d)(?::([0-5]\d))?$/;

/** The part of croner skein uses: declared here so that no published type needs the optional peer. */
interface CronJob {
  nextRun(after?: Date): Date | null;
}
type CronConstructor = new (pattern: string, options: { readonly timezone: string; readonly paused: boolean }) => CronJob;

let cronConstructor: CronConstructor | undefined;

/** croner, loaded the first time a `cron` schedule is declared. */
function loadCron(): CronConstructor {
  if (cronConstructor !== undefined) return cronConstructor;
  let loaded: { Cron?: CronConstructor };
  try {
    loaded = createRequire(import.meta.url)('croner') as { Cron?: CronConstructor };
  } catch (error) {
    throw new Error("schedule cron needs the 'croner' package: npm install croner", { cause: error });
  }
  if (typeof loaded.Cron !== 'function') throw new Error("the installed 'croner' package has no Cron export; install croner 11 or later");
  cronConstructor = loaded.Cron;
  return cronConstructor;
}

const formats = new Map<string, Intl.DateTimeFormat>();

/** A formatter of wall-clock fields in `timeZone`; a RangeError naming the zone when it is unknown. */
function wallClock(timeZone: string): Intl.DateTimeFormat {
  let format = formats.get(timeZone);
  if (format === undefined) {
    try {
      format = new Intl.DateTimeFormat('en-US', {
        timeZone,
        hourCycle: 'h23',
        year: 'numeric',
        month: 'numeric',
        day: 'numeric',
        hour: 'numeric',
        minute: 'numeric',
        second: 'numeric',
      });
    } catch {
      throw new RangeError(`schedule timeZone must be an IANA time zone such as 'Europe/Paris' or 'UTC', got ${describe(timeZone)}`);
    }
    formats.set(timeZone, format);
  }
  return format;
}

/** The wall-clock fields of `ms` in `timeZone`, read back as if they were UTC. */
function wallMs(ms: number, timeZone: string): number {
  const fields: Record<string, number> = {};
  for (const part of wallClock(timeZone).formatToParts(ms)) if (part.type !== 'literal') fields[part.type] = Number(part.value);
  return Date.UTC(fields.year!, fields.month! - 1, fields.day, fields.hour, fields.minute, fields.second);
}

/** The zone's offset from UTC at instant `ms` (whole seconds). */
function offsetMs(ms: number, timeZone: string): number {
  const whole = Math.floor(ms / 1000) * 1000;
  return wallMs(whole, timeZone) - whole;
}

/**
 * The instant a wall-clock time (given as UTC fields) names in `timeZone`. A time skipped by a
 * daylight-saving change (02:30 on a spring-forward night) is read with the offset before the change,
 * so it lands just after the gap; a repeated one (autumn) is its first occurrence.
 */
function instantOf(wall: number, timeZone: string): number {
  // Offsets change at most once a day: the offsets half a day either side are the candidates.
  const before = wall - offsetMs(wall - 43_200_000, timeZone);
  const after = wall - offsetMs(wall + 43_200_000, timeZone);
  const exists = [before, after].filter((instant) => wallMs(instant, timeZone) === wall);
  return exists.length > 0 ? Math.min(...exists) : before;
}

/**
 * A validated schedule: the slots it ticks at and how it treats missed ones.
 *
 * @example
 * ```ts
 * import { Schedule } from 'skein/board';
 * const schedule = Schedule.from({ every: 60_000 });
 * schedule.first(0); // 60000: the first slot of a timer started at epoch 0
 * schedule.next(60_000); // 120000
 * ```
 */
export class Schedule {
  readonly #every: number | undefined;
  readonly #after: number | undefined;
  readonly #at: number | undefined;
  readonly #timeOfDay: readonly [number, number, number] | undefined;
  readonly #cron: CronJob | undefined;
  readonly timeZone: string;
  /** At most this many ticks (Infinity: no limit). */
  readonly maxRepeats: number;
  readonly missed: MissedTicks;
  readonly toleranceMs: number;
  /** The workflow the ticks run in, if the timer belongs to one. */
  readonly workflow: string | undefined;
  /**
   * What identifies the schedule in the store: a timer found there with another fingerprint was
   * declared differently before (a deploy changed it) and starts over from the new schedule.
   */
  readonly fingerprint: string;

  private constructor(options: ScheduleOptions) {
    this.#every = options.every;
    this.#after = options.after;
    this.timeZone = options.timeZone ?? 'UTC';
    this.maxRepeats = options.maxRepeats ?? (options.every === undefined && options.cron === undefined && (typeof options.at !== 'string') ? 1 : Infinity);
    this.missed = options.missed ?? 'once';
    this.toleranceMs = options.toleranceMs ?? 1_000;
    this.workflow = options.workflow;
    if (options.at instanceof Date) this.#at = options.at.getTime();
    else if (typeof options.at === 'string') {
      const [, h, m, s] = TIME_OF_DAY.exec(options.at)!;
      this.#timeOfDay = [Number(h), Number(m), Number(s ?? 0)];
    }
    if (options.cron !== undefined) {
      const Cron = loadCron();
      try {
        this.#cron = new Cron(options.cron, { timezone: this.timeZone, paused: true });
      } catch (error) {
        throw new TypeError(`schedule cron ${JSON.stringify(options.cron)} is not a valid cron expression: ${(error as Error).message}`, { cause: error });
      }
      if (this.#cron.nextRun(new Date()) === null) throw new RangeError(`schedule cron ${JSON.stringify(options.cron)} never fires`);
    }
    this.fingerprint = JSON.stringify([
      options.every ?? null,
      options.after ?? null,
      options.at instanceof Date ? options.at.toISOString() : (options.at ?? null),
      options.cron ?? null,
      this.timeZone,
      this.maxRepeats === Infinity ? null : this.maxRepeats,
      this.workflow ?? null,
    ]);
  }

  /** Checks `options` (unknown keys, types, ranges, combinations) and builds the schedule. */
  static from(options: ScheduleOptions): Schedule {
    if (options === null || typeof options !== 'object') throw new TypeError(`schedule options must be an object, got ${describe(options)}`);
    for (const key of Object.keys(options)) {
      if (!(KEYS as readonly string[]).includes(key)) throw new TypeError(`schedule has no option ${JSON.stringify(key)}; its options are ${KEYS.join(', ')}`);
    }
    const o = options as Record<string, unknown>;
    for (const key of ['every', 'after', 'toleranceMs'] as const) {
      const value = o[key];
      if (value === undefined) continue;
      if (typeof value !== 'number' || !Number.isFinite(value) || value < (key === 'every' ? 1 : 0) || value > MAX_SPAN_MS) {
        throw new RangeError(`schedule ${key} must be a number of milliseconds ${key === 'every' ? '>= 1' : '>= 0'} and at most 100 years, got ${describe(value)}`);
      }
    }
    if (o.at !== undefined) {
      if (o.at instanceof Date) {
        if (Number.isNaN(o.at.getTime())) throw new RangeError('schedule at is an invalid Date');
      } else if (typeof o.at !== 'string' || !TIME_OF_DAY.test(o.at)) {
        throw new TypeError(`schedule at must be a time of day 'HH:MM' or 'HH:MM:SS' (24-hour), or a Date, got ${describe(o.at)}`);
      }
    }
    if (o.cron !== undefined && (typeof o.cron !== 'string' || o.cron.trim() === '')) throw new TypeError(`schedule cron must be a non-empty string, got ${describe(o.cron)}`);
    if (o.timeZone !== undefined) {
      if (typeof o.timeZone !== 'string') throw new TypeError(`schedule timeZone must be a string, got ${describe(o.timeZone)}`);
      wallClock(o.timeZone);
    }
    if (o.maxRepeats !== undefined && (typeof o.maxRepeats !== 'number' || !Number.isInteger(o.maxRepeats) || o.maxRepeats < 1)) {
      throw new RangeError(`schedule maxRepeats must be an integer >= 1, got ${describe(o.maxRepeats)}`);
    }
    if (o.missed !== undefined && !MISSED.includes(o.missed as MissedTicks)) {
      throw new TypeError(`schedule missed must be one of ${MISSED.map((m) => `'${m}'`).join(', ')}, got ${describe(o.missed)}`);
    }
    if (o.workflow !== undefined && (typeof o.workflow !== 'string' || o.workflow === '' || o.workflow.includes('\0'))) {
      throw new TypeError(`schedule workflow must be a non-empty correlation id, got ${describe(o.workflow)}`);
    }
    const recurrences = [o.every !== undefined && 'every', typeof o.at === 'string' && 'at', o.cron !== undefined && 'cron'].filter(Boolean);
    if (recurrences.length > 1) throw new TypeError(`schedule takes one recurrence, got ${recurrences.join(' and ')}`);
    if (recurrences.length === 0 && o.after === undefined && o.at === undefined) {
      throw new TypeError('schedule needs every, at or cron (a recurrence), or after alone (one tick)');
    }
    if (o.at instanceof Date && o.after !== undefined) throw new TypeError('schedule at (a Date) and after both say when the first tick is: give one');
    if (o.timeZone !== undefined && typeof o.at !== 'string' && o.cron === undefined) throw new TypeError('schedule timeZone applies to at (a time of day) and cron only');
    return new Schedule(options);
  }

  /** The first slot of a timer started at `start` (epoch ms); undefined when there is none (a Date in the past is still one slot). */
  first(start: number): number | undefined {
    if (this.#at !== undefined) return this.#at;
    if (this.#every !== undefined) return start + (this.#after ?? this.#every);
    const from = start + (this.#after ?? 0);
    if (this.#timeOfDay === undefined && this.#cron === undefined) return from;
    return this.#recurring(from - 1);
  }

  /** The slot after `slot`; undefined when the schedule has no more (one tick, a cron expression that ends). */
  next(slot: number): number | undefined {
    if (this.#every !== undefined) return slot + this.#every;
    if (this.#timeOfDay === undefined && this.#cron === undefined) return undefined;
    return this.#recurring(slot);
  }

  /** The first recurring slot strictly after `after`. */
  #recurring(after: number): number | undefined {
    if (this.#cron !== undefined) return this.#cron.nextRun(new Date(after))?.getTime() ?? undefined;
    const [h, m, s] = this.#timeOfDay!;
    const today = new Date(wallMs(after, this.timeZone));
    for (let day = 0; day < 3; day++) {
      const wall = Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate() + day, h, m, s);
      const instant = instantOf(wall, this.timeZone);
      if (instant > after) return instant;
    }
    return undefined;
  }

  /**
   * What to do at `now` about a timer whose next slot `due` has come, having ticked `ticks` times:
   * the slot to fire a tick for (none: every passed slot was skipped), and the timer's next slot
   * afterwards (undefined: the timer is done).
   */
  plan(due: number, now: number, ticks: number): { readonly fire: number | undefined; readonly nextDue: number | undefined } {
    let slot: number | undefined = due;
    if (this.missed === 'skip') {
      // Walk past the slots more than toleranceMs late; fire the first that is not.
      for (let walked = 0; slot !== undefined && now - slot > this.toleranceMs; walked++) {
        slot = walked < MAX_WALK ? this.next(slot) : this.#firstAfter(now, slot);
        if (slot !== undefined && slot > now) return { fire: undefined, nextDue: slot };
      }
      if (slot === undefined) return { fire: undefined, nextDue: undefined };
    }
    if (ticks + 1 >= this.maxRepeats) return { fire: slot, nextDue: undefined };
    const following = this.next(slot);
    if (this.missed === 'once' && following !== undefined && following <= now) return { fire: slot, nextDue: this.#firstAfter(now, slot) };
    return { fire: slot, nextDue: following };
  }

  /** The first slot strictly after `now`, `slot` being one (an interval's slots keep their phase). */
  #firstAfter(now: number, slot: number): number | undefined {
    if (this.#every !== undefined) return now < slot ? slot : slot + (Math.floor((now - slot) / this.#every) + 1) * this.#every;
    if (this.#timeOfDay === undefined && this.#cron === undefined) return undefined;
    return this.#recurring(now);
  }
}

/**
 * Statements on timers (table `timers`, migration 2): one row per scheduled agent, its next slot
 * (null once done), its tick count and the version that guards firing it. `s` is the quoted schema name.
 */

const TIMER_COLUMNS = 'name, fingerprint, workflow, next_due_at, ticks, version';

/** Timers among $1 that may fire: those of a paused or cancelled workflow are left out. */
const armed = (s: string) => `name = any($1::text[]) and next_due_at is not null
  and (workflow is null or not exists (select 1 from ${s}.workflows w where w.correlation_id = t.workflow and w.state <> 'active'))`;

export const timer = (s: string) => `
  select ${TIMER_COLUMNS} from ${s}.timers where name = $1`;

/** A new timer, or one whose schedule changed (its ticks kept, its version bumped); no row when it is stored with the same fingerprint. */
export const upsertTimer = (s: string) => `
  insert into ${s}.timers (name, fingerprint, workflow, next_due_at, ticks, version) values ($1, $2, $3, $4, 0, 1)
  on conflict (name) do update set fingerprint = excluded.fingerprint, workflow = excluded.workflow, next_due_at = excluded.next_due_at, version = timers.version + 1
    where timers.fingerprint <> excluded.fingerprint
  returning ${TIMER_COLUMNS}`;

/** The move a fire unit makes ($1 next slot, $2 ticks), guarded by the version it read ($4); no row when it moved. */
export const moveTimer = (s: string) => `
  update ${s}.timers set next_due_at = $1, ticks = $2, version = version + 1 where name = $3 and version = $4 returning name`;

export const dueTimers = (s: string) => `
  select ${TIMER_COLUMNS} from ${s}.timers t where ${armed(s)} and next_due_at <= $2 order by next_due_at limit $3`;

export const nextTimerDue = (s: string) => `
  select min(next_due_at) as due from ${s}.timers t where ${armed(s)}`;

export const listTimers = (s: string) => `
  select ${TIMER_COLUMNS} from ${s}.timers order by name`;

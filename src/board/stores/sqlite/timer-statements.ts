/**
 * The SQLite store's statements on timers (table `timers`, migration 2), named for what they do.
 * Parameters are positional; the comment above a statement lists them in order.
 */

const TIMER_COLUMNS = 'name, fingerprint, workflow, next_due_at, ticks, version';

/** Timers among `names` that may fire: those of a paused or cancelled workflow are left out. */
const ARMED = `name IN (SELECT value FROM json_each(?)) AND next_due_at IS NOT NULL
  AND (workflow IS NULL OR NOT EXISTS (SELECT 1 FROM workflows w WHERE w.correlation_id = timers.workflow))`;

export const TIMER_SQL = {
  /** name */
  timer: `SELECT ${TIMER_COLUMNS} FROM timers WHERE name = ?`,
  /** name, fingerprint, workflow, next_due_at: a new timer, or one whose schedule changed (its ticks kept, its version bumped) */
  upsertTimer: `INSERT INTO timers (name, fingerprint, workflow, next_due_at, ticks, version) VALUES (?, ?, ?, ?, 0, 1)
    ON CONFLICT (name) DO UPDATE SET fingerprint = excluded.fingerprint, workflow = excluded.workflow, next_due_at = excluded.next_due_at, version = timers.version + 1
    RETURNING ${TIMER_COLUMNS}`,
  /** next_due_at, ticks, name, version: the move a fire unit makes, guarded by the version it read */
  moveTimer: 'UPDATE timers SET next_due_at = ?, ticks = ?, version = version + 1 WHERE name = ? AND version = ?',
  /** names as a JSON array, now, limit */
  dueTimers: `SELECT ${TIMER_COLUMNS} FROM timers WHERE ${ARMED} AND next_due_at <= ? ORDER BY next_due_at LIMIT ?`,
  /** names as a JSON array */
  nextTimerDue: `SELECT min(next_due_at) AS due FROM timers WHERE ${ARMED}`,
  listTimers: `SELECT ${TIMER_COLUMNS} FROM timers ORDER BY name`,
} as const;

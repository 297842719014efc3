/**
 * Admission control in SQLite ({@link BoardStore.admitWorkflow}): one row per admitted workflow, its
 * place recounted from its work. The board's write transaction (`BEGIN IMMEDIATE`) serializes
 * admissions across processes, so two boards never both take the last place.
 */
import { checkAdmission } from '../../store/admission.js';
import type { AdmissionAnswer, AdmissionRequest } from '../../store/contract.js';
import type { SqliteDriver } from './driver.js';

/** The input of admitted workflow `a` is in the store: stored, or held under embargo. */
const INPUT_HELD = '(EXISTS (SELECT 1 FROM artifacts WHERE id = a.input_id) OR EXISTS (SELECT 1 FROM embargoes WHERE id = a.input_id))';

/** An admitted workflow `a` is active at ?1: its input not stored and its place reserved, or work in the store. */
const ACTIVE = `(
    (a.reserved_until > ?1 AND NOT ${INPUT_HELD})
    OR EXISTS (SELECT 1 FROM runs WHERE correlation_id = a.correlation_id)
    OR EXISTS (SELECT 1 FROM embargoes WHERE correlation_id = a.correlation_id)
    OR EXISTS (SELECT 1 FROM gate_workflows gw JOIN gates g ON g.key = gw.key WHERE gw.correlation_id = a.correlation_id AND g.deadline IS NOT NULL))`;

const SQL = {
  /** now */
  forgetEnded: `DELETE FROM admitted_workflows WHERE correlation_id IN (SELECT a.correlation_id FROM admitted_workflows a WHERE NOT ${ACTIVE})`,
  /** now: the places left (all active) and the earliest reservation without its input */
  places: `SELECT count(*) AS active,
      min(CASE WHEN a.reserved_until > ?1 AND NOT ${INPUT_HELD} THEN a.reserved_until END) AS retry_at
    FROM admitted_workflows a`,
  /** now */
  countActive: `SELECT count(*) AS active FROM admitted_workflows a WHERE ${ACTIVE}`,
  /** correlation_id, reserved_until */
  holdPlace: 'UPDATE admitted_workflows SET reserved_until = max(reserved_until, ?2) WHERE correlation_id = ?1 RETURNING 1 AS held',
  /** correlation_id, input_id, reserved_until */
  takePlace: 'INSERT INTO admitted_workflows (correlation_id, input_id, reserved_until) VALUES (?, ?, ?)',
  /** correlation_id */
  givePlaceBack: `DELETE FROM admitted_workflows AS a WHERE a.correlation_id = ?1 AND NOT ${INPUT_HELD} RETURNING 1 AS released`,
} as const;

/** One admission unit (see the contract): forget ended places, then hold, take or refuse. */
export function admitWorkflow(db: SqliteDriver, request: AdmissionRequest): AdmissionAnswer {
  checkAdmission(request);
  const { correlationId, now } = request;
  return db.transaction(() => {
    db.prepare(SQL.forgetEnded).run([now]);
    const row = db.prepare(SQL.places).get([now])!;
    const active = Number(row.active);
    if (db.prepare(SQL.holdPlace).get([correlationId, now + request.reserveMs]) !== undefined) return { admitted: true, active };
    if (active >= request.max) return { admitted: false, active, retryAt: row.retry_at === null ? undefined : Number(row.retry_at) };
    db.prepare(SQL.takePlace).run([correlationId, request.inputId, now + request.reserveMs]);
    return { admitted: true, active: active + 1 };
  });
}

export function releaseWorkflowAdmission(db: SqliteDriver, correlationId: string): boolean {
  return db.transaction(() => db.prepare(SQL.givePlaceBack).get([correlationId]) !== undefined);
}

export function admittedWorkflows(db: SqliteDriver, now: number): number {
  return Number(db.prepare(SQL.countActive).get([now])!.active);
}

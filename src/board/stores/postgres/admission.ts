/**
 * Admission control in PostgreSQL ({@link BoardStore.admitWorkflow}): one row per admitted workflow,
 * its place recounted from its work. Admissions take a transaction-scoped advisory lock of the
 * schema, so that workers admitting at once are serialized and never both take the last place; the
 * units that end work (completions, cancels) do not take it: they only ever free places.
 */
import { checkAdmission } from '../../store/admission.js';
import type { AdmissionAnswer, AdmissionRequest } from '../../store/contract.js';
import type { PostgresClient } from './connection.js';

/** The input of admitted workflow `a` is in the store: stored, or held under embargo. */
const inputHeld = (s: string) =>
  `(exists (select 1 from ${s}.artifacts where id = a.input_id) or exists (select 1 from ${s}.embargoes where id = a.input_id))`;

/** An admitted workflow `a` is active at $1: its input not stored and its place reserved, or work in the store. */
const active = (s: string) => `(
    (a.reserved_until > $1 and not ${inputHeld(s)})
    or exists (select 1 from ${s}.runs where correlation_id = a.correlation_id)
    or exists (select 1 from ${s}.embargoes where correlation_id = a.correlation_id)
    or exists (select 1 from ${s}.gates g where g.deadline is not null
               and g.state->'slots' @> jsonb_build_array(jsonb_build_array(jsonb_build_object('correlationId', a.correlation_id)))))`;

/** The admission statements of one schema (`s`: quoted). */
export function admissionStatements(s: string, schema: string) {
  return {
    lock: () => ({ text: 'select pg_advisory_xact_lock(hashtext($1))', values: [`skein:admission:${schema}`] }),
    forgetEnded: (now: number) => ({ text: `delete from ${s}.admitted_workflows a where not ${active(s)}`, values: [now] }),
    places: (now: number) => ({
      text: `select count(*) as active,
          min(a.reserved_until) filter (where a.reserved_until > $1 and not ${inputHeld(s)}) as retry_at
        from ${s}.admitted_workflows a`,
      values: [now],
    }),
    holdPlace: (correlationId: string, until: number) => ({
      text: `update ${s}.admitted_workflows set reserved_until = greatest(reserved_until, $2) where correlation_id = $1 returning 1`,
      values: [correlationId, until],
    }),
    takePlace: (correlationId: string, inputId: string, until: number) => ({
      text: `insert into ${s}.admitted_workflows (correlation_id, input_id, reserved_until) values ($1, $2, $3)`,
      values: [correlationId, inputId, until],
    }),
    givePlaceBack: (correlationId: string) => ({
      text: `delete from ${s}.admitted_workflows a where a.correlation_id = $1 and not ${inputHeld(s)} returning 1`,
      values: [correlationId],
    }),
    countActive: (now: number) => ({ text: `select count(*) as active from ${s}.admitted_workflows a where ${active(s)}`, values: [now] }),
  };
}

export type AdmissionStatements = ReturnType<typeof admissionStatements>;

/** One admission unit, inside the caller's transaction: forget ended places, then hold, take or refuse. */
export async function admitWorkflow(client: PostgresClient, sql: AdmissionStatements, request: AdmissionRequest): Promise<AdmissionAnswer> {
  checkAdmission(request);
  const { correlationId, now } = request;
  await client.query(sql.lock());
  await client.query(sql.forgetEnded(now));
  const row = (await client.query(sql.places(now))).rows[0] as { active: string; retry_at: string | null };
  const active = Number(row.active);
  const until = now + request.reserveMs;
  if ((await client.query(sql.holdPlace(correlationId, until))).rows.length > 0) return { admitted: true, active };
  if (active >= request.max) return { admitted: false, active, retryAt: row.retry_at === null ? undefined : Number(row.retry_at) };
  await client.query(sql.takePlace(correlationId, request.inputId, until));
  return { admitted: true, active: active + 1 };
}

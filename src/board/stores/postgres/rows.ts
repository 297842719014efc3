/** Rows to contract records: bigint columns come back from `pg` as strings, nulls become undefined. */
import type { RunRecord } from '../../store/contract.js';

export interface RunRow {
  id: string;
  agent: string;
  subscription: number;
  input_ids: string[];
  correlation_id: string;
  enqueued_at: string;
  replay_of: string | null;
  state: 'queued' | 'running';
  attempt: number;
  owner: string | null;
  lease_until: string | null;
  queue_pos: string;
}

export function runFromRow(row: RunRow): RunRecord {
  return {
    id: row.id,
    agent: row.agent,
    subscription: row.subscription,
    inputIds: row.input_ids,
    correlationId: row.correlation_id,
    enqueuedAt: Number(row.enqueued_at),
    replayOf: row.replay_of ?? undefined,
    state: row.state,
    attempt: row.attempt,
    owner: row.owner ?? undefined,
    leaseUntil: row.lease_until === null ? undefined : Number(row.lease_until),
  };
}

/** The JSON that gate slots containing an entry of `correlationId` contain (for `@>`). */
export function holdingWorkflow(correlationId: string): string {
  return JSON.stringify([[{ correlationId }]]);
}

/** Numbers from a count or a nullable bigint. */
export function toNumber(value: unknown): number | undefined {
  return value === null || value === undefined ? undefined : Number(value);
}

/**
 * Statements on workflow states. Only paused and cancelled workflows have a row. Units that write into
 * workflows take a shared advisory lock per workflow and a state change takes it exclusively, so a
 * cancel never interleaves with a unit that already checked the workflow was not cancelled.
 */

/** Shared locks on the workflows $1 (sorted), keyed by $2 (the schema) and the correlation id. */
export const shareWorkflows = () => `
  select pg_advisory_xact_lock_shared(hashtext($2::text || ':' || c)) from unnest($1::text[]) as c`;

export const lockWorkflow = () => `
  select pg_advisory_xact_lock(hashtext($2::text || ':' || $1::text))`;

export const cancelledAmong = (s: string) => `
  select correlation_id from ${s}.workflows where correlation_id = any($1::text[]) and state = 'cancelled' limit 1`;

export const workflowState = (s: string) => `
  select state from ${s}.workflows where correlation_id = $1`;

export const setWorkflowState = (s: string) => `
  insert into ${s}.workflows (correlation_id, state) values ($1, $2)
  on conflict (correlation_id) do update set state = excluded.state`;

export const activateWorkflow = (s: string) => `
  delete from ${s}.workflows where correlation_id = $1`;

/** Drops a cancelled workflow's queued runs (and their applied outputs), answering them in queue order. */
export const dropQueuedRuns = (s: string) => `
  with dropped as (
    delete from ${s}.runs where correlation_id = $1 and state = 'queued'
    returning id, agent, subscription, input_ids, correlation_id, enqueued_at, replay_of, state, attempt, owner, lease_until, queue_pos
  ), forgotten as (
    delete from ${s}.outputs o using dropped where o.run_id = dropped.id
  )
  select * from dropped order by queue_pos`;

export const listWorkflowStates = (s: string) => `
  select correlation_id, state from ${s}.workflows where state <> 'active' order by correlation_id`;

/** A wake-up for other workers: $2 is `workflow:<state>:<correlation id>`. */
export const notify = () => `select pg_notify($1::text, $2::text)`;

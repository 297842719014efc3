/** Statements on runs and their applied outputs. `s` is the quoted schema name. */

const RUN_COLUMNS = 'id, agent, subscription, input_ids, correlation_id, enqueued_at, replay_of, state, attempt, owner, lease_until, queue_pos';

/**
 * The writes of a unit in one statement: its artifacts ($1..$6), its runs in order ($7..$12, queued
 * at $13; queue_pos follows the rows), the end of the runs that complete ($14, none for a publish),
 * and a wake-up for the workers that listen ($15) naming the agents with new work, sent at commit.
 * Nothing is written when a workflow among $16 is cancelled (`cancelled` answers whether one is): a
 * publish checks the workflows it writes into here, after the statement that locked them.
 */
export const applyUnit = (s: string) => `
  with cancelled as (
    select 1 from ${s}.workflows where correlation_id = any($16::text[]) and state = 'cancelled' limit 1
  ), stored as (
    insert into ${s}.artifacts (id, type, correlation_id, produced_by, created_at, body)
    select * from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::json[])
    where not exists (select 1 from cancelled)
  ), queued as (
    insert into ${s}.runs (id, agent, subscription, input_ids, correlation_id, replay_of, enqueued_at, state)
    select id, agent, subscription, input_ids, correlation_id, replay_of, $13, 'queued'
    from unnest($7::text[], $8::text[], $9::int[], $10::jsonb[], $11::text[], $12::text[])
      as t(id, agent, subscription, input_ids, correlation_id, replay_of)
    where not exists (select 1 from cancelled)
    returning agent
  ), ended as (
    delete from ${s}.runs where id = any($14::text[]) and not exists (select 1 from cancelled)
  ), forgotten as (
    delete from ${s}.outputs where run_id = any($14::text[]) and not exists (select 1 from cancelled)
  ), woken as (
    select pg_notify($15, 'runs:' || string_agg(distinct agent, ',')) from queued having count(*) > 0
  )
  select exists (select 1 from cancelled) as cancelled, (select count(*) from woken) as woken`;

/**
 * The claim: the oldest queued runs of agent $1 whose workflow is active, read in order from the
 * (agent, queue_pos) index and locked with SKIP LOCKED, so that concurrent claims never wait for each
 * other nor take the same run, stamped with the owner, the next attempt and a lease; each with the
 * bodies of its input artifacts (`inputs`, read by id from the unique index), which the worker reads
 * next, so that starting a run costs no round trip of its own.
 */
export const claimRuns = (s: string) => claim(s, 'r.agent = $1::text');

/** The claim for several agents ($1, an array): their oldest queued runs together. */
export const claimRunsOfAgents = (s: string) => claim(s, 'r.agent = any($1::text[])');

const claim = (s: string, agents: string) => `
  with picked as (
    select r.id from ${s}.runs r
    where r.state = 'queued' and ${agents}
      and not exists (select 1 from ${s}.workflows w where w.correlation_id = r.correlation_id and w.state <> 'active')
    order by r.queue_pos
    limit $2
    for update of r skip locked
  ), claimed as (
    update ${s}.runs r set state = 'running', attempt = r.attempt + 1, owner = $3, lease_until = $4
    from picked where r.id = picked.id
    returning ${RUN_COLUMNS.split(', ').map((c) => `r.${c}`).join(', ')}
  )
  select c.*, (select json_agg(a.body) from ${s}.artifacts a where a.id = any (array(select jsonb_array_elements_text(c.input_ids)))) as inputs
  from claimed c`;

/**
 * The guard of emit and complete: the run, locked, if this owner still holds this attempt; with a
 * shared lock on its workflow ($4: the schema), so that a cancel waits for the unit (see workflows.ts).
 */
export const heldRun = (s: string) => `
  select ${RUN_COLUMNS}, pg_advisory_xact_lock_shared(hashtext($4::text || ':' || correlation_id))::text as locked
  from ${s}.runs
  where id = $1 and owner = $2 and attempt = $3 and state = 'running'
  for update`;

/**
 * The guard of a batch of completions: the runs ($1) that their owners ($2) still hold at their
 * attempts ($3), locked in id order, each with a shared lock on its workflow ($4: the schema).
 */
export const heldRuns = (s: string) => `
  select ${RUN_COLUMNS.split(', ').map((c) => `r.${c}`).join(', ')}, pg_advisory_xact_lock_shared(hashtext($4::text || ':' || r.correlation_id))::text as locked
  from ${s}.runs r
  join unnest($1::text[], $2::text[], $3::int[]) as c(id, owner, attempt) on r.id = c.id and r.owner = c.owner and r.attempt = c.attempt
  where r.state = 'running'
  order by r.id
  for update of r`;

/**
 * What a batch of completions needs to know before it writes: the outputs that the runs $1 applied
 * already (by `emit`, in this attempt or an earlier one), and the workflows among $2 that are
 * cancelled. A read, not an insert: the runs are locked by the batch's guard, so no other unit
 * records outputs for them meanwhile, and the batch ends them, which forgets their outputs.
 */
export const appliedOutputs = (s: string) => `
  select coalesce((select array_agg(correlation_id) from ${s}.workflows where correlation_id = any($2::text[]) and state = 'cancelled'), '{}') as cancelled,
    coalesce((select json_agg(json_build_array(run_id, index)) from ${s}.outputs where run_id = any($1::text[])), '[]') as applied`;

/**
 * Records output indexes ($2) of run $1 as applied, unless a workflow among $3 is cancelled; answers
 * whether one is, and the indexes not applied before.
 */
export const recordOutputs = (s: string) => `
  with cancelled as (
    select 1 from ${s}.workflows where correlation_id = any($3::text[]) and state = 'cancelled'
  ), recorded as (
    insert into ${s}.outputs (run_id, index)
    select $1, unnest($2::int[]) where not exists (select 1 from cancelled)
    on conflict do nothing
    returning index
  )
  select exists (select 1 from cancelled) as cancelled, coalesce((select array_agg(index) from recorded), '{}') as indexes`;

/**
 * Runs handed back go to the head of their queue: their position is below every position given
 * before (-nextval * 2^20), and runs handed back together keep their order (+ row number).
 */
export const releaseRun = (s: string) => `
  update ${s}.runs set state = 'queued', owner = null, lease_until = null,
    queue_pos = -nextval('${s}.run_head_seq') * 1048576
  where id = $1`;

const requeue = (s: string, condition: string) => `
  with expired as (
    select id, queue_pos from ${s}.runs
    where state = 'running' and ${condition}
    order by queue_pos
    limit 1000000
    for update skip locked
  ), numbered as (
    select id, row_number() over (order by queue_pos) as n from expired
  ), head as (
    select nextval('${s}.run_head_seq') * 1048576 as base
  ), requeued as (
    update ${s}.runs r set state = 'queued', owner = null, lease_until = null, queue_pos = -head.base + numbered.n
    from numbered, head where r.id = numbered.id
    returning ${RUN_COLUMNS.split(', ').map((c) => `r.${c}`).join(', ')}
  ), woken as (
    select pg_notify($2, 'runs:' || string_agg(distinct agent, ',')) from requeued having count(*) > 0
  )
  select * from requeued, (select count(*) from woken) w order by queue_pos`;

/** Runs whose lease ended before $1 go back to the head of their queues. */
export const requeueExpired = (s: string) => requeue(s, 'lease_until < $1');

/** Every run of owner $1 goes back to the head of its queue. */
export const requeueOwner = (s: string) => requeue(s, 'owner = $1');

/** Extends owner $1's live leases; locks the rows in id order, as a completion does, so the two never deadlock. */
export const renewLeases = (s: string) => `
  update ${s}.runs r set lease_until = $3
  from (
    select id from ${s}.runs
    where owner = $1 and id = any($2::text[]) and state = 'running'
    order by id
    for update
  ) held
  where r.id = held.id
  returning r.id`;

/** Queued (in queue order), then running; a null parameter is no filter. */
export const listRuns = (s: string) => `
  select ${RUN_COLUMNS} from ${s}.runs
  where ($1::text is null or agent = $1)
    and ($2::text is null or correlation_id = $2)
    and ($3::text is null or state = $3)
  order by state = 'running', queue_pos`;

/** The idle question: queued runs of active and paused workflows, running runs, timed gates. */
export const pending = (s: string) => `
  select
    count(*) filter (where r.state = 'queued' and w.state is null) as queued,
    count(*) filter (where r.state = 'queued' and w.state = 'paused') as paused,
    count(*) filter (where r.state = 'running') as running,
    (select count(*) from ${s}.gates where deadline is not null) + (select count(*) from ${s}.embargoes) as timed_gates
  from ${s}.runs r left join ${s}.workflows w on w.correlation_id = r.correlation_id and w.state <> 'active'`;

/** The same for one workflow ($2: the JSON that its gate entries contain). */
export const pendingOfWorkflow = (s: string) => `
  select
    count(*) filter (where r.state = 'queued' and w.state is null) as queued,
    count(*) filter (where r.state = 'queued' and w.state = 'paused') as paused,
    count(*) filter (where r.state = 'running') as running,
    (select count(*) from ${s}.gates where deadline is not null and state->'slots' @> $2::jsonb)
      + (select count(*) from ${s}.embargoes where correlation_id = $1) as timed_gates
  from ${s}.runs r left join ${s}.workflows w on w.correlation_id = r.correlation_id and w.state <> 'active'
  where r.correlation_id = $1`;

/**
 * Every SQL statement the SQLite store runs, named for what it does. Parameters are positional; the
 * comment above a statement lists them in order. Each is prepared once per connection.
 *
 * Queue order is `runs.seq`: a run keeps its place when it is requeued, so a run handed back after a
 * crash goes ahead of every run queued after it.
 */

const RUN_COLUMNS = 'seq, id, agent, subscription, input_ids, correlation_id, enqueued_at, replay_of, state, attempt, owner, lease_until';

export const SQL = {
  // ----------------------------------------------------------------------------------------------
  // Artifacts

  /** id, type, correlation_id, produced_by, created_at, body */
  insertArtifact: 'INSERT INTO artifacts (id, type, correlation_id, produced_by, created_at, body) VALUES (?, ?, ?, ?, ?, ?)',
  /** ids as a JSON array */
  artifactsById: 'SELECT id, body FROM artifacts WHERE id IN (SELECT value FROM json_each(?))',
  /** id: one artifact (what a run with one input loads), without json_each */
  artifactById: 'SELECT body FROM artifacts WHERE id = ?',
  /** id */
  artifactExists: 'SELECT 1 AS found FROM artifacts WHERE id = ?',

  // ----------------------------------------------------------------------------------------------
  // Runs

  /** id, agent, subscription, input_ids, correlation_id, enqueued_at, replay_of */
  insertRun: `INSERT INTO runs (id, agent, subscription, input_ids, correlation_id, enqueued_at, replay_of, state) VALUES (?, ?, ?, ?, ?, ?, ?, 'queued')`,
  /** owner, lease_until, agents as a JSON array, limit */
  claimRuns: `UPDATE runs SET state = 'running', attempt = attempt + 1, owner = ?, lease_until = ?
    WHERE seq IN (
      SELECT seq FROM runs
      WHERE state = 'queued' AND agent IN (SELECT value FROM json_each(?))
        AND NOT EXISTS (SELECT 1 FROM workflows w WHERE w.correlation_id = runs.correlation_id)
      ORDER BY seq LIMIT ?
    )
    RETURNING ${RUN_COLUMNS}`,
  /** owner, lease_until, agent, limit: the same as `claimRuns` for one agent (what a board asks), without json_each */
  claimRunsOfAgent: `UPDATE runs SET state = 'running', attempt = attempt + 1, owner = ?, lease_until = ?
    WHERE seq IN (
      SELECT seq FROM runs
      WHERE state = 'queued' AND agent = ?
        AND NOT EXISTS (SELECT 1 FROM workflows w WHERE w.correlation_id = runs.correlation_id)
      ORDER BY seq LIMIT ?
    )
    RETURNING ${RUN_COLUMNS}`,
  /** id, owner, attempt: the claimed run with its workflow's state (null when active) */
  heldRun: `SELECT r.seq, r.correlation_id, r.has_outputs, w.state AS workflow_state
    FROM runs r LEFT JOIN workflows w ON w.correlation_id = r.correlation_id
    WHERE r.id = ? AND r.state = 'running' AND r.owner = ? AND r.attempt = ?`,
  /**
   * id, owner, attempt: ends the claimed run if the claim still holds it, answering what the
   * completion needs (the guard, the delete and the workflow's state in one statement)
   */
  endHeldRun: `DELETE FROM runs WHERE id = ? AND state = 'running' AND owner = ? AND attempt = ?
    RETURNING seq, has_outputs, (SELECT w.state FROM workflows w WHERE w.correlation_id = runs.correlation_id) AS workflow_state`,
  /** seq */
  markHasOutputs: 'UPDATE runs SET has_outputs = 1 WHERE seq = ?',
  /** seq */
  deleteRun: 'DELETE FROM runs WHERE seq = ?',
  /** seq */
  releaseRun: `UPDATE runs SET state = 'queued', owner = NULL, lease_until = NULL WHERE seq = ?`,
  /** lease_until, id, owner */
  renewLease: `UPDATE runs SET lease_until = ? WHERE id = ? AND state = 'running' AND owner = ?`,
  /** now */
  requeueExpired: `UPDATE runs SET state = 'queued', owner = NULL, lease_until = NULL WHERE state = 'running' AND lease_until < ? RETURNING ${RUN_COLUMNS}`,
  /** owner */
  requeueOwner: `UPDATE runs SET state = 'queued', owner = NULL, lease_until = NULL WHERE state = 'running' AND owner = ? RETURNING ${RUN_COLUMNS}`,
  /** correlation_id */
  dropQueuedRuns: `DELETE FROM runs WHERE correlation_id = ? AND state = 'queued' RETURNING ${RUN_COLUMNS}`,
  /** agent (or null), correlation_id (or null), state (or null) */
  listRuns: `SELECT ${RUN_COLUMNS} FROM runs
    WHERE (?1 IS NULL OR agent = ?1) AND (?2 IS NULL OR correlation_id = ?2) AND (?3 IS NULL OR state = ?3)
    ORDER BY CASE state WHEN 'queued' THEN 0 ELSE 1 END, seq`,

  // ----------------------------------------------------------------------------------------------
  // Outputs applied by a run, across its attempts

  /** run_id, output_index: changes 0 when it was applied before */
  recordOutput: 'INSERT OR IGNORE INTO applied_outputs (run_id, output_index) VALUES (?, ?)',
  /** run_id */
  appliedOutputs: 'SELECT output_index FROM applied_outputs WHERE run_id = ?',
  /** run_id */
  forgetOutputs: 'DELETE FROM applied_outputs WHERE run_id = ?',

  // ----------------------------------------------------------------------------------------------
  // The idle question

  /** Queued and running runs, board-wide, with queued runs of paused workflows apart. */
  pendingRuns: `SELECT
      (SELECT count(*) FROM runs WHERE state = 'queued') AS queued,
      (SELECT count(*) FROM runs r JOIN workflows w ON w.correlation_id = r.correlation_id WHERE r.state = 'queued' AND w.state = 'paused') AS paused,
      (SELECT count(*) FROM runs WHERE state = 'running') AS running,
      (SELECT count(*) FROM gates WHERE deadline IS NOT NULL) + (SELECT count(*) FROM embargoes) AS timed_gates`,
  /** correlation_id x 4 */
  pendingRunsOf: `SELECT
      (SELECT count(*) FROM runs WHERE correlation_id = ?1 AND state = 'queued') AS queued,
      (SELECT count(*) FROM runs WHERE correlation_id = ?1 AND state = 'running') AS running,
      (SELECT state FROM workflows WHERE correlation_id = ?1) AS workflow_state,
      (SELECT count(*) FROM gate_workflows gw JOIN gates g ON g.key = gw.key WHERE gw.correlation_id = ?1 AND g.deadline IS NOT NULL)
        + (SELECT count(*) FROM embargoes WHERE correlation_id = ?1) AS timed_gates`,

  // ----------------------------------------------------------------------------------------------
  // Gates

  /** key */
  gateByKey: 'SELECT body, version FROM gates WHERE key = ?',
  /** key, body, open (0 or 1), deadline, version */
  upsertGate: 'INSERT INTO gates (key, body, open, deadline, version) VALUES (?, ?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET body = excluded.body, open = excluded.open, deadline = excluded.deadline, version = excluded.version',
  /** correlation_id, key */
  addGateWorkflow: 'INSERT OR IGNORE INTO gate_workflows (correlation_id, key) VALUES (?, ?)',
  /** correlation_id, key */
  removeGateWorkflow: 'DELETE FROM gate_workflows WHERE correlation_id = ? AND key = ?',
  /** correlation_id */
  gateKeysOf: 'SELECT g.key FROM gate_workflows gw JOIN gates g ON g.key = gw.key WHERE gw.correlation_id = ? ORDER BY g.seq',
  /** now, limit */
  dueGates: 'SELECT body FROM gates WHERE deadline IS NOT NULL AND deadline <= ? ORDER BY deadline LIMIT ?',
  /** The earliest gate deadline and the earliest embargo end, apart (SQLite's two-argument `min` answers NULL when either is). */
  nextDeadline: 'SELECT (SELECT min(deadline) FROM gates WHERE deadline IS NOT NULL) AS gates, (SELECT min(visible_at) FROM embargoes) AS embargoes',

  // ----------------------------------------------------------------------------------------------
  // Embargoes

  /** id, correlation_id, visible_at, body */
  holdArtifact: 'INSERT INTO embargoes (id, correlation_id, visible_at, body) VALUES (?, ?, ?, ?)',
  /** id */
  releaseArtifact: 'DELETE FROM embargoes WHERE id = ?',
  /** id */
  isHeld: 'SELECT 1 FROM embargoes WHERE id = ?',
  /** now, limit */
  dueEmbargoes: 'SELECT body FROM embargoes WHERE visible_at <= ? ORDER BY visible_at, id LIMIT ?',
  /** correlation_id */
  dropEmbargoesOf: 'DELETE FROM embargoes WHERE correlation_id = ?',
  listGates: 'SELECT body FROM gates WHERE open = 1 ORDER BY seq',
  /** correlation_id */
  listGatesOf: 'SELECT g.body FROM gate_workflows gw JOIN gates g ON g.key = gw.key WHERE gw.correlation_id = ? ORDER BY g.seq',

  // ----------------------------------------------------------------------------------------------
  // Workflows and run limits

  /** correlation_id */
  workflowState: 'SELECT state FROM workflows WHERE correlation_id = ?',
  /** correlation_id, state */
  setWorkflowState: 'INSERT INTO workflows (correlation_id, state) VALUES (?, ?) ON CONFLICT (correlation_id) DO UPDATE SET state = excluded.state',
  /** correlation_id */
  activateWorkflow: 'DELETE FROM workflows WHERE correlation_id = ?',
  listWorkflowStates: 'SELECT correlation_id, state FROM workflows ORDER BY seq',
  /** correlation_id, agent, limit: a row (the new count) when the run may be created */
  countRun: `INSERT INTO run_counters (correlation_id, agent, count) VALUES (?1, ?2, 1)
    ON CONFLICT (correlation_id, agent) DO UPDATE SET count = count + 1 WHERE count < ?3
    RETURNING count`,
  /** correlation_id, agent: a counter row at 0 when there is none yet (for a limit below 1) */
  ensureRunCounter: 'INSERT OR IGNORE INTO run_counters (correlation_id, agent, count) VALUES (?, ?, 0)',
  /** correlation_id, agent */
  limitReported: 'SELECT reported FROM run_counters WHERE correlation_id = ? AND agent = ?',
  /** correlation_id, agent */
  markLimitReported: 'UPDATE run_counters SET reported = 1 WHERE correlation_id = ? AND agent = ?',

  // ----------------------------------------------------------------------------------------------
  // Dead letters

  /** id, agent, correlation_id, body */
  putDeadLetter: 'INSERT OR REPLACE INTO dead_letters (id, agent, correlation_id, body) VALUES (?, ?, ?, ?)',
  /** id */
  takeDeadLetter: 'DELETE FROM dead_letters WHERE id = ? RETURNING body',
  /** agent (or null), correlation_id (or null), limit (-1: none) */
  listDeadLetters: 'SELECT body FROM dead_letters WHERE (?1 IS NULL OR agent = ?1) AND (?2 IS NULL OR correlation_id = ?2) ORDER BY seq LIMIT ?3',

  // ----------------------------------------------------------------------------------------------
  // The key/value space

  /** namespace */
  listValues: 'SELECT key, value FROM kv_values WHERE namespace = ? ORDER BY seq',
  /** namespace, key, value (JSON text): an entry put again keeps its seq */
  putValue: 'INSERT INTO kv_values (namespace, key, value) VALUES (?, ?, ?) ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value',
  /** namespace, key */
  deleteValue: 'DELETE FROM kv_values WHERE namespace = ? AND key = ? RETURNING seq',

  // ----------------------------------------------------------------------------------------------
  // Savepoints: one item of a batch of completions, undone alone when it fails

  savepoint: 'SAVEPOINT skein_item',
  releaseSavepoint: 'RELEASE skein_item',
  rollbackToSavepoint: 'ROLLBACK TO skein_item',

  // ----------------------------------------------------------------------------------------------
  // Owners

  /** owner, host, pid, seen_at */
  registerOwner: 'INSERT INTO owners (owner, host, pid, seen_at) VALUES (?, ?, ?, ?) ON CONFLICT (owner) DO UPDATE SET host = excluded.host, pid = excluded.pid, seen_at = excluded.seen_at',
  /** Owners holding running runs. */
  busyOwners: `SELECT o.owner, o.host, o.pid FROM owners o WHERE EXISTS (SELECT 1 FROM runs r WHERE r.state = 'running' AND r.owner = o.owner)`,
  /** Owners holding nothing: forgotten. */
  forgetIdleOwners: `DELETE FROM owners WHERE NOT EXISTS (SELECT 1 FROM runs r WHERE r.state = 'running' AND r.owner = owners.owner)`,
} as const;

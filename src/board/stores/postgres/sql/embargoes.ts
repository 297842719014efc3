/** Statements on artifacts held under an embargo until they become visible. `s` is the quoted schema name. */

/** Holds artifacts apart ($1 ids, $2 workflows, $3 embargo ends in epoch ms, $4 bodies); a held id again violates the key. */
export const holdArtifacts = (s: string) => `
  insert into ${s}.embargoes (id, correlation_id, visible_at, body)
  select * from unnest($1::text[], $2::text[], $3::bigint[], $4::json[])`;

/** Releases held artifacts ($1 ids): answers those that were still held (the unit is a conflict unless all were). */
export const releaseArtifacts = (s: string) => `
  delete from ${s}.embargoes where id = any($1::text[]) returning id`;

/** Held artifacts whose embargo ended at or before $1, earliest first, at most $2. */
export const dueEmbargoes = (s: string) => `
  select body from ${s}.embargoes where visible_at <= $1 order by visible_at, id limit $2`;

/** A cancelled workflow's held artifacts are dropped with its queued runs. */
export const dropEmbargoesOf = (s: string) => `
  delete from ${s}.embargoes where correlation_id = $1`;

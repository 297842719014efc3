/** Statements on artifacts. `s` is the quoted schema name. */

/** Stores a unit's artifacts; a repeated id violates the unique key and rolls the unit back. */
export const insertArtifacts = (s: string) => `
  insert into ${s}.artifacts (id, type, correlation_id, produced_by, created_at, body)
  select * from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::jsonb[])`;

export const getArtifacts = (s: string) => `
  select id, body from ${s}.artifacts where id = any($1::text[])`;

/** Oldest first; a null parameter is no filter, a null limit is no limit. */
export const listArtifacts = (s: string) => `
  select body from ${s}.artifacts
  where ($1::text is null or type = $1)
    and ($2::text is null or correlation_id = $2)
    and ($3::text is null or produced_by = $3)
    and ($4::text is null or created_at >= $4)
  order by seq
  limit $5`;

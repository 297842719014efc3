/** Statements on artifacts (stored by `applyUnit` in runs.ts). `s` is the quoted schema name. */

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

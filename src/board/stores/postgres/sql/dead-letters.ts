/** Statements on dead letters. `s` is the quoted schema name. */

export const insertDeadLetter = (s: string) => `
  insert into ${s}.dead_letters (id, agent, correlation_id, body) values ($1, $2, $3, $4)`;

/** The dead letters of a batch: ids, agents, workflows and bodies, pairwise. */
export const insertDeadLetters = (s: string) => `
  insert into ${s}.dead_letters (id, agent, correlation_id, body)
  select * from unnest($1::text[], $2::text[], $3::text[], $4::json[])`;

export const listDeadLetters = (s: string) => `
  select body from ${s}.dead_letters
  where ($1::text is null or agent = $1) and ($2::text is null or correlation_id = $2)
  order by seq
  limit $3`;

export const takeDeadLetter = (s: string) => `
  delete from ${s}.dead_letters where id = $1 returning body`;

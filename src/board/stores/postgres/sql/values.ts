/** Statements on the key/value space. `s` is the quoted schema name. */

export const listValues = (s: string) => `
  select key, value from ${s}.kv_values where namespace = $1 order by seq`;

/** An entry put again keeps its seq (its place in the order). */
export const putValue = (s: string) => `
  insert into ${s}.kv_values (namespace, key, value) values ($1, $2, $3)
  on conflict (namespace, key) do update set value = excluded.value`;

export const deleteValue = (s: string) => `
  delete from ${s}.kv_values where namespace = $1 and key = $2 returning seq`;

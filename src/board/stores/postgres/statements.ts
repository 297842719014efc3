/**
 * Every statement of the store, compiled once per store for its schema: one statement per named
 * constant in `sql/`, each run as a named prepared statement (parsed and planned once per connection).
 */
import type { PostgresQuery } from './connection.js';
import * as artifacts from './sql/artifacts.js';
import * as deadLetters from './sql/dead-letters.js';
import * as embargoes from './sql/embargoes.js';
import * as gates from './sql/gates.js';
import * as loopCounters from './sql/loop-counters.js';
import * as runs from './sql/runs.js';
import * as timers from './sql/timers.js';
import * as values from './sql/values.js';
import * as workflows from './sql/workflows.js';

const SOURCES = { ...artifacts, ...deadLetters, ...embargoes, ...gates, ...loopCounters, ...runs, ...values, ...workflows, ...timers };

export type StatementName = keyof typeof SOURCES;

/** A compiled statement: call it with its parameters to get a query for `client.query`. */
export type Statement = (...values: unknown[]) => PostgresQuery;

export type Statements = Readonly<Record<StatementName, Statement>>;

/** Compiles every statement for `quotedSchema`; prepared-statement names carry the schema, so that stores on different schemas can share a pool. */
export function compileStatements(quotedSchema: string): Statements {
  const compiled = {} as Record<StatementName, Statement>;
  for (const [name, source] of Object.entries(SOURCES) as [StatementName, (s: string) => string][]) {
    const text = source(quotedSchema);
    const prepared = `skein:${quotedSchema.slice(1, -1)}:${name}`;
    compiled[name] = (...values) => ({ name: prepared, text, values });
  }
  return compiled;
}

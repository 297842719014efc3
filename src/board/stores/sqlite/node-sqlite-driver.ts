/**
 * The `node:sqlite` driver: the SQLite binding built into Node 22.5 and later (behind
 * `--experimental-sqlite` before 22.13). No dependency at all; chosen when `libsql` is not installed,
 * or on request.
 */
import { createRequire } from 'node:module';
import { BaseDriver, type SqlRow, type SqlValue, type SqliteStatement } from './driver.js';

/** The part of `node:sqlite` this driver uses (declared here: Node 20's types do not have it). */
interface NodeStatement {
  run(...params: SqlValue[]): { changes: number | bigint };
  get(...params: SqlValue[]): SqlRow | undefined;
  all(...params: SqlValue[]): SqlRow[];
}
interface NodeDatabase {
  prepare(sql: string): NodeStatement;
  exec(sql: string): void;
  close(): void;
}
type NodeDatabaseConstructor = new (path: string) => NodeDatabase;

function loadNodeSqlite(): NodeDatabaseConstructor | undefined {
  try {
    const sqlite = createRequire(import.meta.url)('node:sqlite') as { DatabaseSync?: NodeDatabaseConstructor };
    return sqlite.DatabaseSync;
  } catch {
    return undefined;
  }
}

/** Whether this Node has `node:sqlite` (22.5 and later; unflagged from 22.13). */
export function nodeSqliteAvailable(): boolean {
  return loadNodeSqlite() !== undefined;
}

/**
 * A connection through Node's built-in `node:sqlite`.
 *
 * @example
 * ```ts no-run
 * import { NodeSqliteDriver } from 'skein/board/sqlite';
 * const db = new NodeSqliteDriver(':memory:'); // Node >= 22.5
 * db.prepare('SELECT 1 AS one').get(); // { one: 1 }
 * db.close();
 * ```
 */
export class NodeSqliteDriver extends BaseDriver {
  readonly name = 'node:sqlite';
  readonly #db: NodeDatabase;

  constructor(path: string) {
    super();
    const DatabaseSync = loadNodeSqlite();
    if (DatabaseSync === undefined) throw new Error(`node:sqlite is not available in Node ${process.versions.node} (it needs Node >= 22.5); install libsql instead`);
    this.#db = new DatabaseSync(path);
  }

  protected prepareUncached(sql: string): SqliteStatement {
    const statement = this.#db.prepare(sql);
    return {
      run: (params = []) => ({ changes: Number(statement.run(...params).changes) }),
      get: (params = []) => statement.get(...params),
      all: (params = []) => statement.all(...params),
    };
  }

  exec(sql: string): void {
    this.#db.exec(sql);
  }

  protected closeConnection(): void {
    this.#db.close();
  }
}

/**
 * `--store <url>`: where the workflow's board keeps its state. `sqlite:./run.db` (a file, relative
 * to the directory the command runs in) opens a `SqliteStore`; `postgres://…` or `postgresql://…`
 * opens a `PostgresStore`. The store modules are imported only when asked for, so that their optional
 * drivers (libsql, pg) are needed only by those who use them, and a missing one is named.
 */
import { createRequire } from 'node:module';
import { mkdir } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { InvalidArgumentError } from 'commander';
import type { BoardStore } from 'skein/board';
import type * as SqliteModule from 'skein/board/sqlite';
import type * as PostgresModule from 'skein/board/postgres';
import { CliError } from './cli-error.js';
import { firstLine } from './load-workflow.js';

/** The URL forms `--store` accepts. */
export const STORE_SCHEMES = ['sqlite:', 'postgres://', 'postgresql://'] as const;

/** A `--store` value after its syntax was checked. */
export type StoreUrl =
  | { readonly kind: 'sqlite'; readonly url: string }
  | { readonly kind: 'postgres'; readonly url: string; readonly connectionString: string; readonly schema: string | undefined };

/** The schema name a PostgreSQL store uses unless `?schema=` says otherwise (the store's own default). */
const SCHEMA_PATTERN = /^[a-z_][a-z0-9_]*$/;

/**
 * Checks the form of a `--store` value (commander's argument parser): a known scheme, a file for
 * SQLite, a host for PostgreSQL. Opening it is {@link openStore}'s job.
 */
export function parseStoreUrl(value: string): StoreUrl {
  const text = value.trim();
  if (text.startsWith('sqlite:')) {
    const path = text.slice('sqlite:'.length).split('?')[0]!;
    if (path === '' || path === '//') throw new InvalidArgumentError(`expected a file after sqlite:, such as sqlite:./run.db`);
    return { kind: 'sqlite', url: text };
  }
  if (/^postgres(ql)?:\/\//i.test(text)) {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      throw new InvalidArgumentError(`not a valid PostgreSQL URL (postgres://user@host:5432/db)`);
    }
    const schema = url.searchParams.get('schema') ?? undefined;
    if (schema !== undefined && !SCHEMA_PATTERN.test(schema)) {
      throw new InvalidArgumentError(`?schema= must be a lower-case SQL identifier (letters, digits, _), got '${schema}'`);
    }
    url.searchParams.delete('schema');
    return { kind: 'postgres', url: redact(text), connectionString: url.href, schema };
  }
  throw new InvalidArgumentError(`expected a URL starting with ${STORE_SCHEMES.join(', ')} (sqlite:./run.db, postgres://user@host/db)`);
}

/** Options of {@link openStore}. */
export interface OpenStoreOptions {
  /** Where a relative SQLite path starts. */
  readonly cwd: string;
  /**
   * Whether an npm package can be loaded by skein (default: resolved from where `skein` is
   * installed). Tests replace it to see the message a missing driver gives.
   */
  readonly hasPackage?: (name: string) => boolean;
  /** Imports a module (default `import()`): the store modules are imported through it. */
  readonly importModule?: (specifier: string) => Promise<unknown>;
}

/** An opened store and how to name it in messages (a PostgreSQL password never shown). */
export interface OpenedStore {
  readonly store: BoardStore;
  readonly url: string;
  /** Idempotent; the board closes its store on shutdown too. */
  close(): Promise<void>;
}

/**
 * Opens the store a `--store` value names. Throws a {@link CliError} that says what to do: the
 * package to install for a missing driver, the reason a file or a database could not be opened.
 *
 * @example
 * ```ts
 * const { store, close } = await openStore(parseStoreUrl('sqlite:./run.db'), { cwd: process.cwd() });
 * ```
 */
export async function openStore(spec: StoreUrl, options: OpenStoreOptions): Promise<OpenedStore> {
  const hasPackage = options.hasPackage ?? skeinCanLoad;
  const importModule = options.importModule ?? ((specifier: string) => import(specifier));
  if (spec.kind === 'sqlite') {
    const { SqliteStore, parseSqliteUrl } = (await importModule('skein/board/sqlite')) as typeof SqliteModule;
    let parsed: ReturnType<typeof parseSqliteUrl>;
    try {
      parsed = parseSqliteUrl(spec.url);
    } catch (error) {
      throw new CliError(`--store ${spec.url}: ${firstLine(error)}`, { cause: error });
    }
    const path = parsed.path === ':memory:' || isAbsolute(parsed.path) ? parsed.path : resolve(options.cwd, parsed.path);
    // libsql is the driver; without it the store can use Node's built-in node:sqlite (Node >= 22.5).
    const libsql = (parsed.driver ?? 'auto') !== 'auto' || hasPackage('libsql');
    try {
      // A new file in a new directory (sqlite:.tmp/run.db) is fine: the directory is made first.
      if (path !== ':memory:') await mkdir(dirname(path), { recursive: true });
      const store = new SqliteStore({ ...parsed, path, ...(libsql ? {} : { driver: 'node:sqlite' as const }) });
      return { store, url: spec.url, close: () => Promise.resolve(store.close()) };
    } catch (error) {
      if (!libsql) {
        throw new CliError(`--store ${spec.url}: the SQLite store needs the libsql package: npm install libsql (or Node >= 22.5, whose built-in node:sqlite it can use)`, {
          cause: error,
        });
      }
      throw new CliError(`--store ${spec.url}: cannot open ${path}: ${firstLine(error)}`, { cause: error });
    }
  }
  if (!hasPackage('pg')) throw new CliError(`--store ${spec.url}: the PostgreSQL store needs the pg package: npm install pg`);
  const { PostgresStore } = (await importModule('skein/board/postgres')) as typeof PostgresModule;
  try {
    const store = await PostgresStore.open({ connectionString: spec.connectionString, ...(spec.schema === undefined ? {} : { schema: spec.schema }) });
    return { store, url: spec.url, close: () => store.close() };
  } catch (error) {
    throw new CliError(`--store ${spec.url}: cannot open the PostgreSQL store: ${redactText(firstLine(error), spec.connectionString)}`, { cause: error });
  }
}

/** Whether skein (which imports the drivers) can resolve package `name`. */
function skeinCanLoad(name: string): boolean {
  try {
    const require = createRequire(import.meta.url);
    createRequire(require.resolve('skein/package.json')).resolve(name);
    return true;
  } catch {
    return false;
  }
}

/** The URL with its password replaced by `***`. */
function redact(text: string): string {
  try {
    const url = new URL(text);
    if (url.password === '') return text;
    url.password = '***';
    return url.href;
  } catch {
    return text;
  }
}

/** A driver's message with the connection string's password taken out, should it quote it. */
function redactText(message: string, connectionString: string): string {
  const password = new URL(connectionString).password;
  return password === '' ? message : message.split(decodeURIComponent(password)).join('***').split(password).join('***');
}

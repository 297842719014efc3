import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidArgumentError } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CliError } from './cli-error.js';
import { openStore, parseStoreUrl } from './store-option.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'skein-store-option-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Whether this Node has a usable built-in node:sqlite (22.13+, or 22.5+ with a flag). */
const builtin = 'node:sqlite';
const nodeSqlite = await import(builtin).then(
  () => true,
  () => false,
);

describe('parseStoreUrl', () => {
  it('reads sqlite: and postgres:// URLs, taking ?schema= out of the connection string', () => {
    expect(parseStoreUrl('sqlite:./run.db')).toEqual({ kind: 'sqlite', url: 'sqlite:./run.db' });
    expect(parseStoreUrl('sqlite:/var/lib/run.db?synchronous=full')).toEqual({ kind: 'sqlite', url: 'sqlite:/var/lib/run.db?synchronous=full' });
    expect(parseStoreUrl('postgres://app:pw@db:5432/app?schema=jobs&sslmode=require')).toEqual({
      kind: 'postgres',
      url: 'postgres://app:***@db:5432/app?schema=jobs&sslmode=require',
      connectionString: 'postgres://app:pw@db:5432/app?sslmode=require',
      schema: 'jobs',
    });
    expect(parseStoreUrl('postgresql://db/app')).toMatchObject({ kind: 'postgres', schema: undefined });
  });

  it.each([
    ['mysql://db/app', /expected a URL starting with sqlite:, postgres:\/\/, postgresql:\/\//],
    ['./run.db', /expected a URL starting with/],
    ['sqlite:', /expected a file after sqlite:/],
    ['sqlite:?synchronous=full', /expected a file after sqlite:/],
    ['postgres://db/app?schema=Not-OK', /\?schema= must be a lower-case SQL identifier/],
    ['postgres://[bad', /not a valid PostgreSQL URL/],
  ])('refuses %s', (value, message) => {
    expect(() => parseStoreUrl(value)).toThrow(InvalidArgumentError);
    expect(() => parseStoreUrl(value)).toThrow(message);
  });
});

describe('openStore', () => {
  it('opens a SQLite file relative to cwd', async () => {
    const opened = await openStore(parseStoreUrl('sqlite:./relative.db'), { cwd: dir });
    try {
      expect(opened.store.constructor.name).toBe('SqliteStore');
      expect(existsSync(join(dir, 'relative.db'))).toBe(true);
    } finally {
      await opened.close();
      await opened.close(); // idempotent
    }
  });

  it('a bad SQLite parameter is a CliError naming the URL', async () => {
    await expect(openStore(parseStoreUrl('sqlite:./x.db?synchronous=sometimes'), { cwd: dir })).rejects.toThrow(CliError);
  });

  it('without libsql: names the package to install, unless the built-in node:sqlite can stand in', async () => {
    const opening = openStore(parseStoreUrl('sqlite:./no-libsql.db'), { cwd: dir, hasPackage: (name) => name !== 'libsql' });
    if (nodeSqlite) {
      const opened = await opening;
      expect((opened.store as unknown as { driver: string }).driver).toBe('node:sqlite');
      await opened.close();
    } else {
      await expect(opening).rejects.toThrow(
        new CliError('--store sqlite:./no-libsql.db: the SQLite store needs the libsql package: npm install libsql (or Node >= 22.5, whose built-in node:sqlite it can use)'),
      );
    }
  });

  it('without pg: names the package to install, before importing anything', async () => {
    const imported: string[] = [];
    await expect(
      openStore(parseStoreUrl('postgres://u:pw@127.0.0.1/db'), {
        cwd: dir,
        hasPackage: (name) => name !== 'pg',
        importModule: (specifier) => {
          imported.push(specifier);
          return import(specifier);
        },
      }),
    ).rejects.toThrow(new CliError('--store postgres://u:***@127.0.0.1/db: the PostgreSQL store needs the pg package: npm install pg'));
    expect(imported).toEqual([]);
  });

  it('finds the drivers skein itself loads', async () => {
    // The default resolver: libsql and pg are installed here (dev dependencies of skein).
    const opened = await openStore(parseStoreUrl('sqlite::memory:'), { cwd: dir });
    expect((opened.store as unknown as { driver: string }).driver).toBe('libsql');
    await opened.close();
  });
});

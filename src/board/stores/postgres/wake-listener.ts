/**
 * One dedicated connection per store that `LISTEN`s on the schema's channel and fans notices out to
 * subscribers. It is opened on the first subscription, reopened (after a pause) when its connection
 * drops, and closed with the store. Notices are hints: whoever subscribes polls as well.
 */
import type { StoreNotice } from '../../store/contract.js';
import type { PostgresClient, PostgresPool } from './connection.js';

/** A notice from another unit of the same schema (the store contract's {@link StoreNotice}). */
export type { StoreNotice };

const RECONNECT_MS = 1_000;

/** Parses a payload (`runs:a,b` or `workflow:<state>:<id>`); undefined for anything else. */
export function parseNotice(payload: string | undefined): StoreNotice | undefined {
  if (payload === undefined) return undefined;
  if (payload.startsWith('runs:')) return { kind: 'runs', agents: payload.slice(5).split(',') };
  const match = /^workflow:(active|paused|cancelled):(.*)$/s.exec(payload);
  return match === null ? undefined : { kind: 'workflow', state: match[1] as 'active' | 'paused' | 'cancelled', correlationId: match[2]! };
}

export class WakeListener {
  readonly #pool: PostgresPool;
  readonly #channel: string;
  readonly #listeners = new Set<(notice: StoreNotice) => void>();
  #client: PostgresClient | undefined;
  #connecting: Promise<void> | undefined;
  #retry: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  constructor(pool: PostgresPool, channel: string) {
    this.#pool = pool;
    this.#channel = channel;
  }

  async subscribe(listener: (notice: StoreNotice) => void): Promise<() => void> {
    this.#listeners.add(listener);
    await this.#connect();
    return () => {
      this.#listeners.delete(listener);
    };
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#retry);
    await this.#connecting?.catch(() => {});
    const client = this.#client;
    this.#client = undefined;
    if (client === undefined) return;
    try {
      await client.query({ text: `unlisten ${quoteChannel(this.#channel)}` });
      client.removeAllListeners?.('notification');
      client.release();
    } catch (error) {
      client.release(error as Error);
    }
  }

  #connect(): Promise<void> {
    if (this.#client !== undefined || this.#closed) return Promise.resolve();
    this.#connecting ??= this.#open().finally(() => {
      this.#connecting = undefined;
    });
    return this.#connecting;
  }

  async #open(): Promise<void> {
    const client = await this.#pool.connect();
    client.on('notification', (message) => {
      if (message.channel !== this.#channel) return;
      const notice = parseNotice(message.payload);
      if (notice !== undefined) for (const listener of this.#listeners) listener(notice);
    });
    client.on('error', (error) => this.#lost(client, error));
    try {
      await client.query({ text: `listen ${quoteChannel(this.#channel)}` });
    } catch (error) {
      client.release(error as Error);
      throw error;
    }
    if (this.#closed) {
      client.release();
      return;
    }
    this.#client = client;
  }

  #lost(client: PostgresClient, error: Error): void {
    if (this.#client !== client) return;
    this.#client = undefined;
    client.release(error);
    this.#reconnectLater();
  }

  #reconnectLater(): void {
    if (this.#closed || this.#listeners.size === 0 || this.#retry !== undefined) return;
    // Polling covers the gap; listening resumes after a pause so that a database restart is not hammered.
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      this.#connect().catch(() => this.#reconnectLater());
    }, RECONNECT_MS);
  }
}

function quoteChannel(channel: string): string {
  return `"${channel.replaceAll('"', '""')}"`;
}

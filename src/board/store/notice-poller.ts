/**
 * A poll of a store, on a timer, that the store's notices (`onNotice`, PostgreSQL's `LISTEN/NOTIFY`)
 * may bring forward: what a board sharing its store and a server following one both need. Notices are
 * a hint, polling is the guarantee, so a store without notices, or whose subscription fails, is simply
 * polled.
 *
 * Invariants: at most one poll runs at a time; a wake-up asked for during a poll runs one more poll
 * right after it (however many were asked for); the one timer is re-armed after each poll; after
 * `stop()` nothing polls, no timer is left, the notice subscription is released and the poll in
 * flight has ended.
 */
import type { BoardStore, StoreNotice } from './contract.js';

/** Settings of a {@link NoticePoller}. */
export interface NoticePollerOptions {
  /** One poll. What it throws goes to `onError` (as `'polling the store'`) unless the poller is stopped. */
  readonly poll: () => Promise<void>;
  /** The wait after a poll before the next. */
  readonly intervalMs: number;
  /** What a notice does (`poller.soon()` to poll sooner). */
  readonly onNotice: (notice: StoreNotice) => void;
  /** A failure to subscribe to the notices (polling goes on) or of a poll. */
  readonly onError: (operation: string, error: unknown) => void;
  /** Whether the timer keeps the process alive, asked each time it is armed and on `refresh()` (default: never). */
  readonly keepsAlive?: () => boolean;
  /** How long `soon()` waits, so that a burst of notices makes one poll (default 20 ms). */
  readonly soonMs?: number;
}

export class NoticePoller {
  readonly #store: Pick<BoardStore, 'onNotice'>;
  readonly #options: NoticePollerOptions;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #polling: Promise<void> | undefined;
  #again = false;
  #stopped = false;
  #unsubscribe: Promise<(() => void) | undefined> | undefined;

  constructor(store: Pick<BoardStore, 'onNotice'>, options: NoticePollerOptions) {
    this.#store = store;
    this.#options = options;
  }

  /** Subscribes to the store's notices (when it has them) and polls at once. */
  start(): void {
    const store = this.#store;
    if (typeof store.onNotice === 'function') {
      this.#unsubscribe = (async () => {
        try {
          return await store.onNotice!((notice) => {
            if (!this.#stopped) this.#options.onNotice(notice);
          });
        } catch (error) {
          this.#options.onError('listening for store notices', error);
          return undefined;
        }
      })();
    }
    this.#schedule(0);
  }

  /** Stops polling and listening; resolves once the subscription is released and a poll in flight has ended. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const unsubscribe = await this.#unsubscribe;
    unsubscribe?.();
    await this.#polling;
  }

  /** Polls now, or once more after the poll in flight; resolves when that poll has run. */
  poll(): Promise<void> {
    if (this.#polling !== undefined) {
      this.#again = true;
      return this.#polling;
    }
    if (this.#stopped) return Promise.resolve();
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#polling = (async () => {
      try {
        do {
          this.#again = false;
          await this.#options.poll();
        } while (this.#again && !this.#stopped);
      } catch (error) {
        if (!this.#stopped) this.#options.onError('polling the store', error);
      } finally {
        this.#polling = undefined;
        this.#schedule(this.#options.intervalMs);
      }
    })();
    return this.#polling;
  }

  /** Polls soon: once more after the poll in flight, or after `soonMs`. */
  soon(): void {
    if (this.#stopped) return;
    if (this.#polling !== undefined) this.#again = true;
    else this.#schedule(this.#options.soonMs ?? 20);
  }

  /** Asks `keepsAlive` again (something started or stopped waiting on the poller). */
  refresh(): void {
    const timer = this.#timer;
    if (timer === undefined || typeof timer !== 'object') return;
    if (this.#options.keepsAlive?.() === true) timer.ref();
    else timer.unref();
  }

  #schedule(delayMs: number): void {
    if (this.#stopped) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.poll();
    }, delayMs);
    this.refresh();
  }
}

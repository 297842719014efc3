/**
 * The live stream: every board event gets an id and goes into a bounded ring (for `Last-Event-ID`
 * resumption), which the SSE clients read from, each at its own cursor. A client that does not keep
 * up is told with a `lagged` event and carries on from the newest events, so a slow reader never
 * makes the server's memory grow.
 */
import type { ServerResponse } from 'node:http';
import type { BoardEvent } from '../board/events.js';
import type { Viewer } from '../board/visibility.js';
import { isVisibleTo, type Visibility } from '../board/visibility.js';

/** Who may see a `published` event's artifact, when it was looked up. */
export type EventVisibility = { readonly visibility: Visibility; readonly producedBy: string };

/** What one client asked for. */
export interface ClientFilter {
  readonly kinds: ReadonlySet<string> | undefined;
  readonly correlationId: string | undefined;
  readonly viewer: Viewer | undefined;
}

interface Client {
  readonly res: ServerResponse;
  readonly filter: ClientFilter;
  /** Takes every event as it is (no filter): it can share the chunk other such clients get. */
  readonly all: boolean;
  /** The sequence number of the next event it gets. */
  next: number;
  /** Events it lost and has not been told of yet (`null`: unknown, an id from another server). */
  lagged: number | null;
  reason: string | undefined;
  readonly onDrain: () => void;
}

const frameOf = (id: string, kind: string, data: unknown): string => `id: ${id}\nevent: ${kind}\ndata: ${JSON.stringify(data)}\n\n`;

/**
 * The ring of recent events and the SSE clients. Appending an event costs a few array stores,
 * whatever the number of clients: the clients are written at most once per `flushMs` (a timer armed
 * by the first event after a flush; 0: once per turn of the event loop, a `setImmediate`), each
 * getting the events since its own cursor in one write. Each event is serialised at most once, when
 * some client first needs it, and the clients that take every event and stand at the same cursor
 * share one buffer of the frames (one `Buffer`, written as is to each). Half a ring of events
 * waiting flushes at the end of the turn, before the timer, so that none leaves the ring unsent. A
 * client whose socket is still full is skipped until it drains; one that is owed more than
 * `clientBacklog` events it could not take at earlier flushes gets a `lagged` event and the newest
 * `clientBacklog` of those (with what came since), so that neither a slow client nor a burst of
 * events makes memory grow.
 */
export class EventLog {
  readonly #capacity: number;
  readonly #events: (BoardEvent | undefined)[];
  readonly #frames: (string | undefined)[];
  readonly #visibility: (EventVisibility | undefined)[];
  #seq = 0;
  readonly #boot: string;
  readonly #clients = new Set<Client>();
  readonly #clientBacklog: number;
  #identified = 0;
  readonly #flushMs: number;
  /** Events waiting that flush at the end of the turn rather than at the timer (half the ring). */
  readonly #flushAt: number;
  /** The head at the last flush: a client's cursor before it says what it could not take then. */
  #flushed = 0;
  #timer: NodeJS.Timeout | undefined;
  #immediate: NodeJS.Immediate | undefined;
  #closed = false;

  /** `flushMs`: how long events gather before they are written (0: at the end of the turn). */
  constructor(capacity: number, clientBacklog: number, boot: string, flushMs = 0) {
    this.#capacity = capacity;
    this.#flushMs = flushMs;
    this.#flushAt = Math.max(1, Math.floor(capacity / 2));
    this.#events = new Array<BoardEvent | undefined>(capacity).fill(undefined);
    this.#frames = new Array<string | undefined>(capacity).fill(undefined);
    this.#visibility = new Array<EventVisibility | undefined>(capacity).fill(undefined);
    this.#clientBacklog = clientBacklog;
    this.#boot = boot;
  }

  get clients(): number {
    return this.#clients.size;
  }

  /** Whether a client presents an identity (then `published` events need their artifact's visibility). */
  get needsVisibility(): boolean {
    return this.#identified > 0;
  }

  /** The SSE id of sequence number `seq`. */
  id(seq: number): string {
    return `${this.#boot}-${seq}`;
  }

  append(event: BoardEvent, visibility?: EventVisibility): void {
    const slot = ++this.#seq % this.#capacity;
    this.#events[slot] = event;
    this.#frames[slot] = undefined;
    this.#visibility[slot] = visibility;
    if (this.#clients.size === 0 || this.#closed || this.#immediate !== undefined) return;
    if (this.#seq - this.#flushed >= this.#flushAt) this.#immediate = setImmediate(this.flush);
    else this.#schedule();
  }

  /** Arms the flush, unless one is armed: after `flushMs`, or at the end of the turn. */
  #schedule(): void {
    if (this.#closed || this.#timer !== undefined || this.#immediate !== undefined) return;
    if (this.#flushMs === 0) this.#immediate = setImmediate(this.flush);
    else this.#timer = setTimeout(this.flush, this.#flushMs).unref();
  }

  /**
   * Starts streaming to `res`: what the ring holds after `lastEventId` first (or a `lagged` event
   * when some of it is gone), then live events.
   */
  attach(res: ServerResponse, filter: ClientFilter, lastEventId: string | undefined): () => void {
    const client: Client = {
      res,
      filter,
      all: filter.kinds === undefined && filter.correlationId === undefined && filter.viewer === undefined,
      next: this.#seq + 1,
      lagged: 0,
      reason: undefined,
      // What it is owed goes out at the next flush, in the buffer the clients at its cursor share.
      onDrain: () => {
        if (client.next <= this.#seq || client.lagged !== 0) this.#schedule();
      },
    };
    if (lastEventId !== undefined) this.#resume(client, lastEventId);
    res.on('drain', client.onDrain);
    this.#clients.add(client);
    if (filter.viewer !== undefined) this.#identified++;
    if (client.next <= this.#seq || client.lagged !== 0) this.#schedule();
    let detached = false;
    return () => {
      if (detached) return;
      detached = true;
      res.off('drain', client.onDrain);
      this.#clients.delete(client);
      if (filter.viewer !== undefined) this.#identified--;
    };
  }

  /** Writes a heartbeat comment to every client that is not behind. */
  heartbeat(): void {
    for (const client of this.#clients) if (!client.res.writableNeedDrain && client.next > this.#seq) client.res.write(': heartbeat\n\n');
  }

  /** Writes what each client has not received yet (when the flush is due; tests call it directly). */
  readonly flush = (): void => {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    if (this.#immediate !== undefined) clearImmediate(this.#immediate);
    this.#timer = undefined;
    this.#immediate = undefined;
    const shared = new Map<number, Buffer>();
    for (const client of this.#clients) this.#flushClient(client, shared);
    this.#flushed = this.#seq;
  };

  /** Ends every stream, after what it can still be sent; no flush is armed after it. */
  closeAll(): void {
    this.flush();
    this.#closed = true;
    for (const client of [...this.#clients]) client.res.end();
  }

  #resume(client: Client, lastEventId: string): void {
    const match = /^(.+)-(\d+)$/.exec(lastEventId);
    if (match === null || match[1] !== this.#boot) {
      // An id from another server's life: what happened between is unknown.
      client.lagged = null;
      client.reason = 'Last-Event-ID is not from this server; resuming from now';
      return;
    }
    const from = Number(match[2]) + 1;
    const oldest = Math.max(1, this.#seq - this.#capacity + 1);
    if (from < oldest) {
      client.lagged = oldest - from;
      client.reason = "those events left the server's buffer";
      client.next = oldest;
    } else {
      client.next = Math.min(from, this.#seq + 1);
    }
  }

  #flushClient(client: Client, shared: Map<number, Buffer> | undefined): void {
    const res = client.res;
    if (res.writableEnded || res.writableNeedDrain) return;
    const head = this.#seq;
    let from = client.next;
    // What left the ring, or what it is owed beyond its backlog (events up to the last flush, which it
    // could not take then: they were not merely gathering for this flush), is skipped: it is told.
    const floor = Math.max(1, head - this.#capacity + 1, this.#flushed - this.#clientBacklog + 1);
    if (from < floor) {
      client.lagged = client.lagged === null ? null : client.lagged + (floor - from);
      client.reason ??= 'the client fell behind';
      from = floor;
    }
    client.next = head + 1;
    const lagged = client.lagged;
    let prefix: string | undefined;
    if (lagged !== 0) {
      prefix = frameOf(this.id(from - 1), 'lagged', { kind: 'lagged', at: Date.now(), dropped: lagged, reason: client.reason });
      client.lagged = 0;
      client.reason = undefined;
    }
    let chunk: Buffer | string | undefined;
    if (from <= head) {
      if (client.all) {
        chunk = shared?.get(from);
        if (chunk === undefined) {
          chunk = Buffer.from(this.#range(from, head, undefined));
          shared?.set(from, chunk);
        }
      } else {
        chunk = this.#range(from, head, client.filter);
      }
    }
    if (prefix !== undefined && chunk !== undefined && chunk.length > 0) {
      res.cork();
      res.write(prefix);
      res.write(chunk);
      res.uncork();
    } else if (prefix !== undefined) res.write(prefix);
    else if (chunk !== undefined && chunk.length > 0) res.write(chunk);
  }

  /** The frames of events `from`..`to` that pass `filter` (all without one), each serialised once. */
  #range(from: number, to: number, filter: ClientFilter | undefined): string {
    let out = '';
    for (let seq = from; seq <= to; seq++) {
      const slot = seq % this.#capacity;
      const event = this.#events[slot];
      if (event === undefined) continue;
      if (filter !== undefined && !this.#visible(filter, event, this.#visibility[slot])) continue;
      let frame = this.#frames[slot];
      if (frame === undefined) this.#frames[slot] = frame = frameOf(this.id(seq), event.kind, event);
      out += frame;
    }
    return out;
  }

  #visible(filter: ClientFilter, event: BoardEvent, visibility: EventVisibility | undefined): boolean {
    const { kinds, correlationId, viewer } = filter;
    if (kinds !== undefined && !kinds.has(event.kind)) return false;
    if (correlationId !== undefined && (!('correlationId' in event) || event.correlationId !== correlationId)) return false;
    if (viewer !== undefined && event.kind === 'published') {
      // Fail closed: an artifact whose visibility was not looked up is not shown to an identified client.
      return visibility !== undefined && isVisibleTo(visibility.visibility, visibility.producedBy, viewer);
    }
    // A run's progress (a model's partial answer) is about artifacts whose visibility an event does not
    // carry, and its outputs' is not known yet: fail closed for an identified client.
    if (viewer !== undefined && event.kind === 'progress') return false;
    return true;
  }
}

/**
 * The live stream: every board event gets an id, goes into a bounded ring (for `Last-Event-ID`
 * resumption) and out to each SSE client. A client whose socket does not keep up has a bounded
 * backlog; past it the backlog is dropped, the client is told with a `lagged` event and carries on
 * from the newest events, so a slow reader never makes the server's memory grow.
 */
import type { ServerResponse } from 'node:http';
import type { BoardEvent } from '../board/events.js';
import type { Viewer } from '../board/visibility.js';
import { isVisibleTo, type Visibility } from '../board/visibility.js';

/** An event as the server keeps it: its id, the event and its SSE frame, serialized once, when first sent. */
export interface LoggedEvent {
  readonly seq: number;
  readonly event: BoardEvent;
  frame: string | undefined;
  /** For `published` events when it was looked up: who may see the artifact. */
  readonly visibility?: { readonly visibility: Visibility; readonly producedBy: string } | undefined;
}

/** What one client asked for. */
export interface ClientFilter {
  readonly kinds: ReadonlySet<string> | undefined;
  readonly correlationId: string | undefined;
  readonly viewer: Viewer | undefined;
}

interface Client {
  readonly res: ServerResponse;
  readonly filter: ClientFilter;
  backlog: LoggedEvent[];
  lagged: number;
  readonly onDrain: () => void;
}

const frameOf = (id: string, kind: string, data: unknown): string => `id: ${id}\nevent: ${kind}\ndata: ${JSON.stringify(data)}\n\n`;

/** The ring of recent events and the SSE clients. */
export class EventLog {
  readonly #ring: (LoggedEvent | undefined)[];
  #seq = 0;
  readonly #boot: string;
  readonly #clients = new Set<Client>();
  readonly #clientBacklog: number;
  #identified = 0;
  /** Writes of one turn of the event loop go out together: each client is corked until the next check phase. */
  #corked = new Set<Client>();
  #uncork: NodeJS.Immediate | undefined;

  constructor(capacity: number, clientBacklog: number, boot: string) {
    this.#ring = new Array<LoggedEvent | undefined>(capacity);
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

  append(event: BoardEvent, visibility?: LoggedEvent['visibility']): void {
    const seq = ++this.#seq;
    const entry: LoggedEvent = { seq, event, frame: undefined, visibility };
    this.#ring[seq % this.#ring.length] = entry;
    for (const client of this.#clients) this.#offer(client, entry);
  }

  /**
   * Starts streaming to `res`: what the ring holds after `lastEventId` first (or a `lagged` event
   * when some of it is gone), then live events.
   */
  attach(res: ServerResponse, filter: ClientFilter, lastEventId: string | undefined): () => void {
    const client: Client = { res, filter, backlog: [], lagged: 0, onDrain: () => this.#flush(client) };
    res.on('drain', client.onDrain);
    this.#clients.add(client);
    if (filter.viewer !== undefined) this.#identified++;
    if (lastEventId !== undefined) this.#replay(client, lastEventId);
    let detached = false;
    return () => {
      if (detached) return;
      detached = true;
      res.off('drain', client.onDrain);
      this.#clients.delete(client);
      if (this.#corked.delete(client)) res.uncork();
      if (filter.viewer !== undefined) this.#identified--;
      client.backlog = [];
    };
  }

  /** Writes a heartbeat comment to every client that is not behind. */
  heartbeat(): void {
    for (const client of this.#clients) if (!client.res.writableNeedDrain && client.backlog.length === 0) client.res.write(': heartbeat\n\n');
  }

  /** Ends every stream. */
  closeAll(): void {
    this.#flushCorked();
    for (const client of [...this.#clients]) client.res.end();
  }

  readonly #flushCorked = (): void => {
    if (this.#uncork !== undefined) clearImmediate(this.#uncork);
    this.#uncork = undefined;
    const corked = this.#corked;
    this.#corked = new Set();
    for (const client of corked) client.res.uncork();
  };

  #replay(client: Client, lastEventId: string): void {
    const match = /^(.+)-(\d+)$/.exec(lastEventId);
    const oldest = Math.max(1, this.#seq - this.#ring.length + 1);
    let from: number;
    if (match === null || match[1] !== this.#boot) {
      // An id from another server's life: what happened between is unknown.
      this.#write(client, frameOf(this.id(this.#seq), 'lagged', { kind: 'lagged', at: Date.now(), dropped: null, reason: 'Last-Event-ID is not from this server; resuming from now' }));
      return;
    }
    from = Number(match[2]) + 1;
    if (from < oldest) {
      this.#write(client, frameOf(this.id(oldest - 1), 'lagged', { kind: 'lagged', at: Date.now(), dropped: oldest - from, reason: 'those events left the server\'s buffer' }));
      from = oldest;
    }
    for (let seq = from; seq <= this.#seq; seq++) {
      const entry = this.#ring[seq % this.#ring.length];
      if (entry !== undefined && entry.seq === seq) this.#offer(client, entry);
    }
  }

  #visible(client: Client, entry: LoggedEvent): boolean {
    const { kinds, correlationId, viewer } = client.filter;
    const event = entry.event;
    if (kinds !== undefined && !kinds.has(event.kind)) return false;
    if (correlationId !== undefined && (!('correlationId' in event) || event.correlationId !== correlationId)) return false;
    if (viewer !== undefined && event.kind === 'published') {
      // Fail closed: an artifact whose visibility was not looked up is not shown to an identified client.
      return entry.visibility !== undefined && isVisibleTo(entry.visibility.visibility, entry.visibility.producedBy, viewer);
    }
    return true;
  }

  #offer(client: Client, entry: LoggedEvent): void {
    if (!this.#visible(client, entry)) return;
    if (client.backlog.length === 0 && client.lagged === 0 && !client.res.writableNeedDrain) {
      this.#write(client, this.#frame(entry));
      return;
    }
    if (client.backlog.length >= this.#clientBacklog) {
      // Skip ahead: what it has not received is dropped, and it is told so once it drains.
      client.lagged += client.backlog.length;
      client.backlog = [];
    }
    client.backlog.push(entry);
  }

  #flush(client: Client): void {
    if (client.lagged > 0) {
      const dropped = client.lagged;
      client.lagged = 0;
      const at = client.backlog[0]?.seq ?? this.#seq;
      this.#write(client, frameOf(this.id(at - 1), 'lagged', { kind: 'lagged', at: Date.now(), dropped, reason: 'the client fell behind' }));
    }
    while (client.backlog.length > 0 && !client.res.writableNeedDrain) this.#write(client, this.#frame(client.backlog.shift()!));
  }

  #frame(entry: LoggedEvent): string {
    return (entry.frame ??= frameOf(this.id(entry.seq), entry.event.kind, entry.event));
  }

  #write(client: Client, frame: string): void {
    if (client.res.writableEnded) return;
    if (!this.#corked.has(client)) {
      client.res.cork();
      this.#corked.add(client);
      this.#uncork ??= setImmediate(this.#flushCorked);
    }
    client.res.write(frame);
  }
}

/**
 * Inputs published once across restarts. With a durable store, each input the command publishes
 * carries a tag `skein:input:<index>:<fingerprint>`: its place in the workflow's list and a hash of
 * its type, correlation id and payload. The tag is stored with the artifact in the same unit, so the
 * store always knows exactly which inputs were published (a crash can never leave an input stored
 * without its tag, nor a tag without its input). A restart lists the tagged artifacts, skips that
 * many inputs, and checks that the inputs it skips are the ones the store holds: a workflow whose
 * inputs changed (other arguments, other files) is refused rather than half-mixed with the old run.
 */
import type { BoardStore } from 'skein/board';
import { CliError } from './cli-error.js';
import type { WorkflowInput } from './workflow.js';

/** The prefix of the tag that marks an artifact as the command's input. */
export const INPUT_TAG_PREFIX = 'skein:input:';

/** What a store holds of a run's inputs: the fingerprints of the inputs published, by index. */
export class InputLedger {
  readonly #fingerprints: readonly string[];

  private constructor(fingerprints: readonly string[]) {
    this.#fingerprints = fingerprints;
  }

  /** A ledger that holds nothing (a memory store, a first run). */
  static empty(): InputLedger {
    return new InputLedger([]);
  }

  /** Reads the inputs a previous run published into `store`. */
  static async read(store: BoardStore): Promise<InputLedger> {
    const found = new Map<number, string>();
    for (const artifact of await store.list({ producedBy: 'external' })) {
      for (const tag of artifact.tags) {
        const parsed = parseTag(tag);
        if (parsed !== undefined) found.set(parsed.index, parsed.fingerprint);
      }
    }
    const fingerprints: string[] = [];
    for (let i = 0; i < found.size; i++) {
      const fingerprint = found.get(i);
      // Inputs are published one after the other, each in one unit: the indexes have no gap.
      if (fingerprint === undefined) throw new CliError(`the store's inputs are not those of one run of this command (input ${i + 1} of ${found.size} is missing): use another store`);
      fingerprints.push(fingerprint);
    }
    return new InputLedger(fingerprints);
  }

  /** How many inputs the store holds already. */
  get size(): number {
    return this.#fingerprints.length;
  }

  /**
   * True when input `index` was published before (skip it); false when it is new (publish it with
   * {@link tag}). Throws a {@link CliError} when the store's input at `index` is a different one.
   */
  has(index: number, input: WorkflowInput): boolean {
    if (index >= this.#fingerprints.length) return false;
    if (this.#fingerprints[index] !== fingerprint(input)) {
      throw new CliError(
        `input ${index + 1} (${input.type.name}) is not the one this store's run published: the workflow's inputs changed since (other arguments or files?). Resume with the same inputs, or use another store to start over`,
      );
    }
    return true;
  }

  /** After the last input: the store must not hold more inputs than the workflow listed. */
  checkComplete(listed: number): void {
    if (listed < this.#fingerprints.length) {
      throw new CliError(
        `the workflow lists ${listed} inputs but this store's run published ${this.#fingerprints.length}: its inputs changed since (other arguments or files?). Resume with the same inputs, or use another store to start over`,
      );
    }
  }

  /** The tag that marks input `index`. */
  static tag(index: number, input: WorkflowInput): string {
    return `${INPUT_TAG_PREFIX}${index}:${fingerprint(input)}`;
  }
}

function parseTag(tag: string): { index: number; fingerprint: string } | undefined {
  if (!tag.startsWith(INPUT_TAG_PREFIX)) return undefined;
  const match = /^(\d+):([0-9a-f]{8})$/.exec(tag.slice(INPUT_TAG_PREFIX.length));
  return match === null ? undefined : { index: Number(match[1]), fingerprint: match[2]! };
}

/** A 32-bit FNV-1a hash of the input's type name, correlation id and payload (as JSON), in hex. */
export function fingerprint(input: WorkflowInput): string {
  let payload: string;
  try {
    payload = JSON.stringify(input.payload) ?? 'undefined';
  } catch {
    payload = '(not JSON)';
  }
  const text = `${input.type.name}\u0000${input.correlationId ?? ''}\u0000${payload}`;
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, '0');
}

/**
 * Gates: where artifacts wait for their partners before a run is scheduled. One shape covers the
 * three kinds: an AND gate (one artifact per declared type), a join (the same, grouped by a key within
 * a window) and a batch (up to `size` artifacts of one type, or whatever arrived by its timeout).
 * These are pure functions over a {@link GateRecord}; the board stores the records and owns the timers.
 */
import type { Subscription } from './agent.js';
import type { Artifact } from './artifact.js';
import type { GateRecord } from './store.js';

/** The join key of `artifact` for `subscription` (its correlation id by default), or undefined when it does not join. */
export function joinKeyOf(subscription: Subscription, artifact: Artifact): string | undefined {
  if (subscription.join === undefined) return undefined;
  return subscription.join.by === undefined ? artifact.correlationId : String(subscription.join.by(artifact));
}

/** Gates are per agent, subscription and workflow (and join key): one gate never mixes workflows. */
export function gateKey(agent: string, subscription: number, correlationId: string, joinKey: string | undefined): string {
  const base = `${agent}\u0000${subscription}\u0000${correlationId}`;
  return joinKey === undefined ? base : `${base}\u0000${joinKey}`;
}

/** A new, empty gate opened at `now`: its deadline is the batch timeout or the join window, if any. */
export function openGate(key: string, agent: string, subscription: Subscription, correlationId: string, joinKey: string | undefined, now: number): GateRecord {
  const batch = subscription.batch;
  return {
    key,
    agent,
    subscription: subscription.index,
    correlationId,
    kind: batch !== undefined ? 'batch' : subscription.join !== undefined ? 'join' : 'and',
    joinKey,
    slots: batch !== undefined ? [[]] : subscription.types.map(() => []),
    openedAt: now,
    deadline: batch?.timeoutMs !== undefined ? now + batch.timeoutMs : subscription.join !== undefined ? now + subscription.join.withinMs : undefined,
  };
}

/**
 * Adds `artifact` to `gate` (mutating its slots) and takes out every input group now complete, as
 * artifact ids in the order the agent receives them. An artifact whose type appears at several
 * positions goes to the one with the fewest waiting.
 */
export function addToGate(gate: GateRecord, subscription: Subscription, artifact: Artifact): string[][] {
  const groups: string[][] = [];
  if (subscription.batch !== undefined) {
    const waiting = gate.slots[0]!;
    waiting.push(artifact.id);
    if (waiting.length >= subscription.batch.size) groups.push(waiting.splice(0, subscription.batch.size));
    return groups;
  }
  let slot = -1;
  subscription.types.forEach((type, i) => {
    if (type.name === artifact.type && (slot === -1 || gate.slots[i]!.length < gate.slots[slot]!.length)) slot = i;
  });
  gate.slots[slot]!.push(artifact.id);
  while (gate.slots.every((ids) => ids.length > 0)) groups.push(gate.slots.map((ids) => ids.splice(0, 1)[0]!));
  return groups;
}

export function isEmpty(gate: GateRecord): boolean {
  return gate.slots.every((ids) => ids.length === 0);
}

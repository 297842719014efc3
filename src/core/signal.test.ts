import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { abortListenerCount, captureWarnings, deferred, nextTick } from '../../test/helpers.js';
import { gather } from './gather.js';
import { deadlineOf, linkSignal, neverAbortedSignal, onAbort, setDeadline } from './signal.js';
import { timeout } from './timeout.js';

describe('linkSignal', () => {
  it('aborts the child with the parent reason when the parent aborts', () => {
    const parent = new AbortController();
    const child = new AbortController();
    linkSignal(child, parent.signal);
    const reason = new Error('shutdown');
    parent.abort(reason);
    expect(child.signal.aborted).toBe(true);
    expect(child.signal.reason).toBe(reason);
  });

  it('adds exactly one listener and removes it on unlink', () => {
    const parent = new AbortController();
    const child = new AbortController();
    const link = linkSignal(child, parent.signal);
    expect(abortListenerCount(parent.signal)).toBe(1);
    link.unlink();
    link.unlink();
    expect(abortListenerCount(parent.signal)).toBe(0);
    parent.abort();
    expect(child.signal.aborted).toBe(false);
  });

  it('does not accumulate listeners when a long-lived parent is linked many times', () => {
    const parent = new AbortController();
    for (let i = 0; i < 1_000; i++) {
      using _link = linkSignal(new AbortController(), parent.signal);
    }
    expect(abortListenerCount(parent.signal)).toBe(0);
  });

  it('aborts the child at once and adds nothing when the parent is already aborted', () => {
    const parent = new AbortController();
    parent.abort('gone');
    const child = new AbortController();
    linkSignal(child, parent.signal);
    expect(child.signal.reason).toBe('gone');
    expect(abortListenerCount(parent.signal)).toBe(0);
  });

  it('is a no-op without a parent', () => {
    const child = new AbortController();
    linkSignal(child, undefined).unlink();
    expect(child.signal.aborted).toBe(false);
  });
});

describe('many links on one parent', () => {
  const LINKS = 1_000;
  const warnings = captureWarnings();

  it('1,000 live links leave the parent one listener and no MaxListenersExceededWarning, and none once disposed', async () => {
    const parent = new AbortController();
    const children = Array.from({ length: LINKS }, () => new AbortController());
    const links = children.map((child) => linkSignal(child, parent.signal));
    expect(abortListenerCount(parent.signal)).toBe(1);
    await nextTick();
    expect(warnings).toEqual([]);
    for (const link of links.slice(0, LINKS - 1)) link[Symbol.dispose]();
    expect(abortListenerCount(parent.signal)).toBe(1);
    links[LINKS - 1]!.unlink();
    expect(abortListenerCount(parent.signal)).toBe(0);
    parent.abort();
    expect(children.some((child) => child.signal.aborted)).toBe(false);
  });

  it('aborting the parent aborts every linked child with its reason, and removes its listener', () => {
    const parent = new AbortController();
    const children = Array.from({ length: LINKS }, () => new AbortController());
    const links = children.map((child) => linkSignal(child, parent.signal));
    links[7]!.unlink();
    const reason = new Error('shutdown');
    parent.abort(reason);
    expect(children.filter((child) => child.signal.reason === reason)).toHaveLength(LINKS - 1);
    expect(children[7]!.signal.aborted).toBe(false);
    expect(abortListenerCount(parent.signal)).toBe(0);
    for (const link of links) link.unlink();
  });

  it('1,000 concurrent timeouts and gathers under one caller signal add one listener to it, removed when they settle', async () => {
    const workflow = new AbortController();
    const signal = workflow.signal;
    const gate = deferred();
    const runs = Array.from({ length: LINKS }, (_, i) =>
      i % 2 === 0
        ? timeout(() => gate.promise, 60_000, { signal })
        : gather([() => gate.promise, (childSignal) => childSignal.aborted], { signal }),
    );
    expect(abortListenerCount(signal)).toBe(1);
    await nextTick();
    expect(warnings).toEqual([]);
    gate.resolve();
    await Promise.all(runs);
    expect(abortListenerCount(signal)).toBe(0);
  });

  it('a caller signal shared by 1,000 timeouts aborts them all', async () => {
    const workflow = new AbortController();
    const runs = Array.from({ length: LINKS }, () =>
      timeout((signal) => new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))), 60_000, {
        signal: workflow.signal,
      }),
    );
    const reason = new Error('cancelled workflow');
    workflow.abort(reason);
    const outcomes = await Promise.allSettled(runs);
    expect(outcomes.every((outcome) => outcome.status === 'rejected' && outcome.reason === reason)).toBe(true);
    expect(abortListenerCount(workflow.signal)).toBe(0);
  });
});

describe('what a link keeps alive', () => {
  setFlagsFromString('--expose-gc');
  const collect = runInNewContext('gc') as () => void;
  /** Collects until `ref` is cleared (a WeakRef's target lives at least to the end of the current job). */
  async function collected(ref: WeakRef<object>): Promise<boolean> {
    for (let i = 0; i < 10 && ref.deref() !== undefined; i++) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      collect();
    }
    return ref.deref() === undefined;
  }

  it('a disposed link leaves nothing of its child reachable from a parent that lives on', async () => {
    const parent = new AbortController();
    const others = Array.from({ length: 3 }, () => linkSignal(new AbortController(), parent.signal));
    const child = (() => {
      const controller = new AbortController();
      linkSignal(controller, parent.signal).unlink();
      return new WeakRef(controller);
    })();
    expect(await collected(child)).toBe(true);
    for (const link of others) link.unlink();
    expect(abortListenerCount(parent.signal)).toBe(0);
  });

  it('a parent and its children that nothing else holds are collected, even with links never removed', async () => {
    const parent = (() => {
      const controller = new AbortController();
      for (let i = 0; i < 3; i++) linkSignal(new AbortController(), controller.signal);
      return new WeakRef(controller.signal);
    })();
    expect(await collected(parent)).toBe(true);
  });
});

describe('onAbort', () => {
  it('returns a remover that takes the listener off', () => {
    const controller = new AbortController();
    let calls = 0;
    const remove = onAbort(controller.signal, () => calls++);
    expect(abortListenerCount(controller.signal)).toBe(1);
    remove();
    controller.abort();
    expect(calls).toBe(0);
    expect(abortListenerCount(controller.signal)).toBe(0);
  });
});

describe('deadlineOf', () => {
  it('returns the deadline recorded for a signal, and undefined otherwise', () => {
    const controller = new AbortController();
    expect(deadlineOf(controller.signal)).toBeUndefined();
    expect(deadlineOf(undefined)).toBeUndefined();
    setDeadline(controller.signal, 1234);
    expect(deadlineOf(controller.signal)).toBe(1234);
  });
});

describe('neverAbortedSignal', () => {
  it('is one shared signal that never aborts', () => {
    expect(neverAbortedSignal()).toBe(neverAbortedSignal());
    expect(neverAbortedSignal().aborted).toBe(false);
  });

  it('drops listeners instead of keeping them, so sharing it cannot leak', () => {
    const signal = neverAbortedSignal();
    for (let i = 0; i < 100; i++) signal.addEventListener('abort', () => {}, { once: true });
    signal.onabort = () => {};
    expect(abortListenerCount(signal)).toBe(0);
    expect(signal.onabort).toBeNull();
  });
});

import { describe, expect, it } from 'vitest';
import { abortListenerCount } from '../../test/helpers.js';
import { deadlineOf, linkSignal, neverAbortedSignal, onAbort, setDeadline } from './signal.js';

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

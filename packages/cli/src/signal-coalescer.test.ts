import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { coalesceSignals } from './signal-coalescer.js';

function setup(windowMs = 500) {
  const host = new EventEmitter();
  let clock = 0;
  const coalesced = coalesceSignals(host, { windowMs, now: () => clock });
  const seen: string[] = [];
  const listener = (name: unknown) => seen.push(String(name));
  coalesced.on('SIGINT', listener);
  return { host, coalesced, seen, listener, advance: (ms: number) => (clock += ms) };
}

describe('coalesceSignals', () => {
  it('counts a signal repeated within the window (a relayed copy of one keypress) once', () => {
    const { host, seen, advance } = setup();
    host.emit('SIGINT', 'SIGINT');
    advance(30);
    host.emit('SIGINT', 'SIGINT');
    advance(469);
    host.emit('SIGINT', 'SIGINT');
    expect(seen).toEqual(['SIGINT']);
  });

  it('counts a repeat after the window as a second Ctrl-C', () => {
    const { host, seen, advance } = setup();
    host.emit('SIGINT', 'SIGINT');
    advance(500);
    host.emit('SIGINT', 'SIGINT');
    expect(seen).toEqual(['SIGINT', 'SIGINT']);
  });

  it('measures the window from the last signal that counted, not from the last copy', () => {
    const { host, seen, advance } = setup();
    host.emit('SIGINT', 'SIGINT');
    for (let i = 0; i < 4; i++) {
      advance(200);
      host.emit('SIGINT', 'SIGINT');
    }
    // 0 counted; 200 and 400 were copies; 600 counted; 800 was a copy of it.
    expect(seen).toEqual(['SIGINT', 'SIGINT']);
  });

  it('passes other events through unchanged and removes a wrapped listener with off', () => {
    const { host, coalesced, seen, listener } = setup();
    const errors: unknown[] = [];
    const onError = (error: unknown) => errors.push(error);
    coalesced.on('uncaughtException', onError);
    host.emit('uncaughtException', 'a');
    host.emit('uncaughtException', 'b');
    expect(errors).toEqual(['a', 'b']);
    coalesced.off('SIGINT', listener);
    coalesced.off('uncaughtException', onError);
    expect(host.listenerCount('SIGINT') + host.listenerCount('uncaughtException')).toBe(0);
    host.emit('SIGINT', 'SIGINT');
    expect(seen).toEqual([]);
  });

  it('rejects a window that is not a finite number >= 0', () => {
    expect(() => coalesceSignals(new EventEmitter(), { windowMs: -1 })).toThrow(new RangeError('windowMs must be a finite number >= 0, got -1'));
  });
});

import { describe, expect, it } from 'vitest';
import { startWatchdog } from './watchdog.js';

// Only the stand-down path runs in the test process: a watchdog that fires interrupts the thread it
// watches, which here is the test runner's. The firing path is tested end to end (cli.e2e.test.ts).
describe('startWatchdog', () => {
  it('stands down when disarmed before its deadline, and never fires', async () => {
    const watchdog = startWatchdog(10_000);
    expect(watchdog.disarm()).toBe(true);
    expect(watchdog.firing()).toBe(false);
    const settled = await Promise.race([watchdog.fired.then(() => 'fired'), new Promise((resolve) => setTimeout(resolve, 50, 'pending'))]);
    expect(settled).toBe('pending');
    await watchdog.close();
  });

  it('answers false to a second disarm: the outcome is decided once', async () => {
    const watchdog = startWatchdog(10_000);
    expect(watchdog.disarm()).toBe(true);
    expect(watchdog.disarm()).toBe(false);
    await watchdog.close();
  });

  it('rejects a deadline that is not a finite number >= 0', () => {
    expect(() => startWatchdog(-1)).toThrow(new RangeError('timeoutMs must be a finite number >= 0, got -1'));
    expect(() => startWatchdog(Infinity)).toThrow(RangeError);
  });
});

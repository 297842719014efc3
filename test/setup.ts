/**
 * Runs before every test file. It makes the suite fail when a file leaves a ref'd timer, an
 * immediate, a socket or any other handle alive after its tests: skein promises that nothing it
 * starts outlives the operation that started it, and this is where that promise is checked.
 */
import { afterAll, afterEach, beforeAll, vi } from 'vitest';

const counts = (resources: readonly string[]): Map<string, number> => {
  const byType = new Map<string, number>();
  for (const type of resources) byType.set(type, (byType.get(type) ?? 0) + 1);
  return byType;
};

// Taken inside a hook so that vitest's own timer for the running hook is counted on both sides.
let baseline = new Map<string, number>();
beforeAll(() => {
  // stdout and stderr open their handles on first use (a worker thread's stdio is piped into them):
  // they belong to the process, so open them before counting.
  void process.stdout;
  void process.stderr;
  baseline = counts(process.getActiveResourcesInfo());
});

afterEach(() => {
  // A test that forgot to restore real timers would hide leaks from the check below.
  vi.useRealTimers();
});

afterAll(async () => {
  // Let callbacks already due (a resolved promise's `finally`, an immediate) run first.
  await new Promise<void>((resolve) => setImmediate(resolve));
  const now = counts(process.getActiveResourcesInfo());
  const leaked: string[] = [];
  for (const [type, count] of now) {
    const extra = count - (baseline.get(type) ?? 0);
    if (extra > 0) leaked.push(`${extra} x ${type}`);
  }
  if (leaked.length > 0) {
    throw new Error(`handles left alive after this test file: ${leaked.join(', ')}`);
  }
});

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

/**
 * The resources alive, by type, the fewest of each seen over a short window: vitest's own calls to
 * the main process hold a timer each while in flight, so one sample may count one or two of them.
 * A handle the file's code left alive is there in every sample.
 */
async function settledCounts(): Promise<Map<string, number>> {
  const fewest = counts(process.getActiveResourcesInfo());
  for (let i = 0; i < SAMPLES; i++) {
    // Counted once it has fired, so this timer is not among those counted.
    await new Promise<void>((resolve) => setTimeout(resolve, SAMPLE_GAP_MS));
    const now = counts(process.getActiveResourcesInfo());
    for (const [type, count] of fewest) fewest.set(type, Math.min(count, now.get(type) ?? 0));
  }
  return fewest;
}
const SAMPLES = 8;
const SAMPLE_GAP_MS = 15;

// Taken inside a hook so that vitest's own timer for the running hook (if any) is counted on both sides.
let baseline = new Map<string, number>();
beforeAll(async () => {
  // stdout and stderr open their handles on first use (a worker thread's stdio is piped into them):
  // they belong to the process, so open them before counting.
  void process.stdout;
  void process.stderr;
  baseline = await settledCounts();
});

afterEach(() => {
  // A test that forgot to restore real timers would hide leaks from the check below.
  vi.useRealTimers();
});

afterAll(async () => {
  // Let callbacks already due (a resolved promise's `finally`, an immediate) run first.
  await new Promise<void>((resolve) => setImmediate(resolve));
  // Counted the same way as the baseline: in the next ~120 ms, a library's closing that outlives the
  // promise it returned by a moment (a socket's last close) is gone too.
  const now = await settledCounts();
  const leaked: string[] = [];
  for (const [type, count] of now) {
    const extra = count - (baseline.get(type) ?? 0);
    if (extra > 0) leaked.push(`${extra} x ${type}`);
  }
  if (leaked.length > 0) {
    throw new Error(`handles left alive after this test file: ${leaked.join(', ')}`);
  }
});

// A browser project with `moduleResolution: bundler` and no Node types: the root entry type-checks.
import { gather, sleep, timeout, TimeoutError, type Task } from 'skein';

const tasks: Task<number>[] = [async (signal) => { await sleep(1, { signal }); return 1; }, () => 2];
export const sum = gather(tasks).then((values) => values.reduce((total, n) => total + n, 0));
export const timedOut = timeout((signal) => sleep(1_000, { signal }), 5).catch((error: unknown) => error instanceof TimeoutError);

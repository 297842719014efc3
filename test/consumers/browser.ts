// A browser app bundled from the installed package: esbuild resolves `skein` through its exports.
import { gather, sleep, scope } from 'skein';

export async function run(): Promise<unknown> {
  const pair = await gather([async (signal) => { await sleep(1, { signal }); return 'a'; }, async () => 'b']);
  const total = await scope(async (group) => (await group.spawn(async () => 20)) + (await group.spawn(async () => 22)));
  return { pair, total };
}

/** skein's version, from its package.json (two levels up from both `src/cli` and `dist/cli`). */
import { readFileSync } from 'node:fs';

export function packageVersion(): string {
  const json = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
  return typeof json.version === 'string' ? json.version : '0.0.0';
}

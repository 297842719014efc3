/** The command's version, from its package.json (one level up from both `src` and `dist`). */
import { readFileSync } from 'node:fs';

export function packageVersion(): string {
  const json = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: unknown };
  return typeof json.version === 'string' ? json.version : '0.0.0';
}

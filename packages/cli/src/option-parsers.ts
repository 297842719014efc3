/** Parsers of option values shared by the commands; each throws commander's `InvalidArgumentError`. */
import { InvalidArgumentError } from 'commander';
import type { ConcurrencyOverrides } from './run-workflow.js';

/** `4`, `keywords=4`, `keywords=4,split=2`; repeated flags accumulate. */
export function parseConcurrency(value: string, previous: ConcurrencyOverrides | undefined): ConcurrencyOverrides {
  let all = previous?.all;
  const byAgent: Record<string, number> = { ...previous?.byAgent };
  for (const part of value.split(',').map((p) => p.trim()).filter(Boolean)) {
    const match = /^(?:([^=\s]+)=)?(\d+)$/.exec(part);
    const limit = match === null ? NaN : Number(match[2]);
    if (match === null || !Number.isSafeInteger(limit) || limit < 1) {
      throw new InvalidArgumentError(`expected N or agent=N with N an integer >= 1, got '${part}'`);
    }
    if (match[1] === undefined) all = limit;
    else byAgent[match[1]] = limit;
  }
  if (all === undefined && Object.keys(byAgent).length === 0) throw new InvalidArgumentError(`expected N or agent=N, got '${value}'`);
  return { ...(all === undefined ? {} : { all }), byAgent };
}

/** `500ms`, `90s`, `2m`, `1.5s`; a bare number is seconds. Returns milliseconds. */
export function parseDuration(value: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(value.trim());
  if (match === null) throw new InvalidArgumentError(`expected a duration such as 90s, 2m or 500ms, got '${value}'`);
  const amount = Number(match[1]);
  const ms = match[2] === 'ms' ? amount : match[2] === 'm' ? amount * 60_000 : amount * 1_000;
  if (!(ms > 0) || ms > 2_147_483_647) throw new InvalidArgumentError(`expected a duration above 0 and under 24 days, got '${value}'`);
  return Math.round(ms);
}

/**
 * Payloads are plain data: what every store can keep and give back unchanged. `freezePlainData`
 * copies a payload into a deeply frozen tree of plain objects, arrays and JSON primitives, so that
 * neither the publisher mutating its object afterwards nor an agent mutating `input.payload` can
 * change what the store holds, and rejects what a durable store could not keep (a function, a
 * symbol, a BigInt, a non-finite number, a class instance, a cycle) with an issue naming its path.
 */
import type { ValidationIssue } from '../errors.js';

/** The walk's state: the keys from the root to the value being copied, and the objects on that path. */
interface Walk {
  readonly keys: string[];
  readonly ancestors: object[];
  issue: ValidationIssue | undefined;
}

/** Why a payload is not plain data: the first issue found. */
export class PlainDataProblem {
  constructor(readonly issue: ValidationIssue) {}
}

/** The frozen copy, or the first issue found. */
export function freezePlainData(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) {
    const problem = primitiveProblem(value);
    return problem === undefined ? value : new PlainDataProblem({ path: '(root)', message: problem });
  }
  // Most payloads are one flat object of primitives: copied without the walk's bookkeeping.
  const flat = copyFlat(value);
  if (flat !== undefined) return flat;
  const walk: Walk = { keys: [], ancestors: [], issue: undefined };
  const frozen = copy(value, walk);
  return walk.issue === undefined ? frozen : new PlainDataProblem(walk.issue);
}

/** The frozen copy of a plain object whose values are all plain primitives; undefined for anything else (the walk decides). */
function copyFlat(item: object): object | undefined {
  if (Array.isArray(item)) return undefined;
  const proto = Object.getPrototypeOf(item) as unknown;
  if (proto !== Object.prototype && proto !== null) return undefined;
  const out: Record<string, unknown> = {};
  for (const key in item) {
    if (!Object.hasOwn(item, key)) continue;
    const value = (item as Record<string, unknown>)[key];
    switch (typeof value) {
      case 'string':
      case 'boolean':
      case 'undefined':
        break;
      case 'number':
        if (!Number.isFinite(value)) return undefined;
        break;
      default:
        return undefined;
    }
    out[key] = value;
  }
  if (Object.getOwnPropertySymbols(item).length > 0) return undefined;
  return Object.freeze(out);
}

function primitiveProblem(value: unknown): string | undefined {
  switch (typeof value) {
    case 'string':
    case 'boolean':
    case 'undefined':
      return undefined;
    case 'number':
      return Number.isFinite(value) ? undefined : `${value} is not a finite number, which stores cannot keep`;
    case 'object':
      return undefined;
    default:
      return `a ${typeof value} is not plain data, which stores cannot keep`;
  }
}

function fail(walk: Walk, message: string): undefined {
  walk.issue ??= { path: walk.keys.length === 0 ? '(root)' : walk.keys.join('.'), message };
  return undefined;
}

function copy(item: unknown, walk: Walk): unknown {
  if (walk.issue !== undefined) return undefined;
  if (typeof item !== 'object' || item === null) {
    const problem = primitiveProblem(item);
    return problem === undefined ? item : fail(walk, problem);
  }
  if (walk.ancestors.includes(item)) return fail(walk, 'a cycle is not plain data, which stores cannot keep');
  walk.ancestors.push(item);
  let result: unknown;
  if (Array.isArray(item)) {
    const out = new Array<unknown>(item.length);
    for (let i = 0; i < item.length; i++) {
      walk.keys.push(String(i));
      out[i] = copy(item[i], walk);
      walk.keys.pop();
    }
    result = Object.freeze(out);
  } else {
    const proto = Object.getPrototypeOf(item) as unknown;
    if (proto !== Object.prototype && proto !== null) {
      walk.ancestors.pop();
      const name = (item as { constructor?: { name?: string } }).constructor?.name ?? 'object';
      return fail(walk, `a ${name} instance is not plain data (use plain objects, arrays, strings, numbers, booleans, null)`);
    }
    const out: Record<string, unknown> = {};
    for (const key in item) {
      if (!Object.hasOwn(item, key)) continue;
      walk.keys.push(key);
      out[key] = copy((item as Record<string, unknown>)[key], walk);
      walk.keys.pop();
    }
    if (Object.getOwnPropertySymbols(item).length > 0) fail(walk, 'symbol keys are not plain data, which stores cannot keep');
    result = Object.freeze(out);
  }
  walk.ancestors.pop();
  return result;
}

/**
 * Payloads are plain data: what every store can keep and give back unchanged. `freezePlainData`
 * copies a payload into a deeply frozen tree of plain objects, arrays and JSON primitives, so that
 * neither the publisher mutating its object afterwards nor an agent mutating `input.payload` can
 * change what the store holds, and rejects what a durable store could not keep (a function, a
 * symbol, a BigInt, a non-finite number, a class instance, a cycle) with an issue naming its path.
 */
import type { ValidationIssue } from '../errors.js';

/** The frozen copy, or the first issue found. */
export function freezePlainData(value: unknown): { readonly value: unknown } | { readonly issue: ValidationIssue } {
  const ancestors = new Set<object>();
  let issue: ValidationIssue | undefined;
  const copy = (item: unknown, path: string): unknown => {
    if (issue !== undefined) return undefined;
    switch (typeof item) {
      case 'string':
      case 'boolean':
      case 'undefined':
        return item;
      case 'number':
        if (Number.isFinite(item)) return item;
        issue = { path, message: `${item} is not a finite number, which stores cannot keep` };
        return undefined;
      case 'bigint':
      case 'symbol':
      case 'function':
        issue = { path, message: `a ${typeof item} is not plain data, which stores cannot keep` };
        return undefined;
    }
    if (item === null) return null;
    const object = item as object;
    if (ancestors.has(object)) {
      issue = { path, message: 'a cycle is not plain data, which stores cannot keep' };
      return undefined;
    }
    ancestors.add(object);
    let result: unknown;
    if (Array.isArray(object)) {
      result = Object.freeze(object.map((element, i) => copy(element, join(path, String(i)))));
    } else {
      const proto = Object.getPrototypeOf(object) as unknown;
      if (proto !== Object.prototype && proto !== null) {
        const name = (object as { constructor?: { name?: string } }).constructor?.name ?? 'object';
        issue = { path, message: `a ${name} instance is not plain data (use plain objects, arrays, strings, numbers, booleans, null)` };
        ancestors.delete(object);
        return undefined;
      }
      const out: Record<string, unknown> = {};
      for (const key of Object.keys(object)) out[key] = copy((object as Record<string, unknown>)[key], join(path, key));
      if (Object.getOwnPropertySymbols(object).length > 0 && issue === undefined) {
        issue = { path, message: 'symbol keys are not plain data, which stores cannot keep' };
      }
      result = Object.freeze(out);
    }
    ancestors.delete(object);
    return result;
  };
  const frozen = copy(value, '');
  return issue === undefined ? { value: frozen } : { issue: { path: issue.path === '' ? '(root)' : issue.path, message: issue.message } };
}

function join(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

/** Argument checks of the stores' key/value space, shared so that every store rejects the same mistakes. */

/** A namespace or key: a non-empty string without NUL characters (storable in every SQL engine). */
export function checkValueKey(value: unknown, name: 'namespace' | 'key'): asserts value is string {
  if (typeof value !== 'string' || value === '' || value.includes('\u0000')) {
    throw new TypeError(`a stored value's ${name} must be a non-empty string without NUL characters, got ${JSON.stringify(value)}`);
  }
}

/** The JSON text of a value to store; a TypeError for what JSON cannot hold. */
export function valueText(value: unknown): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (error) {
    throw new TypeError(`a stored value must be JSON-serialisable: ${(error as Error).message}`);
  }
  if (text === undefined) throw new TypeError(`a stored value must be JSON-serialisable, got ${typeof value}`);
  return text;
}

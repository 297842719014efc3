/** Argument checks for artifact queries, shared by every store so that they all reject the same mistakes. */
import { assertInteger, assertOptions, describe } from '../core/validate.js';
import type { ArtifactQuery } from './store/contract.js';

export interface CheckedQuery {
  readonly typeName: string | undefined;
  /** ISO 8601 string, comparable with `createdAt`. */
  readonly since: string | undefined;
  readonly limit: number;
}

/** Validates a query and normalises its type (to a name), `since` (to ISO 8601) and `limit`. */
export function checkArtifactQuery(query: ArtifactQuery | undefined): CheckedQuery {
  assertOptions(query, 'query');
  let typeName: string | undefined;
  const type: unknown = query?.type;
  if (typeof type === 'string') typeName = type;
  else if (type !== undefined) {
    if (typeof type !== 'object' || type === null || typeof (type as { name?: unknown }).name !== 'string') {
      throw new TypeError(`query.type must be an artifact type or a type name, got ${describe(type)}`);
    }
    typeName = (type as { name: string }).name;
  }
  for (const field of ['correlationId', 'producedBy'] as const) {
    if (query?.[field] !== undefined && typeof query[field] !== 'string') {
      throw new TypeError(`query.${field} must be a string, got ${describe(query[field])}`);
    }
  }
  let since: string | undefined;
  const rawSince: unknown = query?.since;
  if (rawSince !== undefined) {
    const date = rawSince instanceof Date ? rawSince : typeof rawSince === 'string' ? new Date(rawSince) : undefined;
    if (date === undefined || Number.isNaN(date.getTime())) {
      throw new TypeError(`query.since must be a Date or an ISO 8601 string, got ${describe(rawSince)}`);
    }
    since = date.toISOString();
  }
  if (query?.limit !== undefined) assertInteger(query.limit, 'query.limit', { min: 0 });
  return { typeName, since, limit: query?.limit ?? Infinity };
}

/**
 * A Standard Schema as JSON Schema, for a model's structured output and its tools' inputs. Validators
 * that implement Standard JSON Schema (https://standardschema.dev, zod 4.2 and later among them)
 * describe themselves through `~standard.jsonSchema`; others must be given their JSON Schema.
 */
import type { StandardSchemaV1 } from '../board/standard-schema.js';

interface StandardJsonSchemaProps {
  readonly jsonSchema?: { readonly input?: (options: { readonly target: string }) => unknown };
}

/** The JSON Schema (draft-07, what the AI SDK speaks) of what `schema` accepts, or `undefined` when it cannot say. */
export function describeSchema(schema: StandardSchemaV1): Record<string, unknown> | undefined {
  const props = schema['~standard'] as StandardSchemaV1.Props & StandardJsonSchemaProps;
  const input = props.jsonSchema?.input;
  if (typeof input !== 'function') return undefined;
  const described = input.call(props.jsonSchema, { target: 'draft-07' });
  return typeof described === 'object' && described !== null ? (described as Record<string, unknown>) : undefined;
}

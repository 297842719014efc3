import { describe, expect, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import { artifactType, isDraft, ValidationError, type PayloadOf, type InputOf } from 'skein/board';
import { validatePayload } from './artifact.js';

describe('artifactType', () => {
  const Order = artifactType('Order', z.object({ id: z.string(), qty: z.number().int().default(1) }));

  it('names a type and infers its payload (output) and input types from the schema', () => {
    expect(Order.name).toBe('Order');
    expectTypeOf<PayloadOf<typeof Order>>().toEqualTypeOf<{ id: string; qty: number }>();
    expectTypeOf<InputOf<typeof Order>>().toEqualTypeOf<{ id: string; qty?: number | undefined }>();
  });

  it('rejects a bad name or something that is not a Standard Schema', () => {
    expect(() => artifactType('', z.string())).toThrow(TypeError);
    expect(() => artifactType('has space', z.string())).toThrow(/identifier-like/);
    expect(() => artifactType('Ok', {} as never)).toThrow(/Standard Schema/);
    expect(() => artifactType('Ok', { '~standard': { version: 2, validate: () => ({ value: 1 }) } } as never)).toThrow(/Standard Schema/);
  });

  it('validates synchronously for a synchronous schema, naming nested paths', () => {
    expect(validatePayload(Order, { id: 'a' })).toEqual({ id: 'a', qty: 1 });
    try {
      void validatePayload(Order, { id: 1, qty: 'x' });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).issues.map((i) => i.path)).toEqual(['id', 'qty']);
    }
    const Root = artifactType('Root', z.string());
    expect(() => validatePayload(Root, 5)).toThrow(/\(root\)/);
  });

  it('turns a schema that throws into a ValidationError with the cause', () => {
    const Throwing = artifactType('Throwing', {
      '~standard': {
        version: 1,
        vendor: 'test',
        validate: () => {
          throw new Error('kaput');
        },
      },
    });
    expect(() => validatePayload(Throwing, 1)).toThrow(ValidationError);
  });

  it('makes drafts that remember their type', () => {
    const draft = Order.draft({ id: 'x' }, { tags: ['t'] });
    expect(isDraft(draft)).toBe(true);
    expect(draft.type).toBe(Order);
    expect(isDraft({ type: Order, payload: {} })).toBe(false);
  });
});

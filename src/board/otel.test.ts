import type * as OpenTelemetry from '@opentelemetry/api';
import { describe, expectTypeOf, it } from 'vitest';
import type { Api, Span, Tracer } from './otel.js';

describe('the structural OpenTelemetry types', () => {
  it('accept a real tracer from @opentelemetry/api', () => {
    expectTypeOf<OpenTelemetry.Tracer>().toExtend<Tracer>();
    expectTypeOf<OpenTelemetry.Span>().toExtend<Span>();
  });

  it('describe what the board calls on the real module', () => {
    expectTypeOf<OpenTelemetry.TraceAPI['getTracer']>().returns.toExtend<Tracer>();
    expectTypeOf<Api['trace']['getTracer']>().parameter(0).toEqualTypeOf<string>();
  });
});

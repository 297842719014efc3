/**
 * The part of `@opentelemetry/api` the board uses, as structural types. The API is an optional peer
 * dependency, and a published declaration file must type-check without it: `BoardOptions.tracer`
 * is typed with these instead of the API's own. A real `Tracer` from `@opentelemetry/api` fits them
 * (a type test checks it), so users pass theirs unchanged.
 */

/** Span attribute values, as in OpenTelemetry's `AttributeValue`. */
export type AttributeValue =
  | string
  | number
  | boolean
  | readonly (null | undefined | string)[]
  | readonly (null | undefined | number)[]
  | readonly (null | undefined | boolean)[];

/** Span attributes, as in OpenTelemetry's `Attributes`. */
export interface Attributes {
  [key: string]: AttributeValue | undefined;
}

/** Where a span lives: OpenTelemetry's `SpanContext`. */
export interface SpanContext {
  traceId: string;
  spanId: string;
  traceFlags: number;
  isRemote?: boolean;
}

/** A link from a span to another span's context. */
export interface Link {
  context: SpanContext;
  attributes?: Attributes;
}

/** The members of an OpenTelemetry `Span` the board calls. */
export interface Span {
  spanContext(): SpanContext;
  setAttributes(attributes: Attributes): unknown;
  setStatus(status: { code: number; message?: string }): unknown;
  recordException(exception: Error | string): void;
  isRecording(): boolean;
  end(): void;
}

/** The member of an OpenTelemetry `Tracer` the board calls: pass `trace.getTracer(name)`. */
export interface Tracer {
  startSpan(name: string, options?: { attributes?: Attributes; links?: Link[] }): Span;
}

/** An OpenTelemetry context, opaque to the board. */
export type Context = object;

/** The members of the `@opentelemetry/api` module the board calls, once it has loaded it. */
export interface Api {
  readonly trace: {
    getTracer(name: string): Tracer;
    setSpan(context: Context, span: Span): Context;
  };
  readonly context: {
    active(): Context;
    with<T>(context: Context, fn: () => T): T;
  };
}

/**
 * OpenTelemetry spans through `@opentelemetry/api` only: the user brings the SDK. The API is an
 * optional peer dependency, so it is loaded when a board is made (not at import) and tracing is off
 * when it is not installed. The current span travels in the OpenTelemetry context (AsyncLocalStorage
 * under the Node SDK), never in a field: concurrent runs cannot see each other's spans.
 */
import { createRequire } from 'node:module';
import type * as Otel from './otel.js';
import type { Artifact, TraceRef } from './artifact.js';

type Api = Otel.Api;

function loadApi(): Api | undefined {
  try {
    return createRequire(import.meta.url)('@opentelemetry/api') as Api;
  } catch {
    return undefined;
  }
}

/** The board's spans. A no-op when the API is missing or no tracer provider is registered. */
export class Tracing {
  readonly #api: Api | undefined;
  readonly #tracer: Otel.Tracer | undefined;

  constructor(tracer: Otel.Tracer | undefined) {
    this.#api = loadApi();
    this.#tracer = tracer ?? this.#api?.trace.getTracer('skein/board');
  }

  /** Starts a span as a child of the active context; links it to the inputs' publish spans. */
  start(name: string, attributes: Otel.Attributes, inputs?: readonly Artifact[]): Otel.Span | undefined {
    if (this.#tracer === undefined) return undefined;
    let links: Otel.Link[] | undefined;
    if (inputs !== undefined) {
      for (const input of inputs) {
        if (input.trace === undefined) continue;
        (links ??= []).push({ context: { ...input.trace, isRemote: true } });
      }
    }
    const span = this.#tracer.startSpan(name, { attributes, links });
    return span.isRecording() ? span : (span.end(), undefined);
  }

  /** Runs `fn` with `span` as the active span (or as is, without one). */
  with<T>(span: Otel.Span | undefined, fn: () => T): T {
    if (span === undefined || this.#api === undefined) return fn();
    return this.#api.context.with(this.#api.trace.setSpan(this.#api.context.active(), span), fn);
  }

  /** Where a span lives, to record on the artifact it published. */
  ref(span: Otel.Span | undefined): TraceRef | undefined {
    if (span === undefined) return undefined;
    const { traceId, spanId, traceFlags } = span.spanContext();
    return { traceId, spanId, traceFlags };
  }

  /** Ends a span, recording `error` when given. */
  end(span: Otel.Span | undefined, error?: unknown, attributes?: Otel.Attributes): void {
    if (span === undefined) return;
    if (attributes !== undefined) span.setAttributes(attributes);
    if (error !== undefined) {
      const message = error instanceof Error ? error.message : typeof error === 'string' ? error : 'non-Error thrown';
      span.recordException(error instanceof Error ? error : message);
      span.setStatus({ code: 2 /* SpanStatusCode.ERROR */, message });
    }
    span.end();
  }
}

import { context, isSpanContextValid, trace } from '@opentelemetry/api';

/** The W3C Trace Context and Baggage headers: the trace a request belongs to, as a client or a service sent it. */
export const TRACE_CONTEXT_HEADERS: readonly string[] = ['traceparent', 'tracestate', 'baggage'];

/** The fields a log line gets with tracing on: the trace and span it was written in. */
export interface TraceLogFields {
  trace_id?: string;
  span_id?: string;
  trace_flags?: string;
}

/**
 * The active span's ids, for a pino `mixin`: nothing outside a traced request (start-up, background work), and
 * nothing at all with tracing off (the API's no-op context has no span).
 */
export function traceLogFields(): TraceLogFields {
  const span = trace.getSpanContext(context.active());
  if (!span || !isSpanContextValid(span)) return {};
  return {
    trace_id: span.traceId,
    span_id: span.spanId,
    trace_flags: `0${span.traceFlags.toString(16)}`.slice(-2),
  };
}

/**
 * Names the active span (the incoming request's, from the http instrumentation, which knows no routes) after the
 * route the framework matched: `POST /api/v1/findings` instead of `POST`, with `http.route`, so that traces group
 * by endpoint without the ids a path may hold.
 */
export function nameRequestSpan(method: string, route: string): void {
  const span = trace.getActiveSpan();
  if (!span) return;
  span.setAttribute('http.route', route);
  span.updateName(`${method} ${route}`);
}

import { createParamDecorator, type ExecutionContext } from '@nestjs/common';

/** Where the JSON body parser (create-http-app.ts) keeps the body exactly as it arrived, before parsing. */
export interface WithRawBody {
  rawBody?: string;
}

/**
 * The JSON body of a request as the client sent it (UTF-8 decoded), for routes that verify a signature over the
 * exact bytes: re-serialising the parsed body would not give them back. Undefined when the request had no JSON
 * body.
 */
export function rawBodyOf(request: object): string | undefined {
  return (request as WithRawBody).rawBody;
}

/** The raw JSON body as a controller parameter (see {@link rawBodyOf}). */
export const RawBody = createParamDecorator((_data: unknown, context: ExecutionContext): string | undefined =>
  rawBodyOf(context.switchToHttp().getRequest<object>()),
);

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

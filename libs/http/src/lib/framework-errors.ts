import { randomUUID } from 'node:crypto';
import { STATUS_CODES, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ERROR_STATUS, type ErrorBody, type ErrorCode } from '@gatehouse/contracts';
import { toErrorResponse } from './error-response';
import { REQUEST_ID_HEADER } from './request-id';

/** Headers every answer of an app carries even when no hook runs (the gateway's security headers). */
export type AnswerHeaders = Readonly<Record<string, string>>;

/**
 * Fastify's `frameworkErrors`: the router's own refusals (a URL that is not valid percent-encoding, a path
 * parameter longer than `maxParamLength`), answered before any route or hook runs and otherwise in Fastify's
 * shape. Here they get the error shape, the request id and `answerHeaders`.
 */
export function answerFrameworkError(answerHeaders: AnswerHeaders) {
  return (error: FastifyError, request: FastifyRequest, reply: FastifyReply): void => {
    const response = toErrorResponse(error, request.id);
    void reply
      .code(response.status)
      .headers({ ...answerHeaders, [REQUEST_ID_HEADER]: request.id, ...response.headers })
      .send(response.body);
  };
}

/** What Node's HTTP parser refused, as a code of ours. */
function clientErrorCode(error: NodeJS.ErrnoException): ErrorCode {
  if (error.code === 'HPE_HEADER_OVERFLOW') return 'request_header_too_large';
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') return 'request_timeout';
  return 'bad_request';
}

const CLIENT_ERROR_MESSAGES: Partial<Record<ErrorCode, string>> = {
  request_header_too_large: 'Request headers are larger than the limit',
  request_timeout: 'The request was not received in time',
  bad_request: 'The request is not valid HTTP/1.1',
};

/** The whole HTTP/1.1 response for a request Node could not parse: no request object exists to answer it. */
export function clientErrorResponse(error: NodeJS.ErrnoException, answerHeaders: AnswerHeaders): string {
  const code = clientErrorCode(error);
  const status = ERROR_STATUS[code];
  const requestId = randomUUID();
  const body: ErrorBody = {
    error: code,
    message: CLIENT_ERROR_MESSAGES[code] ?? 'Bad request',
    request_id: requestId,
  };
  const json = JSON.stringify(body);
  const headers: Record<string, string> = {
    ...answerHeaders,
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(json)),
    [REQUEST_ID_HEADER]: requestId,
    connection: 'close',
  };
  const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}`);
  return `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n${lines.join('\r\n')}\r\n\r\n${json}`;
}

/**
 * Fastify's `clientErrorHandler`: what Node's HTTP parser refuses (headers over the size limit: 431, a request
 * that is not HTTP, a Content-Length shorter than the body whose rest then reads as a broken request: 400, a
 * request not received in time: 408) gets the error shape with `answerHeaders`, then the connection is closed
 * as Node would. Nothing is written when a response is already under way on the connection (a pipelined
 * request's), since bytes written now would land inside it.
 */
export function answerClientError(answerHeaders: AnswerHeaders) {
  return (error: NodeJS.ErrnoException, socket: Socket): void => {
    if (error.code === 'ECONNRESET' || socket.destroyed) return;
    // Node's own field for the response in progress on this connection (it has no public accessor).
    const inProgress = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
    if (socket.writable && !inProgress?.headersSent) socket.write(clientErrorResponse(error, answerHeaders));
    socket.destroy(error);
  };
}

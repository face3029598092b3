import { Catch, Logger, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { toErrorResponse } from './error-response';
import { resolveRequestId } from './request-id';

/** Routes every exception of a Nest app through `toErrorResponse`. */
@Catch()
export class ErrorFilter implements ExceptionFilter {
  private readonly logger = new Logger('ErrorFilter');

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const request = http.getRequest<FastifyRequest>();
    const reply = http.getResponse<FastifyReply>();
    const id = resolveRequestId(request.raw);
    const response = toErrorResponse(exception, id, request.headers);
    if (response.unexpected) {
      // With the request it failed, so that the line can be found from the request id the client was given.
      const req = { id, method: request.method, url: request.raw.url ?? '' };
      this.logger.error(
        exception instanceof Error ? { req, err: exception } : { req, err: String(exception) },
        'unexpected error',
      );
    }
    void reply.status(response.status).headers(response.headers).send(response.body);
  }
}

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
    const response = toErrorResponse(exception, resolveRequestId(request.raw), request.headers);
    if (response.unexpected) {
      this.logger.error(exception instanceof Error ? (exception.stack ?? exception.message) : exception);
    }
    void reply.status(response.status).headers(response.headers).send(response.body);
  }
}

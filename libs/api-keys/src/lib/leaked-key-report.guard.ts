import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { rawBodyOf } from '@gatehouse/http';
import { LeakedKeyReporters } from './leaked-key-reporters';

/**
 * A guard, so that the signature is checked before the body is validated or anything is looked up: an unsigned
 * or badly signed report gets the same 401 whatever its tokens.
 */
@Injectable()
export class LeakedKeyReportGuard implements CanActivate {
  constructor(private readonly reporters: LeakedKeyReporters) {}

  canActivate(context: ExecutionContext): boolean {
    const request = context
      .switchToHttp()
      .getRequest<{ headers: Record<string, string | string[] | undefined> }>();
    this.reporters.verify(request.headers, rawBodyOf(request));
    return true;
  }
}

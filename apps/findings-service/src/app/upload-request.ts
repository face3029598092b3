import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ReceivedUpload, ScanSummaryDto, UploadAnswer, UploadScanQueryDto } from '@gatehouse/findings';

function header(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

/** RFC 7240: `Prefer: respond-async` among the preferences, whatever else they say. */
function prefersAsync(prefer: string | undefined): boolean {
  return (prefer ?? '')
    .split(',')
    .some((preference) => preference.split(';')[0]?.trim().toLowerCase() === 'respond-async');
}

/** The upload as the raw-body route received it (see the rawBodyRoutes of main.ts). */
export function uploadOf(request: FastifyRequest, query: UploadScanQueryDto): ReceivedUpload {
  return {
    body: Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0),
    contentType: header(request, 'content-type'),
    contentEncoding: header(request, 'content-encoding'),
    query,
    idempotencyKey: header(request, 'idempotency-key'),
    respondAsync: prefersAsync(header(request, 'prefer')),
  };
}

export function sendUploadAnswer(
  reply: FastifyReply,
  upload: ReceivedUpload,
  answer: UploadAnswer,
): ScanSummaryDto {
  void reply.status(answer.status);
  if (answer.location) void reply.header('location', answer.location);
  if (answer.replayed) void reply.header('idempotent-replayed', 'true');
  // RFC 7240: said only when the client asked for it and got it.
  if (upload.respondAsync && answer.status === 202) void reply.header('preference-applied', 'respond-async');
  return answer.body;
}

import { describe, expect, it } from 'vitest';
import { toApiError } from './api-error';

describe('toApiError', () => {
  it("keeps the suite's error body: code, message and request id", async () => {
    const response = new Response(
      JSON.stringify({ error: 'forbidden', message: 'Missing permission write:keys', request_id: 'req-1' }),
      { status: 403, headers: { 'x-request-id': 'header-id' } },
    );
    const error = await toApiError(response);
    expect(error).toMatchObject({
      status: 403,
      code: 'forbidden',
      message: 'Missing permission write:keys',
      requestId: 'req-1',
    });
  });

  it('falls back to the status and the X-Request-Id header when the body is not ours', async () => {
    const response = new Response('<html>Bad Gateway</html>', {
      status: 502,
      statusText: 'Bad Gateway',
      headers: { 'x-request-id': 'header-id' },
    });
    const error = await toApiError(response);
    expect(error).toMatchObject({
      status: 502,
      code: 'unexpected_response',
      message: 'HTTP 502: Bad Gateway',
      requestId: 'header-id',
    });
  });
});

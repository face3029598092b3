import { ApiError, exitCodeForStatus } from './errors';
import { ExitCode } from './exit-codes';

describe('exit codes', () => {
  it('are distinct, one per outcome a pipeline branches on', () => {
    const codes = Object.values(ExitCode);
    expect(new Set(codes).size).toBe(codes.length);
    expect(ExitCode).toEqual({
      Ok: 0,
      FindingsOverThreshold: 1,
      Usage: 2,
      AuthRefused: 3,
      Unavailable: 4,
      Refused: 5,
      Unexpected: 6,
    });
  });

  it.each([
    [401, ExitCode.AuthRefused],
    [403, ExitCode.AuthRefused],
    [400, ExitCode.Refused],
    [404, ExitCode.Refused],
    [409, ExitCode.Refused],
    [413, ExitCode.Refused],
    [415, ExitCode.Refused],
    [422, ExitCode.Refused],
    [408, ExitCode.Unavailable],
    [429, ExitCode.Unavailable],
    [500, ExitCode.Unavailable],
    [502, ExitCode.Unavailable],
    [503, ExitCode.Unavailable],
    [504, ExitCode.Unavailable],
    [302, ExitCode.Unexpected],
  ])('HTTP %i → %i', (status, code) => {
    expect(exitCodeForStatus(status)).toBe(code);
  });
});

describe('ApiError', () => {
  it("says what failed with the server's message, code and request id", () => {
    const error = new ApiError(
      'upload of results.sarif',
      400,
      { error: 'invalid_sarif', message: 'runs[0].results: must be an array', request_id: 'req-1' },
      1,
    );
    expect(error.message).toBe(
      'upload of results.sarif failed: runs[0].results: must be an array (HTTP 400 invalid_sarif, request_id req-1)',
    );
    expect(error.exitCode).toBe(ExitCode.Refused);
  });

  it('adds what to do about a revoked key, and how many attempts were made', () => {
    const error = new ApiError(
      'authentication',
      401,
      { error: 'api_key_revoked', message: 'API key has been revoked', request_id: 'req-2' },
      2,
    );
    expect(error.message).toContain('authentication failed after 2 attempts: API key has been revoked');
    expect(error.message).toContain('the API key was revoked');
    expect(error.exitCode).toBe(ExitCode.AuthRefused);
  });

  it('copes with an answer that has no error body', () => {
    expect(new ApiError('listing API keys', 502, undefined).message).toBe(
      'listing API keys failed: HTTP 502 without an error body',
    );
  });
});

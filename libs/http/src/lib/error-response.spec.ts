import {
  BadRequestException,
  HttpException,
  InternalServerErrorException,
  NotFoundException,
  PayloadTooLargeException,
  UnsupportedMediaTypeException,
} from '@nestjs/common';
import {
  QueryFailedError,
  QueryRunnerAlreadyReleasedError,
  QueryRunnerProviderAlreadyReleasedError,
} from 'typeorm';
import { GatehouseError } from '@gatehouse/contracts';
import { toErrorResponse } from './error-response';

const REQUEST_ID = 'req-0123456789';

describe('toErrorResponse', () => {
  describe('GatehouseError', () => {
    it('maps to its own status, code and message with the request id', () => {
      const response = toErrorResponse(
        new GatehouseError('api_key_revoked', 'API key has been revoked'),
        REQUEST_ID,
      );
      expect(response).toEqual({
        status: 401,
        body: { error: 'api_key_revoked', message: 'API key has been revoked', request_id: REQUEST_ID },
        headers: { 'www-authenticate': 'ApiKey realm="gatehouse", header="X-API-Key", error="invalid_key"' },
        unexpected: false,
      });
    });

    it('gives every 401 its WWW-Authenticate challenge, and no other status one', () => {
      expect(
        toErrorResponse(new GatehouseError('missing_token', 'Send a token'), REQUEST_ID).headers,
      ).toEqual({ 'www-authenticate': 'Bearer realm="gatehouse"' });
      expect(toErrorResponse(new GatehouseError('token_expired', 'Expired'), REQUEST_ID).headers).toEqual({
        'www-authenticate': 'Bearer realm="gatehouse", error="invalid_token"',
      });
      expect(toErrorResponse(new GatehouseError('forbidden', 'No'), REQUEST_ID).headers).toEqual({});
      expect(toErrorResponse(new GatehouseError('not_found', 'No'), REQUEST_ID).headers).toEqual({});
    });

    it('challenges a disabled key as a key when the request presented one in X-API-Key, else as a token', () => {
      const error = new GatehouseError('api_key_disabled', 'Disabled');
      expect(
        toErrorResponse(error, REQUEST_ID, { 'x-api-key': 'gth_live_x' }).headers['www-authenticate'],
      ).toBe('ApiKey realm="gatehouse", header="X-API-Key", error="invalid_key"');
      expect(
        toErrorResponse(error, REQUEST_ID, { authorization: 'Bearer a.b.c' }).headers['www-authenticate'],
      ).toBe('Bearer realm="gatehouse", error="invalid_token"');
    });

    it.each([
      ['validation_failed', 400],
      ['forbidden', 403],
      ['api_key_not_found', 404],
      ['conflict', 409],
      ['internal_error', 500],
      ['service_unavailable', 503],
    ] as const)('gives %s the status %d', (code, status) => {
      const response = toErrorResponse(new GatehouseError(code, 'message'), REQUEST_ID);
      expect(response.status).toBe(status);
      expect(response.body.error).toBe(code);
    });

    it('passes details through', () => {
      const details = [{ field: 'name', problems: ['name must be a string'] }];
      const response = toErrorResponse(
        new GatehouseError('validation_failed', 'name: bad', details),
        REQUEST_ID,
      );
      expect(response.body.details).toEqual(details);
    });

    it('omits details when there are none', () => {
      const response = toErrorResponse(new GatehouseError('not_found', 'Nothing here'), REQUEST_ID);
      expect(response.body).not.toHaveProperty('details');
      expect(response.body).not.toHaveProperty('retry_after');
    });

    it('turns retryAfter of rate_limit_exceeded into body.retry_after and a retry-after header', () => {
      const response = toErrorResponse(
        new GatehouseError('rate_limit_exceeded', 'Too many requests', { retryAfter: 17 }),
        REQUEST_ID,
      );
      expect(response.status).toBe(429);
      expect(response.body).toEqual({
        error: 'rate_limit_exceeded',
        message: 'Too many requests',
        request_id: REQUEST_ID,
        retry_after: 17,
      });
      expect(response.headers).toEqual({ 'retry-after': '17' });
    });

    it('sets no retry-after for rate_limit_exceeded without details', () => {
      const response = toErrorResponse(new GatehouseError('rate_limit_exceeded', 'Too many'), REQUEST_ID);
      expect(response.headers).toEqual({});
      expect(response.body).not.toHaveProperty('retry_after');
    });
  });

  describe('Nest HttpException', () => {
    it('maps 413 to payload_too_large with the suite wording', () => {
      const response = toErrorResponse(new PayloadTooLargeException(), REQUEST_ID);
      expect(response.status).toBe(413);
      expect(response.body).toEqual({
        error: 'payload_too_large',
        message: 'Request body is larger than the limit',
        request_id: REQUEST_ID,
      });
      expect(response.unexpected).toBe(false);
    });

    it('maps 415 to unsupported_media_type', () => {
      const response = toErrorResponse(new UnsupportedMediaTypeException(), REQUEST_ID);
      expect(response.status).toBe(415);
      expect(response.body.error).toBe('unsupported_media_type');
      expect(response.body.message).toBe('Content-Type must be application/json');
    });

    it('maps 404 to not_found and keeps the message', () => {
      const response = toErrorResponse(new NotFoundException('Cannot GET /api/v1/nothing'), REQUEST_ID);
      expect(response.status).toBe(404);
      expect(response.body).toEqual({
        error: 'not_found',
        message: 'Cannot GET /api/v1/nothing',
        request_id: REQUEST_ID,
      });
      expect(response.unexpected).toBe(false);
    });

    it('maps 400 to bad_request and a plain string response to its message', () => {
      expect(toErrorResponse(new BadRequestException('bad thing'), REQUEST_ID).body).toMatchObject({
        error: 'bad_request',
        message: 'bad thing',
      });
      expect(toErrorResponse(new HttpException('plain text', 409), REQUEST_ID).body).toMatchObject({
        error: 'conflict',
        message: 'plain text',
      });
    });

    it('maps an unlisted 4xx status to bad_request', () => {
      const response = toErrorResponse(new HttpException('I am a teapot', 418), REQUEST_ID);
      expect(response.status).toBe(400);
      expect(response.body.error).toBe('bad_request');
    });

    it('maps a 5xx HttpException to internal_error without its message and flags it unexpected', () => {
      const response = toErrorResponse(
        new InternalServerErrorException('db password is hunter2'),
        REQUEST_ID,
      );
      expect(response.status).toBe(500);
      expect(response.body).toEqual({
        error: 'internal_error',
        message: 'Internal error',
        request_id: REQUEST_ID,
      });
      expect(response.unexpected).toBe(true);
    });
  });

  describe('unknown errors', () => {
    it('map to a 500 internal_error that does not leak the original message', () => {
      const response = toErrorResponse(
        new Error('connect ECONNREFUSED 10.0.0.5:5432 password=hunter2'),
        REQUEST_ID,
      );
      expect(response.status).toBe(500);
      expect(response.body).toEqual({
        error: 'internal_error',
        message: 'Internal error',
        request_id: REQUEST_ID,
      });
      expect(JSON.stringify(response.body)).not.toContain('hunter2');
      expect(JSON.stringify(response.body)).not.toContain('ECONNREFUSED');
      expect(response.unexpected).toBe(true);
      expect(response.headers).toEqual({});
    });

    it.each([undefined, null, 'a string', 42, { message: 'object with a message' }])(
      'map %p to internal_error',
      (thrown) => {
        const response = toErrorResponse(thrown, REQUEST_ID);
        expect(response.status).toBe(500);
        expect(response.body.error).toBe('internal_error');
        expect(response.body.message).toBe('Internal error');
        expect(response.unexpected).toBe(true);
      },
    );

    it('map Fastify body errors by their code', () => {
      const tooLarge = Object.assign(new Error('Request body is too large'), {
        code: 'FST_ERR_CTP_BODY_TOO_LARGE',
        statusCode: 413,
      });
      const badJson = Object.assign(new SyntaxError('Unexpected token } in JSON'), {
        code: 'FST_ERR_CTP_INVALID_JSON_BODY',
        statusCode: 400,
      });
      expect(toErrorResponse(tooLarge, REQUEST_ID)).toMatchObject({
        status: 413,
        body: { error: 'payload_too_large', message: 'Request body is larger than the limit' },
        unexpected: false,
      });
      expect(toErrorResponse(badJson, REQUEST_ID)).toMatchObject({
        status: 400,
        body: { error: 'malformed_json', message: 'Request body is not valid JSON' },
        unexpected: false,
      });
    });

    it('map a 400 SyntaxError to malformed_json', () => {
      const error = Object.assign(new SyntaxError('Unexpected end of JSON input'), { statusCode: 400 });
      expect(toErrorResponse(error, REQUEST_ID).body).toMatchObject({
        error: 'malformed_json',
        message: 'Request body is not valid JSON',
      });
    });
  });

  describe('an unreachable dependency', () => {
    it.each([
      [
        'a refused connection',
        Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }),
      ],
      [
        'a PostgreSQL shutdown inside a query error',
        Object.assign(new Error('terminating connection'), { driverError: { code: '57P01' } }),
      ],
      // node-postgres' own errors carry no SQLSTATE: the server said nothing, the socket just went away.
      ['a connection PostgreSQL dropped', new Error('Connection terminated unexpectedly')],
      ['a connect timeout', new Error('Connection terminated due to connection timeout')],
      ['an exhausted pool', new Error('timeout exceeded when trying to connect')],
      [
        'a client that already failed',
        new Error('Client has encountered a connection error and is not queryable'),
      ],
      ['a closed pool', new Error('Cannot use a pool after calling end on the pool')],
      [
        "TypeORM's QueryFailedError around a dropped connection",
        new QueryFailedError('SELECT 1', [], new Error('Connection terminated unexpectedly')),
      ],
      [
        "TypeORM's QueryFailedError around an admin shutdown",
        new QueryFailedError(
          'SELECT 1',
          [],
          Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }),
        ),
      ],
      ['a crash shutdown', Object.assign(new Error('x'), { code: '57P02' })],
      ['a server not accepting connections yet', Object.assign(new Error('x'), { code: '57P03' })],
      ['too many connections', Object.assign(new Error('x'), { code: '53300' })],
      ...['08000', '08003', '08006', '08001', '08004', '08007', '08P01'].map(
        (code) =>
          [`connection exception ${code}`, Object.assign(new Error('x'), { code })] as [string, Error],
      ),
      [
        'a dropped connection as the cause',
        new Error('lookup failed', { cause: new Error('Connection terminated') }),
      ],
      ['a broken pipe', Object.assign(new Error('write EPIPE'), { code: 'EPIPE' })],
      [
        'the next statement of a transaction whose connection TypeORM released',
        new QueryRunnerAlreadyReleasedError(),
      ],
      [
        'a transaction whose connection TypeORM released, queried through its EntityManager',
        new QueryRunnerProviderAlreadyReleasedError(),
      ],
    ])('maps %s to 503 service_unavailable without leaking the address', (_case, error) => {
      const response = toErrorResponse(error, REQUEST_ID);
      expect(response.status).toBe(503);
      expect(response.body.error).toBe('service_unavailable');
      expect(response.body.message).not.toContain('5432');
      expect(response.unexpected).toBe(true);
    });

    it.each([
      ['a unique violation', Object.assign(new Error('duplicate key'), { code: '23505' })],
      [
        'a syntax error in our SQL',
        new QueryFailedError('SELEC 1', [], Object.assign(new Error('x'), { code: '42601' })),
      ],
      ['a message that only contains the words', new Error('Connection terminated unexpectedly? no: a bug')],
    ])('keeps %s a 500', (_case, error) => {
      expect(toErrorResponse(error, REQUEST_ID).status).toBe(500);
    });
  });

  describe("Fastify's request errors", () => {
    it.each([
      ['FST_ERR_BAD_URL', 400, 'bad_request'],
      ['FST_ERR_INVALID_URL', 400, 'bad_request'],
      ['FST_ERR_MAX_PARAM_LENGTH', 414, 'uri_too_long'],
      ['FST_ERR_CTP_INVALID_CONTENT_LENGTH', 400, 'bad_request'],
      ['FST_ERR_NOT_FOUND', 404, 'not_found'],
      ['FST_ERR_ROUTE_MISSING_CONTENT_TYPE', 415, 'unsupported_media_type'],
      ['FST_ERR_ROUTE_MISSING_CONTENT', 400, 'bad_request'],
    ] as const)('maps %s to %d %s without quoting the request', (fastifyCode, status, code) => {
      const error = Object.assign(new Error(`'/api/v1/x?access_token=secret' is not a valid url component`), {
        code: fastifyCode,
        statusCode: status,
      });
      const response = toErrorResponse(error, REQUEST_ID);
      expect(response.status).toBe(status);
      expect(response.body).toEqual({ error: code, message: expect.any(String), request_id: REQUEST_ID });
      expect(response.body.message).not.toContain('secret');
      expect(response.unexpected).toBe(false);
    });

    it('maps 408, 414 and 431 HttpExceptions to their own codes', () => {
      expect(toErrorResponse(new HttpException('x', 408), REQUEST_ID).body.error).toBe('request_timeout');
      expect(toErrorResponse(new HttpException('x', 414), REQUEST_ID).body.error).toBe('uri_too_long');
      expect(toErrorResponse(new HttpException('x', 431), REQUEST_ID).body.error).toBe(
        'request_header_too_large',
      );
    });
  });
});

describe('a transaction that lost to a concurrent one', () => {
  it.each(['40P01', '40001'])(
    'answers SQLSTATE %s as 409 conflict, to retry, and not as our failure',
    (code) => {
      const lost = Object.assign(new Error('deadlock detected'), { driverError: { code } });
      const response = toErrorResponse(lost, 'req-1');
      expect(response.status).toBe(409);
      expect(response.body).toEqual({
        error: 'conflict',
        message: 'This change collided with a concurrent change of the same keys; retry it',
        request_id: 'req-1',
      });
      expect(response.unexpected).toBe(false);
    },
  );
});

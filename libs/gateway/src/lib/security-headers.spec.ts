import helmet from '@fastify/helmet';
import Fastify, { type FastifyInstance } from 'fastify';
import { registerSecurityHeaders, SECURITY_HEADERS, SECURITY_HEADERS_OPTIONS } from './security-headers';

async function headersOf(
  register: (fastify: FastifyInstance) => Promise<void>,
): Promise<Record<string, unknown>> {
  const fastify = Fastify();
  await register(fastify);
  fastify.get('/', async () => ({ ok: true }));
  const response = await fastify.inject({ method: 'GET', url: '/' });
  await fastify.close();
  const {
    'content-type': _type,
    'content-length': _length,
    date: _date,
    connection: _connection,
    ...security
  } = response.headers;
  return security;
}

describe('SECURITY_HEADERS', () => {
  it('is exactly what the hook gives every response, and what answers written without it carry', async () => {
    expect(await headersOf(async (fastify) => registerSecurityHeaders(fastify))).toEqual(SECURITY_HEADERS);
  });

  it("is helmet's set for SECURITY_HEADERS_OPTIONS, plus Cache-Control: no-store", async () => {
    const helmets = await headersOf(async (fastify) => {
      await fastify.register(helmet, { ...SECURITY_HEADERS_OPTIONS, global: true });
    });
    expect({ ...helmets, 'cache-control': 'no-store' }).toEqual(SECURITY_HEADERS);
  });

  it("leaves a route's own header in place of the default", async () => {
    const fastify = Fastify();
    registerSecurityHeaders(fastify);
    fastify.get('/', async (_request, reply) => {
      void reply.header('cache-control', 'public, max-age=300');
      return {};
    });
    const response = await fastify.inject({ method: 'GET', url: '/' });
    await fastify.close();
    expect(response.headers['cache-control']).toBe('public, max-age=300');
    expect(response.headers['x-frame-options']).toBe('DENY');
  });
});

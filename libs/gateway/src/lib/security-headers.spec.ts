import Fastify from 'fastify';
import { registerSecurityHeaders, SECURITY_HEADERS } from './security-headers';

describe('SECURITY_HEADERS', () => {
  it('is exactly what the hooks give every response, for the answers written without them', async () => {
    const fastify = Fastify();
    await registerSecurityHeaders(fastify);
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
    expect(security).toEqual(SECURITY_HEADERS);
  });
});

import {
  clientResponseHeaders,
  forwardedRequestHeaders,
  HOP_BY_HOP_HEADERS,
  stripHopByHopHeaders,
} from './forwarding-headers';

const request = { id: 'gateway-id-123', ip: '198.51.100.7', protocol: 'https' };

describe('stripHopByHopHeaders', () => {
  it('removes every hop-by-hop header and those Connection names, case-insensitively, and keeps the rest', () => {
    const headers: Record<string, unknown> = {
      connection: 'keep-alive, X-Custom-Hop ,x-other-hop',
      'keep-alive': 'timeout=5',
      'proxy-authenticate': 'Basic',
      'proxy-authorization': 'Basic Zm9vOmJhcg==',
      'proxy-connection': 'keep-alive',
      te: 'trailers',
      trailer: 'x-checksum',
      'transfer-encoding': 'chunked',
      upgrade: 'websocket',
      'x-custom-hop': '1',
      'x-other-hop': '2',
      'content-type': 'application/json',
      authorization: 'Bearer token',
    };
    expect(stripHopByHopHeaders(headers)).toEqual({
      'content-type': 'application/json',
      authorization: 'Bearer token',
    });
  });

  it('lists the RFC 9110 hop-by-hop headers', () => {
    expect(HOP_BY_HOP_HEADERS).toEqual(
      expect.arrayContaining([
        'connection',
        'keep-alive',
        'proxy-authenticate',
        'proxy-authorization',
        'te',
        'trailer',
        'transfer-encoding',
        'upgrade',
      ]),
    );
  });
});

describe('forwardedRequestHeaders', () => {
  it("replaces the client's forwarding headers and request id with the gateway's", () => {
    const forwarded = forwardedRequestHeaders(request, {
      'x-forwarded-for': '10.0.0.1, 203.0.113.9',
      'x-forwarded-proto': 'http',
      'x-forwarded-host': 'evil.example',
      'x-forwarded-port': '1',
      'x-forwarded-prefix': '/admin',
      'x-real-ip': '10.0.0.1',
      forwarded: 'for=10.0.0.1',
      'x-request-id': 'client-chosen-id',
      'content-type': 'application/json',
    });
    expect(forwarded).toEqual({
      'x-forwarded-for': '198.51.100.7',
      'x-forwarded-proto': 'https',
      'x-request-id': 'gateway-id-123',
      'content-type': 'application/json',
    });
  });

  it('drops hop-by-hop headers and leaves the given object alone', () => {
    const given = { 'keep-alive': 'timeout=5', upgrade: 'h2c', te: 'trailers', accept: 'application/json' };
    const forwarded = forwardedRequestHeaders(request, given);
    expect(forwarded).not.toHaveProperty('keep-alive');
    expect(forwarded).not.toHaveProperty('upgrade');
    expect(forwarded).not.toHaveProperty('te');
    expect(forwarded['accept']).toBe('application/json');
    expect(given).toHaveProperty('upgrade', 'h2c');
  });

  it('drops Expect, which the gateway answered itself and undici would refuse to send (a 502)', () => {
    const forwarded = forwardedRequestHeaders(request, {
      expect: '100-continue',
      accept: 'application/json',
    });
    expect(forwarded).not.toHaveProperty('expect');
    expect(forwarded['accept']).toBe('application/json');
  });

  it("drops the client's trace context: the tracing of the upstream request writes the gateway's own", () => {
    const forwarded = forwardedRequestHeaders(request, {
      traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      tracestate: 'vendor=opaque',
      baggage: 'user=someone',
      accept: 'application/json',
    });
    expect(forwarded).not.toHaveProperty('traceparent');
    expect(forwarded).not.toHaveProperty('tracestate');
    expect(forwarded).not.toHaveProperty('baggage');
    expect(forwarded['accept']).toBe('application/json');
  });
});

describe('clientResponseHeaders', () => {
  it("drops hop-by-hop headers, banners and the upstream's CORS headers", () => {
    expect(
      clientResponseHeaders({
        connection: 'keep-alive, x-hop',
        'keep-alive': 'timeout=72',
        'x-hop': '1',
        'proxy-authenticate': 'Basic',
        server: 'nginx/1.0',
        'x-powered-by': 'Express',
        'access-control-allow-origin': '*',
        'access-control-allow-credentials': 'true',
        'content-type': 'application/json',
        'cache-control': 'public, max-age=300',
        'x-request-id': 'gateway-id-123',
      }),
    ).toEqual({
      'content-type': 'application/json',
      'cache-control': 'public, max-age=300',
      'x-request-id': 'gateway-id-123',
    });
  });
});

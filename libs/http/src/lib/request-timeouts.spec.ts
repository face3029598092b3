import { requestTimeouts } from './request-timeouts';

describe('requestTimeouts', () => {
  it('gives headers at most 10 s of the request timeout, and checks every second', () => {
    expect(requestTimeouts(30_000)).toEqual({
      requestTimeout: 30_000,
      headersTimeout: 10_000,
      connectionsCheckingInterval: 1000,
    });
  });

  it('never gives headers longer than the whole request (Node refuses headersTimeout > requestTimeout)', () => {
    expect(requestTimeouts(2000)).toEqual({
      requestTimeout: 2000,
      headersTimeout: 2000,
      connectionsCheckingInterval: 1000,
    });
    expect(requestTimeouts(1000).connectionsCheckingInterval).toBe(1000);
  });
});

import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  SignJWT,
  type CryptoKey,
  type JWK,
  type JWTPayload,
} from 'jose';

export type OidcTestAlgorithm = 'RS256' | 'RS384' | 'RS512' | 'ES256' | 'ES384' | 'PS256';

export interface OidcIssuerOptions {
  algorithm?: OidcTestAlgorithm;
  /** `aud` of minted tokens unless a claim overrides it. */
  audience?: string;
  /** Lifetime of minted tokens unless `exp` is given, in seconds. */
  ttlSeconds?: number;
}

export interface SignOptions {
  /** Header `kid`; the published key's id unless given (a forgery may borrow it). */
  kid?: string;
}

/** Claims of a minted token; a claim set to `undefined` is left out of the token. */
export type TestClaims = Record<string, unknown>;

export interface OidcIssuer {
  /** `iss` of minted tokens: the server's base URL. */
  issuer: string;
  jwksUrl: string;
  audience: string;
  algorithm: OidcTestAlgorithm;
  /** `kid` of the published key. */
  kid: string;
  /** How many times the JWKS was served. */
  readonly jwksRequests: number;
  /**
   * A token signed with this issuer's private key. Defaults: `iss`, `aud`, `iat` now, `exp` in `ttlSeconds`,
   * a random `jti`; `claims` override them (`undefined` removes one).
   */
  sign(claims: TestClaims, options?: SignOptions): Promise<string>;
  close(): Promise<void>;
}

/**
 * A stand-in for an organization's identity provider: a real HTTP server on 127.0.0.1 publishing the JWKS of a
 * freshly generated key pair (and a minimal discovery document), and a signer for user tokens. Services under
 * test fetch this JWKS exactly as they would a real provider's.
 */
export async function startOidcIssuer(options: OidcIssuerOptions = {}): Promise<OidcIssuer> {
  const algorithm = options.algorithm ?? 'RS256';
  const { publicKey, privateKey } = await generateKeyPair(algorithm, { extractable: true });
  const publicJwk: JWK = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  const jwks = JSON.stringify({ keys: [{ ...publicJwk, kid, alg: algorithm, use: 'sig' }] });
  let jwksRequests = 0;
  let issuer = '';

  const server: Server = createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    if (request.method === 'GET' && path === '/.well-known/jwks.json') {
      jwksRequests += 1;
      response.writeHead(200, { 'content-type': 'application/json' }).end(jwks);
    } else if (request.method === 'GET' && path === '/.well-known/openid-configuration') {
      response
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ issuer, jwks_uri: `${issuer}/.well-known/jwks.json` }));
    } else {
      response.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not_found"}');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const audience = options.audience ?? 'gatehouse-dashboard';
  const ttlSeconds = options.ttlSeconds ?? 300;

  return {
    issuer,
    jwksUrl: `${issuer}/.well-known/jwks.json`,
    audience,
    algorithm,
    kid,
    get jwksRequests() {
      return jwksRequests;
    },
    sign: (claims, signOptions = {}) =>
      signToken(privateKey, algorithm, signOptions.kid ?? kid, {
        iss: issuer,
        aud: audience,
        iat: Math.floor(Date.now() / 1000),
        exp: Math.floor(Date.now() / 1000) + ttlSeconds,
        jti: randomUUID(),
        ...claims,
      }),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        // Keep-alive connections of the services under test would otherwise hold the server open.
        server.closeAllConnections();
      }),
  };
}

function signToken(key: CryptoKey, algorithm: string, kid: string, claims: TestClaims): Promise<string> {
  const payload = Object.fromEntries(
    Object.entries(claims).filter(([, value]) => value !== undefined),
  ) as JWTPayload;
  return new SignJWT(payload).setProtectedHeader({ alg: algorithm, kid, typ: 'JWT' }).sign(key);
}

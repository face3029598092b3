import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider, { errors, type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import { refuseInProduction } from './dev-identity.errors';
import { DevIdentityStorage } from './dev-identity-adapter';
import { generateDevIdentityKeys, type DevIdentityKeys } from './dev-identity-keys';
import type { DevUserStore } from './dev-user-store';
import { renderLoginPage, renderLogoutPage, renderMessagePage } from './login-page';

/** The dashboard's client at the provider: public, PKCE, code flow. */
export const DEV_IDENTITY_CLIENT_ID = 'gatehouse-dashboard';
const SCOPES = ['openid', 'profile', 'email', 'offline_access'];
const MAX_FORM_BYTES = 4096;
const ACCESS_TOKEN_TTL_SECONDS = 15 * 60;

export type DevIdentityLog = (
  level: 'info' | 'warn',
  message: string,
  fields?: Record<string, unknown>,
) => void;

export interface DevIdentityOptions {
  /** Address to listen on (127.0.0.1 unless given). */
  host?: string;
  /** 0 for a free port. */
  port: number;
  /** The issuer URL; `http://<host>:<port>` unless given (give it when listening on every address). */
  issuer?: string;
  /** Where the dashboard is reached, e.g. `http://127.0.0.1:8080`: its `/callback` and `/` are allowed. */
  dashboardOrigins: string[];
  /** `aud` of access tokens: admin-api's OIDC_AUDIENCE, an absolute URI (`urn:…` will do). */
  audience: string;
  users: DevUserStore;
  /** Persist them (loadOrCreateDevIdentityKeys) for tokens and sessions to outlive a restart; fresh ones otherwise. */
  keys?: DevIdentityKeys;
  /** A JSON file for its sessions, grants and refresh tokens (owner-only); memory unless given. */
  storagePath?: string;
  log?: DevIdentityLog;
  /** NODE_ENV is read from here (process.env unless given). */
  env?: NodeJS.ProcessEnv;
}

export interface DevIdentityProvider {
  issuer: string;
  jwksUrl: string;
  audience: string;
  clientId: string;
  port: number;
  close(): Promise<void>;
}

const defaultLog: DevIdentityLog = (level, message, fields) =>
  process.stderr.write(`${level.toUpperCase()}: ${message}${fields ? ` ${JSON.stringify(fields)}` : ''}\n`);

async function readForm(request: IncomingMessage): Promise<URLSearchParams> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_FORM_BYTES) throw new errors.InvalidRequest('form too large');
    chunks.push(chunk as Buffer);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function sendHtml(response: ServerResponse, status: number, html: string, formAction: string): void {
  response
    .writeHead(status, {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      // The form posts here, and the provider then redirects the browser to the dashboard: both are form targets.
      'content-security-policy': `default-src 'none'; form-action ${formAction}; frame-ancestors 'none'; base-uri 'none'`,
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
    })
    .end(html);
}

/**
 * An OpenID Connect provider for development (panva's oidc-provider): its users are Gatehouse organization
 * members with a password, and its access tokens are RS256 JWTs that admin-api's user-token verifier accepts as
 * they are — `iss` the issuer, `aud` the audience, `sub` the user's id, `org` the organization's name, `role` the
 * role. The dashboard signs in with it as with any provider. Refuses to start with NODE_ENV=production.
 */
export async function startDevIdentityProvider(options: DevIdentityOptions): Promise<DevIdentityProvider> {
  refuseInProduction(options.env ?? process.env);
  const log = options.log ?? defaultLog;
  const host = options.host ?? '127.0.0.1';
  const { users, audience } = options;
  const keys = options.keys ?? generateDevIdentityKeys();

  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  const issuer = (options.issuer ?? `http://${urlHost}:${port}`).replace(/\/$/, '');
  const origins = options.dashboardOrigins.map((origin) => new URL(origin).origin);

  const configuration: Configuration = {
    adapter: new DevIdentityStorage(options.storagePath).adapter(),
    clients: [
      {
        client_id: DEV_IDENTITY_CLIENT_ID,
        client_name: 'Gatehouse dashboard',
        token_endpoint_auth_method: 'none',
        application_type: 'web',
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        redirect_uris: origins.map((origin) => `${origin}/callback`),
        post_logout_redirect_uris: origins.map((origin) => `${origin}/`),
      },
    ],
    jwks: { keys: [keys.signingKey] },
    cookies: { keys: keys.cookieKeys },
    scopes: SCOPES,
    claims: {
      openid: ['sub'],
      profile: ['preferred_username', 'org', 'role'],
      email: [],
    },
    // Public clients must use PKCE (S256, the only method oidc-provider 9 knows).
    pkce: { required: () => true },
    clientBasedCORS: (_ctx, origin, client) =>
      client.redirectUris?.some((uri) => new URL(uri).origin === origin) ?? false,
    ttl: {
      AccessToken: ACCESS_TOKEN_TTL_SECONDS,
      AuthorizationCode: 60,
      IdToken: 3600,
      Interaction: 3600,
      Session: 14 * 24 * 3600,
      Grant: 14 * 24 * 3600,
      RefreshToken: 14 * 24 * 3600,
    },
    features: {
      devInteractions: { enabled: false },
      rpInitiatedLogout: {
        enabled: true,
        // Its own page, with the banner; oidc-provider's default fetches a web font from Google.
        logoutSource: (ctx, form) => {
          ctx.type = 'html';
          ctx.body = renderLogoutPage(form);
        },
      },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => audience,
        // The access token is for the API even though the request asks for openid (which would mean userinfo).
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, resourceIndicator) => {
          if (resourceIndicator !== audience) throw new errors.InvalidTarget();
          return {
            scope: SCOPES.join(' '),
            audience,
            accessTokenTTL: ACCESS_TOKEN_TTL_SECONDS,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'RS256' } },
          };
        },
      },
    },
    // The dashboard renews with a refresh token whether or not it asked for offline_access.
    issueRefreshToken: (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    findAccount: async (_ctx, id) => {
      const user = await users.findById(id);
      if (!user) return undefined;
      return {
        accountId: user.id,
        claims: () => ({ sub: user.id, preferred_username: user.username, org: user.org, role: user.role }),
      };
    },
    extraTokenClaims: async (_ctx, token) => {
      if (token.kind !== 'AccessToken' || !token.accountId) return undefined;
      const user = await users.findById(token.accountId);
      return user ? { org: user.org, role: user.role } : undefined;
    },
    // First-party client: the user is never asked to consent, every scope asked for is granted.
    loadExistingGrant: async (ctx: KoaContextWithOIDC) => {
      const { client, session } = ctx.oidc;
      if (!client || !session?.accountId) return undefined;
      const grantId = ctx.oidc.result?.['consent']?.grantId ?? session.grantIdFor(client.clientId);
      const grant =
        (grantId ? await ctx.oidc.provider.Grant.find(grantId) : undefined) ??
        new ctx.oidc.provider.Grant({ clientId: client.clientId, accountId: session.accountId });
      grant.addOIDCScope([...ctx.oidc.requestParamOIDCScopes].join(' '));
      grant.addResourceScope(audience, [...ctx.oidc.requestParamScopes].join(' '));
      await grant.save();
      return grant;
    },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    renderError: (ctx, out) => {
      ctx.type = 'html';
      ctx.body = renderMessagePage('Sign-in failed', `${out.error}: ${out.error_description ?? ''}`);
    },
  };

  const provider = new Provider(issuer, configuration);
  const formAction = ["'self'", ...origins].join(' ');
  const handleOidc = provider.callback();

  const interaction = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const details = await provider.interactionDetails(request, response);
    const action = `/interaction/${details.uid}`;
    const clientName = 'the Gatehouse dashboard';
    if (details.prompt.name !== 'login') {
      // Consent is granted in loadExistingGrant; any other prompt finishes as is.
      await provider.interactionFinished(request, response, {}, { mergeWithLastSubmission: true });
      return;
    }
    if (request.method === 'GET') {
      sendHtml(response, 200, renderLoginPage({ action, clientName }), formAction);
      return;
    }
    const form = await readForm(request);
    const username = form.get('username') ?? '';
    const user = await users.verify(username, form.get('password') ?? '');
    if (!user) {
      sendHtml(
        response,
        401,
        renderLoginPage({ action, clientName, username, error: 'Wrong username or password.' }),
        formAction,
      );
      return;
    }
    await provider.interactionFinished(
      request,
      response,
      { login: { accountId: user.id } },
      { mergeWithLastSubmission: false },
    );
  };

  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    const path = (request.url ?? '').split('?')[0] ?? '';
    // Browsers ask every origin for an icon; a 404 would be a console error on each of the provider's pages.
    if (path === '/favicon.ico') {
      response.writeHead(204, { 'cache-control': 'max-age=86400' }).end();
      return;
    }
    if (/^\/interaction\/[\w-]+$/.test(path) && (request.method === 'GET' || request.method === 'POST')) {
      interaction(request, response).catch((error: unknown) => {
        // An expired or unknown interaction (its cookie is gone): start over from the dashboard.
        const message = error instanceof Error ? error.message : String(error);
        if (!response.headersSent) {
          sendHtml(
            response,
            400,
            renderMessagePage('Sign-in failed', `${message}. Start again from the dashboard.`),
            formAction,
          );
        }
      });
      return;
    }
    void handleOidc(request, response);
  });

  log(
    'warn',
    `DEVELOPMENT IDENTITY PROVIDER ON at ${issuer}: anyone with a password from its users file signs in; never use it in production`,
    {
      issuer,
      client_id: DEV_IDENTITY_CLIENT_ID,
    },
  );

  return {
    issuer,
    jwksUrl: `${issuer}/jwks`,
    audience,
    clientId: DEV_IDENTITY_CLIENT_ID,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

import { InMemoryWebStorage, UserManager, WebStorageStateStore, type User } from 'oidc-client-ts';
import type { SignInSettings } from './dashboard-config';

export const CALLBACK_PATH = '/callback';

/** The part of oidc-client-ts's UserManager the dashboard uses (tests give a fake). */
export interface AuthClient {
  getUser(): Promise<User | null>;
  /** state comes back on the user after the redirect: the dashboard keeps the page asked for in it. */
  signinRedirect(args?: { state?: unknown }): Promise<void>;
  signinRedirectCallback(): Promise<User>;
  signoutRedirect(): Promise<void>;
  removeUser(): Promise<void>;
  events: UserManager['events'];
  /** The provider's discovery document, fetched once (`settings.metadata` holds only metadata given up front). */
  metadataService: { getEndSessionEndpoint(): Promise<string | undefined> };
}

/**
 * Authorization code with PKCE against the organization's identity provider, as a public client. Tokens are kept in
 * memory only (a reload signs in again, silently at the provider when its session lives); only the PKCE verifier
 * and state of a redirect in flight go to sessionStorage, as oidc-client-ts needs them after the redirect.
 * Renewal uses the refresh token when the provider gives one. There is no hidden-frame renewal: the dashboard's
 * CSP (frame-ancestors 'none') forbids framing its own pages, so without a refresh token the user signs in again
 * when the access token expires.
 */
export function createAuthClient(settings: SignInSettings, origin: string): AuthClient {
  return new UserManager({
    authority: settings.issuer,
    client_id: settings.clientId,
    scope: settings.scope,
    response_type: 'code',
    redirect_uri: `${origin}${CALLBACK_PATH}`,
    post_logout_redirect_uri: `${origin}/`,
    automaticSilentRenew: true,
    userStore: new WebStorageStateStore({ store: new InMemoryWebStorage() }),
  });
}

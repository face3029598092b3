import { createHash, randomBytes } from 'node:crypto';

export interface BrowserSignInOptions {
  issuer: string;
  clientId: string;
  /** The dashboard's `<origin>/callback`. */
  redirectUri: string;
  username: string;
  password: string;
  scope?: string;
}

export type BrowserSignInResult =
  | {
      signedIn: true;
      accessToken: string;
      idToken: string;
      refreshToken: string | undefined;
      /** The login form as first served (its labels are what a person and Playwright read). */
      loginPage: string;
    }
  | { signedIn: false; status: number; loginPage: string; answer: string };

/** The cookies a browser would send back: one host, so paths and domains are not told apart. */
class CookieJar {
  private readonly cookies = new Map<string, string>();

  take(response: Response): void {
    for (const header of response.headers.getSetCookie()) {
      const [pair = ''] = header.split(';');
      const separator = pair.indexOf('=');
      this.cookies.set(pair.slice(0, separator).trim(), pair.slice(separator + 1).trim());
    }
  }

  header(): string {
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }
}

/**
 * What the dashboard and a person at the browser do, with fetch and a cookie jar: discovery, the authorization
 * request with PKCE (S256), the provider's login form posted with the username and password, the redirect back
 * with a code, and the code exchanged at the token endpoint. A refused login ends there, with the page served.
 */
export async function signInLikeABrowser(options: BrowserSignInOptions): Promise<BrowserSignInResult> {
  const jar = new CookieJar();
  const get = async (url: string, init: RequestInit = {}) => {
    const response = await fetch(url, {
      ...init,
      redirect: 'manual',
      headers: { ...(init.headers as Record<string, string>), cookie: jar.header() },
    });
    jar.take(response);
    return response;
  };
  const follow = (response: Response, base: string) => {
    const location = response.headers.get('location');
    if (response.status < 300 || response.status > 399 || !location) {
      throw new Error(`expected a redirect from ${base}, got ${response.status}`);
    }
    return new URL(location, base).toString();
  };

  const discovery = (await (await fetch(`${options.issuer}/.well-known/openid-configuration`)).json()) as {
    authorization_endpoint: string;
    token_endpoint: string;
  };
  const verifier = randomBytes(32).toString('base64url');
  const state = randomBytes(16).toString('base64url');
  const authorize = new URL(discovery.authorization_endpoint);
  authorize.search = new URLSearchParams({
    client_id: options.clientId,
    redirect_uri: options.redirectUri,
    response_type: 'code',
    scope: options.scope ?? 'openid profile email',
    state,
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
  }).toString();

  const interactionUrl = follow(await get(authorize.toString()), authorize.toString());
  const form = await get(interactionUrl);
  const loginPage = await form.text();
  if (form.status !== 200) throw new Error(`the login page answered ${form.status}: ${loginPage}`);
  const posted = await get(interactionUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ username: options.username, password: options.password }).toString(),
  });
  if (posted.status < 300 || posted.status > 399) {
    return { signedIn: false, status: posted.status, loginPage, answer: await posted.text() };
  }
  // The provider resumes the authorization request, then sends the browser back to the dashboard with a code.
  let next = follow(posted, interactionUrl);
  while (!next.startsWith(options.redirectUri)) next = follow(await get(next), next);
  const callback = new URL(next);
  if (callback.searchParams.get('state') !== state) throw new Error(`state mismatch in ${next}`);
  const code = callback.searchParams.get('code');
  if (!code) throw new Error(`no code in ${next}`);

  const token = await fetch(discovery.token_endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code,
      redirect_uri: options.redirectUri,
      client_id: options.clientId,
      code_verifier: verifier,
    }).toString(),
  });
  const tokens = (await token.json()) as Record<string, string | undefined>;
  if (token.status !== 200 || !tokens['access_token'] || !tokens['id_token']) {
    throw new Error(`the token endpoint answered ${token.status}: ${JSON.stringify(tokens)}`);
  }
  return {
    signedIn: true,
    accessToken: tokens['access_token'],
    idToken: tokens['id_token'],
    refreshToken: tokens['refresh_token'],
    loginPage,
  };
}

/** What the gateway says at /dashboard/config.json (DASHBOARD_OIDC_*): one build serves every environment. */
export interface SignInSettings {
  issuer: string;
  clientId: string;
  scope: string;
}

interface ConfigBody {
  issuer: string | null;
  client_id: string | null;
  scope: string | null;
}

/** Null when the gateway has no issuer configured: the dashboard then says sign-in is not set up. */
export async function loadSignInSettings(
  fetchImpl: (path: string) => Promise<Response> = (path) => fetch(path),
): Promise<SignInSettings | null> {
  const response = await fetchImpl('/dashboard/config.json');
  if (!response.ok) throw new Error(`/dashboard/config.json answered HTTP ${response.status}`);
  const body = (await response.json()) as ConfigBody;
  if (!body.issuer || !body.client_id) return null;
  return { issuer: body.issuer, clientId: body.client_id, scope: body.scope ?? 'openid' };
}

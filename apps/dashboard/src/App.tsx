import { useCallback, useMemo, useState } from 'react';
import { BrowserRouter } from 'react-router';
import { ApiClient } from './api/api-client';
import type { AuthClient } from './auth/session';
import { signOut, useSession, type Place } from './auth/useSession';
import { Dashboard } from './Dashboard';

function Header({ children }: { children?: React.ReactNode }) {
  return (
    <header className="top">
      <span className="brand">Gatehouse</span>
      {children}
    </header>
  );
}

/** Before the gateway is given DASHBOARD_OIDC_ISSUER and DASHBOARD_OIDC_CLIENT_ID. */
export function SignInNotConfigured() {
  return (
    <>
      <Header />
      <main>
        <h1>Sign-in is not configured</h1>
        <p>
          The gateway has no identity provider for the dashboard yet. Set DASHBOARD_OIDC_ISSUER and
          DASHBOARD_OIDC_CLIENT_ID on the gateway (see docs/DASHBOARD.md).
        </p>
      </main>
    </>
  );
}

export function App({ auth, place }: { auth: AuthClient; place: Place }) {
  const session = useSession(auth, place);
  const [actionError, setActionError] = useState<string | null>(null);
  const accessToken = session.kind === 'signed-in' ? session.user.access_token : null;
  const token = useCallback(() => accessToken, [accessToken]);
  const api = useMemo(() => new ApiClient(token), [token]);

  const run = (action: () => Promise<void>) => {
    setActionError(null);
    action().catch((error: unknown) =>
      setActionError(error instanceof Error ? error.message : String(error)),
    );
  };
  const signInButton = (
    <button type="button" onClick={() => run(() => auth.signinRedirect({ state: place.here() }))}>
      Sign in
    </button>
  );

  switch (session.kind) {
    case 'starting':
      return (
        <>
          <Header />
          <main>
            <p role="status">Signing in…</p>
          </main>
        </>
      );
    case 'failed':
      return (
        <>
          <Header />
          <main>
            <h1>Sign-in failed</h1>
            <div role="alert" className="error">
              <p>{session.message}</p>
            </div>
            {signInButton}
          </main>
        </>
      );
    case 'signed-out':
      return (
        <>
          <Header />
          <main>
            <h1>Sign in to Gatehouse</h1>
            {session.reason && (
              <div role="alert" className="error">
                <p>{session.reason}</p>
              </div>
            )}
            {actionError && (
              <div role="alert" className="error">
                <p>{actionError}</p>
              </div>
            )}
            <p>Sign in with your organization&apos;s identity provider to manage its API keys.</p>
            {signInButton}
          </main>
        </>
      );
    case 'signed-in': {
      const profile = session.user.profile;
      const name = profile.name ?? profile.preferred_username ?? profile.email ?? profile.sub;
      return (
        <>
          <Header>
            <span className="user">Signed in as {name}</span>
            <button type="button" onClick={() => run(() => signOut(auth))}>
              Sign out
            </button>
          </Header>
          <main>
            {actionError && (
              <div role="alert" className="error">
                <p>{actionError}</p>
              </div>
            )}
            <BrowserRouter>
              <Dashboard api={api} />
            </BrowserRouter>
          </main>
        </>
      );
    }
  }
}

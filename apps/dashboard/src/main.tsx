import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App, SignInNotConfigured } from './App';
import { loadSignInSettings } from './auth/dashboard-config';
import { createAuthClient } from './auth/session';
import type { Place } from './auth/useSession';
import './styles.css';

const container = document.getElementById('root');
if (!container) throw new Error('index.html has no #root element');
const root = createRoot(container);

const place: Place = {
  path: window.location.pathname,
  here: () => `${window.location.pathname}${window.location.search}`,
  replace: (path) => window.history.replaceState(null, '', path),
};

loadSignInSettings().then(
  (settings) =>
    root.render(
      <StrictMode>
        {settings ? (
          <App auth={createAuthClient(settings, window.location.origin)} place={place} />
        ) : (
          <SignInNotConfigured />
        )}
      </StrictMode>,
    ),
  (error: unknown) =>
    root.render(
      <main>
        <h1>The dashboard could not start</h1>
        <p role="alert">{error instanceof Error ? error.message : String(error)}</p>
      </main>,
    ),
);

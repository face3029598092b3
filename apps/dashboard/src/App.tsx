import { useMemo } from 'react';
import { ApiClient, type TokenSource } from './api/api-client';
import { ApiKeysPage } from './pages/ApiKeysPage';

export function App({ token }: { token: TokenSource }) {
  const api = useMemo(() => new ApiClient(token), [token]);
  return (
    <>
      <header className="top">
        <span className="brand">Gatehouse</span>
      </header>
      <main>
        <ApiKeysPage api={api} />
      </main>
    </>
  );
}

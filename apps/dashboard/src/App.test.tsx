import { cleanup, fireEvent, render, screen } from '@testing-library/react';
import type { User } from 'oidc-client-ts';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { App } from './App';
import type { AuthClient } from './auth/session';
import type { Place } from './auth/useSession';
import { user } from './test-support';

type Listener = (...args: never[]) => void;

/** A stand-in for oidc-client-ts's UserManager, whose events the test fires. */
function fakeAuth(user: User | null, endSession?: string) {
  const listeners: Record<string, Listener[]> = {};
  const on = (name: string) => (listener: Listener) => {
    (listeners[name] ??= []).push(listener);
    return () => undefined;
  };
  const off = (name: string) => (listener: Listener) => {
    listeners[name] = (listeners[name] ?? []).filter((known) => known !== listener);
  };
  const fire = (name: string, ...args: unknown[]) =>
    (listeners[name] ?? []).forEach((listener) => (listener as (...values: unknown[]) => void)(...args));
  const auth = {
    getUser: vi.fn(() => Promise.resolve(user)),
    signinRedirect: vi.fn(() => Promise.resolve()),
    signinRedirectCallback: vi.fn(() => Promise.resolve(user as User)),
    signoutRedirect: vi.fn(() => Promise.resolve()),
    removeUser: vi.fn(() => {
      fire('userUnloaded');
      return Promise.resolve();
    }),
    metadataService: { getEndSessionEndpoint: () => Promise.resolve(endSession) },
    events: {
      addUserLoaded: on('userLoaded'),
      removeUserLoaded: off('userLoaded'),
      addUserUnloaded: on('userUnloaded'),
      removeUserUnloaded: off('userUnloaded'),
      addAccessTokenExpired: on('accessTokenExpired'),
      removeAccessTokenExpired: off('accessTokenExpired'),
      addSilentRenewError: on('silentRenewError'),
      removeSilentRenewError: off('silentRenewError'),
    },
  };
  return { auth: auth as unknown as AuthClient, mock: auth, fire };
}

const ada = {
  access_token: 'user-token',
  expired: false,
  profile: { sub: 'u-1', name: 'Ada Lovelace' },
} as unknown as User;

function place(path: string) {
  const replace = vi.fn((_path: string) => undefined);
  return { path, here: () => path, replace } satisfies Place;
}

function stubApi() {
  const fetchMock = vi.fn((path: string, _init: RequestInit) =>
    Promise.resolve(
      new Response(JSON.stringify(path === '/api/v1/me' ? user('owner') : { data: [], next_cursor: null }), {
        status: 200,
      }),
    ),
  );
  vi.stubGlobal('fetch', fetchMock);
  return fetchMock;
}

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

describe('App sign-in', () => {
  it('offers sign-in when nobody is signed in, and starts the redirect to the provider', async () => {
    const { auth, mock } = fakeAuth(null);
    render(<App auth={auth} place={place('/')} />);
    fireEvent.click(await screen.findByRole('button', { name: 'Sign in' }));
    expect(mock.signinRedirect).toHaveBeenCalledTimes(1);
  });

  it('keeps the page asked for, path and query, in the sign-in request', async () => {
    const { auth, mock } = fakeAuth(null);
    render(<App auth={auth} place={place('/audit?action=api_key.updated')} />);
    fireEvent.click(await screen.findByRole('button', { name: 'Sign in' }));
    expect(mock.signinRedirect).toHaveBeenCalledWith({ state: '/audit?action=api_key.updated' });
  });

  it('goes back to the page asked for after the redirect back', async () => {
    stubApi();
    const { auth } = fakeAuth({ ...ada, state: '/audit?action=api_key.updated' } as unknown as User);
    const at = place('/callback');
    render(<App auth={auth} place={at} />);
    await screen.findByText('Signed in as Ada Lovelace');
    expect(at.replace).toHaveBeenCalledWith('/audit?action=api_key.updated');
  });

  it('goes to the key list, not elsewhere, when the state names another origin', async () => {
    stubApi();
    const { auth } = fakeAuth({ ...ada, state: '//evil.example/keys' } as unknown as User);
    const at = place('/callback');
    render(<App auth={auth} place={at} />);
    await screen.findByText('Signed in as Ada Lovelace');
    expect(at.replace).toHaveBeenCalledWith('/keys');
  });

  it('finishes the redirect back, clears the code from the URL, and calls the API with the access token', async () => {
    const fetchMock = stubApi();
    const { auth, mock } = fakeAuth(ada);
    const at = place('/callback');
    render(<App auth={auth} place={at} />);

    expect(await screen.findByText('Signed in as Ada Lovelace')).toBeDefined();
    expect(mock.signinRedirectCallback).toHaveBeenCalledTimes(1);
    expect(at.replace).toHaveBeenCalledWith('/keys');
    await screen.findByText('No API keys match.');
    const [, init] = fetchMock.mock.calls[0];
    expect((init.headers as Record<string, string>)['authorization']).toBe('Bearer user-token');
  });

  it('signs out with the reason when the token could not be renewed', async () => {
    stubApi();
    const { auth, fire } = fakeAuth(ada);
    render(<App auth={auth} place={place('/')} />);
    await screen.findByText('Signed in as Ada Lovelace');

    fire('silentRenewError', new Error('login_required'));
    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toContain('could not be renewed (login_required)');
    expect(screen.getByRole('button', { name: 'Sign in' })).toBeDefined();
  });

  it('ends the session at the provider when it has an end-session endpoint', async () => {
    stubApi();
    const { auth, mock } = fakeAuth(ada, 'https://idp.test/logout');
    render(<App auth={auth} place={place('/')} />);
    fireEvent.click(await screen.findByRole('button', { name: 'Sign out' }));
    await vi.waitFor(() => expect(mock.signoutRedirect).toHaveBeenCalledTimes(1));
    expect(mock.removeUser).not.toHaveBeenCalled();
  });

  it('forgets the tokens here when the provider has no end-session endpoint', async () => {
    stubApi();
    const { auth, mock } = fakeAuth(ada);
    render(<App auth={auth} place={place('/')} />);
    fireEvent.click(await screen.findByRole('button', { name: 'Sign out' }));
    expect(await screen.findByRole('button', { name: 'Sign in' })).toBeDefined();
    expect(mock.removeUser).toHaveBeenCalledTimes(1);
  });

  it('shows why the redirect back failed, with a way to try again', async () => {
    const { auth, mock } = fakeAuth(null);
    mock.signinRedirectCallback.mockRejectedValueOnce(new Error('No matching state found in storage'));
    render(<App auth={auth} place={place('/callback')} />);
    expect((await screen.findByRole('alert')).textContent).toContain('No matching state found in storage');
    expect(screen.getByRole('button', { name: 'Sign in' })).toBeDefined();
  });
});

import type { User } from 'oidc-client-ts';
import { useEffect, useState } from 'react';
import { safeReturnPath } from './return-path';
import { CALLBACK_PATH, type AuthClient } from './session';

export type Session =
  | { kind: 'starting' }
  | { kind: 'signed-out'; reason?: string }
  | { kind: 'signed-in'; user: User }
  | { kind: 'failed'; message: string };

/** Where the browser is: the provider's redirect back, or any page of the dashboard. */
export interface Place {
  path: string;
  /** The page shown now, path and query: the sign-in request keeps it, to come back to it. */
  here(): string;
  /** Replaces the URL without a reload (the code and state must not stay in the address bar or history). */
  replace(path: string): void;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * The signed-in user, from the redirect back from the provider or from memory; null after a reload. Follows
 * oidc-client-ts's events: a renewed token replaces the user, a failed renewal or an expired token signs out
 * with the reason shown.
 */
export function useSession(auth: AuthClient, place: Place): Session {
  const [session, setSession] = useState<Session>({ kind: 'starting' });

  useEffect(() => {
    let current = true;
    const update = (next: Session): void => {
      if (current) setSession(next);
    };
    const start = async (): Promise<Session> => {
      if (place.path === CALLBACK_PATH) {
        const user = await auth.signinRedirectCallback();
        // Back to the page the user asked for before signing in (a reload of a deep link, an expired session).
        place.replace(safeReturnPath(user.state));
        return { kind: 'signed-in', user };
      }
      const user = await auth.getUser();
      return user && !user.expired ? { kind: 'signed-in', user } : { kind: 'signed-out' };
    };
    start().then(update, (error: unknown) => update({ kind: 'failed', message: messageOf(error) }));

    const loaded = (user: User) => update({ kind: 'signed-in', user });
    const expired = () => update({ kind: 'signed-out', reason: 'Your session expired. Sign in again.' });
    const renewFailed = (error: Error) =>
      update({
        kind: 'signed-out',
        reason: `Your session could not be renewed (${error.message}). Sign in again.`,
      });
    const unloaded = () => update({ kind: 'signed-out' });
    auth.events.addUserLoaded(loaded);
    auth.events.addUserUnloaded(unloaded);
    auth.events.addAccessTokenExpired(expired);
    auth.events.addSilentRenewError(renewFailed);
    return () => {
      current = false;
      auth.events.removeUserLoaded(loaded);
      auth.events.removeUserUnloaded(unloaded);
      auth.events.removeAccessTokenExpired(expired);
      auth.events.removeSilentRenewError(renewFailed);
    };
  }, [auth, place]);

  return session;
}

/** Ends the session at the provider when it has an end-session endpoint; else forgets the tokens here. */
export async function signOut(auth: AuthClient): Promise<void> {
  if (await auth.metadataService.getEndSessionEndpoint()) {
    await auth.signoutRedirect();
    return;
  }
  await auth.removeUser();
}

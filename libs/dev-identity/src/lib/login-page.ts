/** The banner every page of the provider shows. */
export const DEV_IDENTITY_BANNER = 'Development identity provider — not for production';

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (character) => ESCAPES[character] ?? character);
}

export interface LoginPage {
  /** Where the form posts: the interaction's own URL. */
  action: string;
  clientName: string;
  /** Kept in the field after a failed attempt; never the password. */
  username?: string;
  error?: string;
}

/** The sign-in form: plain HTML, no script, no style (the page's CSP allows neither). */
export function renderLoginPage({ action, clientName, username = '', error }: LoginPage): string {
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in — Gatehouse (development)</title></head>
<body>
<p role="alert"><strong>${escapeHtml(DEV_IDENTITY_BANNER)}</strong></p>
<h1>Sign in to ${escapeHtml(clientName)}</h1>
${error ? `<p role="alert" id="error">${escapeHtml(error)}</p>\n` : ''}<form method="post" action="${escapeHtml(action)}">
<p><label for="username">Username</label><br>
<input id="username" name="username" autocomplete="username" required value="${escapeHtml(username)}"></p>
<p><label for="password">Password</label><br>
<input id="password" name="password" type="password" autocomplete="current-password" required></p>
<p><button type="submit">Sign in</button></p>
</form>
</body>
</html>
`;
}

export function renderMessagePage(title: string, message: string): string {
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head>
<body>
<p role="alert"><strong>${escapeHtml(DEV_IDENTITY_BANNER)}</strong></p>
<h1>${escapeHtml(title)}</h1>
<p>${escapeHtml(message)}</p>
</body>
</html>
`;
}

/** The sign-out question; `form` is oidc-provider's own (hidden fields, id `op.logoutForm`). */
export function renderLogoutPage(form: string): string {
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Sign out — Gatehouse (development)</title></head>
<body>
<p role="alert"><strong>${escapeHtml(DEV_IDENTITY_BANNER)}</strong></p>
<h1>Sign out of the development identity provider?</h1>
${form}
<p><button type="submit" form="op.logoutForm" value="yes" name="logout">Sign out</button>
<button type="submit" form="op.logoutForm">Stay signed in</button></p>
</body>
</html>
`;
}

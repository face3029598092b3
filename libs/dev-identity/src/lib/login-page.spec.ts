import { renderLoginPage, renderLogoutPage } from './login-page';

describe("the development identity provider's pages", () => {
  it('label the fields a person (and Playwright) looks for, under the banner', () => {
    const html = renderLoginPage({ action: '/interaction/abc', clientName: 'the Gatehouse dashboard' });
    expect(html).toContain('<strong>Development identity provider — not for production</strong>');
    expect(html).toContain('<label for="username">Username</label>');
    expect(html).toContain('<label for="password">Password</label>');
    expect(html).toContain('<button type="submit">Sign in</button>');
    expect(html).toContain('<form method="post" action="/interaction/abc">');
    expect(html).not.toMatch(/<script|<style|style=/);
  });

  it('keep a typed username after a failure, escaped, and never a password', () => {
    const html = renderLoginPage({
      action: '/interaction/abc',
      clientName: 'x',
      username: '"><script>alert(1)</script>',
      error: 'Wrong username or password.',
    });
    expect(html).toContain('value="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"');
    expect(html).not.toContain('<script>');
    expect(html).toContain('Wrong username or password.');
  });

  it("ask before signing out, with oidc-provider's form and no third-party font", () => {
    const html = renderLogoutPage(
      '<form id="op.logoutForm" method="post" action="/session/end/confirm"></form>',
    );
    expect(html).toContain('Development identity provider — not for production');
    expect(html).toContain('form="op.logoutForm" value="yes" name="logout">Sign out</button>');
    expect(html).not.toContain('googleapis');
  });
});

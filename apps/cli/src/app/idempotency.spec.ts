import { idempotencyKey, sha256Hex, type UploadIdentity } from './idempotency';

const identity: UploadIdentity = {
  contentSha256: sha256Hex(Buffer.from('{"findings":[]}')),
  mediaType: 'application/json',
  context: { repository: 'acme/payments', commit: '9fceb02', ref: 'refs/heads/main', tool: 'semgrep' },
};

describe('idempotencyKey', () => {
  it('is the same for the same content and context, whatever the order of the context given', () => {
    const reordered: UploadIdentity = {
      mediaType: identity.mediaType,
      context: { tool: 'semgrep', ref: 'refs/heads/main', commit: '9fceb02', repository: 'acme/payments' },
      contentSha256: identity.contentSha256,
    };
    expect(idempotencyKey(reordered)).toBe(idempotencyKey(identity));
  });

  it('is stable across releases: a retried job step on a newer CLI still matches the first upload', () => {
    expect(idempotencyKey(identity)).toBe(
      'gatehouse-cli-ff486c5e2e9ba76b424056639edabb9896d171bd2d52383ddfd59f85f1e28790',
    );
  });

  it('differs when any part of the content or the context differs', () => {
    const key = idempotencyKey(identity);
    const variants: UploadIdentity[] = [
      { ...identity, contentSha256: sha256Hex(Buffer.from('{"findings":[1]}')) },
      { ...identity, mediaType: 'application/sarif+json' },
      { ...identity, context: { ...identity.context, repository: 'acme/other' } },
      { ...identity, context: { ...identity.context, commit: '0000000' } },
      { ...identity, context: { ...identity.context, ref: 'refs/heads/dev' } },
      { ...identity, context: { ...identity.context, tool: 'trivy' } },
      { ...identity, context: { ...identity.context, tool: undefined } },
    ];
    const keys = variants.map(idempotencyKey);
    expect(new Set([key, ...keys]).size).toBe(variants.length + 1);
  });

  it('keeps an absent part apart from an empty or "null" one', () => {
    const absent = idempotencyKey({ ...identity, context: {} });
    expect(idempotencyKey({ ...identity, context: { repository: 'null' } })).not.toBe(absent);
  });

  it('fits the server’s Idempotency-Key: 1-255 printable ASCII characters', () => {
    expect(idempotencyKey(identity)).toMatch(/^[\x21-\x7e]{1,255}$/);
  });
});

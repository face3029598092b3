import { randomBytes } from 'node:crypto';
import { generateWebhookSecret, signWebhook, verifyWebhook, WebhookSecretBox } from './signature';

// The test vector of the Standard Webhooks specification: receivers using its libraries verify our signatures.
const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const ID = 'msg_p5jXN8AQM9LWM0D4loKWxJek';
const TIMESTAMP = 1614265330;
const BODY = '{"test": 2432232314}';
const SIGNATURE = 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=';

describe('Standard Webhooks signatures', () => {
  it('reproduces the reference signature', () => {
    expect(signWebhook(SECRET, ID, TIMESTAMP, BODY)).toBe(SIGNATURE);
  });

  it('verifies the reference signature, also among several, and refuses any change', () => {
    expect(verifyWebhook(SECRET, ID, TIMESTAMP, BODY, SIGNATURE)).toBe(true);
    expect(verifyWebhook(SECRET, ID, TIMESTAMP, BODY, `v1,bm90IGl0 ${SIGNATURE}`)).toBe(true);
    expect(verifyWebhook(SECRET, ID, TIMESTAMP, '{"test": 2432232315}', SIGNATURE)).toBe(false);
    expect(verifyWebhook(SECRET, ID, TIMESTAMP + 1, BODY, SIGNATURE)).toBe(false);
    expect(verifyWebhook(SECRET, 'msg_other', TIMESTAMP, BODY, SIGNATURE)).toBe(false);
  });

  it('generates whsec_ secrets of 32 random bytes', () => {
    const secret = generateWebhookSecret();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(Buffer.from(secret.slice('whsec_'.length), 'base64')).toHaveLength(32);
    expect(generateWebhookSecret()).not.toBe(secret);
  });
});

describe('WebhookSecretBox', () => {
  const box = new WebhookSecretBox(randomBytes(32));

  it('opens what it sealed, and the sealed bytes do not contain the secret', () => {
    const sealed = box.seal(SECRET);
    expect(sealed.toString('latin1')).not.toContain('MfKQ9r8G');
    expect(box.open(sealed)).toBe(SECRET);
  });

  it('refuses a tampered ciphertext or another key', () => {
    const sealed = box.seal(SECRET);
    const tampered = Buffer.from(sealed);
    tampered[tampered.length - 1] ^= 1;
    expect(() => box.open(tampered)).toThrow();
    expect(() => new WebhookSecretBox(randomBytes(32)).open(sealed)).toThrow();
  });

  it('takes 32-byte keys only', () => {
    expect(() => new WebhookSecretBox(randomBytes(16))).toThrow(/32 bytes/);
  });
});

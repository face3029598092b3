import { createHash } from 'node:crypto';
import { findingIdentity, normalizeSnippet } from './identity';

const sha256 = (tuple: unknown[]): string => createHash('sha256').update(JSON.stringify(tuple)).digest('hex');
const base = { tool: 'CodeQL', ruleId: 'js/xss', path: 'src/a.js' };

describe('findingIdentity', () => {
  it('is the sha256 of the documented tuple for fingerprints, with pairs sorted by key', () => {
    const identity = findingIdentity({ ...base, fingerprints: { b: '2', a: '1', ignored: 3 } });
    expect(identity).toEqual({
      identity: sha256([
        'fingerprints',
        'CodeQL',
        'js/xss',
        [
          ['a', '1'],
          ['b', '2'],
        ],
      ]),
      identitySource: 'fingerprints',
    });
  });

  it('does not depend on the path or line when fingerprints say it is the same result', () => {
    const before = findingIdentity({ ...base, fingerprints: { 'contextHash/v1': 'abc' }, startLine: 3 });
    const after = findingIdentity({
      ...base,
      path: 'src/moved.js',
      fingerprints: { 'contextHash/v1': 'abc' },
      startLine: 90,
    });
    expect(after.identity).toBe(before.identity);
  });

  it('uses partialFingerprints with the path when there are no fingerprints', () => {
    const identity = findingIdentity({
      ...base,
      fingerprints: {},
      partialFingerprints: { primaryLocationLineHash: 'c7c4:1' },
    });
    expect(identity).toEqual({
      identity: sha256([
        'partialFingerprints',
        'CodeQL',
        'js/xss',
        'src/a.js',
        [['primaryLocationLineHash', 'c7c4:1']],
      ]),
      identitySource: 'partialFingerprints',
    });
    const elsewhere = findingIdentity({
      ...base,
      path: 'src/b.js',
      partialFingerprints: { primaryLocationLineHash: 'c7c4:1' },
    });
    expect(elsewhere.identity).not.toBe(identity.identity);
  });

  it("uses the native fingerprint with the finding's tool and rule", () => {
    expect(findingIdentity({ ...base, fingerprint: 'fp-1' })).toEqual({
      identity: sha256(['fingerprint', 'CodeQL', 'js/xss', 'fp-1']),
      identitySource: 'fingerprint',
    });
  });

  it('computes from the normalized snippet, which survives the code moving and being re-indented', () => {
    const first = findingIdentity({ ...base, snippet: '  eval(input);\n', startLine: 4 });
    const moved = findingIdentity({ ...base, snippet: '\teval(input);', startLine: 40 });
    expect(first).toEqual({
      identity: sha256(['computed', 'CodeQL', 'js/xss', 'src/a.js', 'eval(input);']),
      identitySource: 'computed',
    });
    expect(moved.identity).toBe(first.identity);
  });

  it('computes from the start line without a snippet, else from the message', () => {
    expect(findingIdentity({ ...base, snippet: '   ', startLine: 7, message: 'm' }).identity).toBe(
      sha256(['computed', 'CodeQL', 'js/xss', 'src/a.js', 7]),
    );
    expect(findingIdentity({ ...base, path: null, message: 'Secret in history' }).identity).toBe(
      sha256(['computed', 'CodeQL', 'js/xss', null, 'Secret in history']),
    );
    expect(findingIdentity({ ...base, path: null }).identity).toBe(
      sha256(['computed', 'CodeQL', 'js/xss', null, null]),
    );
  });

  it('differs between tools and rules for the same place', () => {
    const a = findingIdentity({ ...base, startLine: 1 }).identity;
    expect(findingIdentity({ ...base, tool: 'Semgrep', startLine: 1 }).identity).not.toBe(a);
    expect(findingIdentity({ ...base, ruleId: 'js/sqli', startLine: 1 }).identity).not.toBe(a);
  });
});

describe('normalizeSnippet', () => {
  it('trims and turns each run of whitespace into one space', () => {
    expect(normalizeSnippet('\n  if (a)\t\t{\r\n   b();  }\n')).toBe('if (a) { b(); }');
  });
});

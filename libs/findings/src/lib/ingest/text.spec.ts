import { TEXT_MAX, cleanText, cutText, firstLine, sanitizeJson, sanitizeText } from './text';

describe('sanitizeText', () => {
  it('replaces NUL, which PostgreSQL text and jsonb cannot hold, with U+FFFD', () => {
    expect(sanitizeText('a\u0000b\u0000')).toBe('a\uFFFDb\uFFFD');
  });

  it('replaces lone surrogates (valid JSON escapes, invalid UTF-8) and keeps surrogate pairs', () => {
    expect(sanitizeText('x\uD800y')).toBe('x\uFFFDy');
    expect(sanitizeText('x\uDC00y')).toBe('x\uFFFDy');
    expect(sanitizeText('end\uD83D')).toBe('end\uFFFD');
    expect(sanitizeText('emoji 😀 ok')).toBe('emoji 😀 ok');
  });

  it('returns clean strings unchanged', () => {
    const text = 'plain text, tabs\tand newlines\n';
    expect(sanitizeText(text)).toBe(text);
  });
});

describe('cutText', () => {
  it('keeps text within the maximum as it is', () => {
    expect(cutText('abc', 3)).toBe('abc');
  });

  it("cuts to exactly the maximum, '…' last", () => {
    const cut = cutText('x'.repeat(20_000), TEXT_MAX.description);
    expect(cut).toHaveLength(TEXT_MAX.description);
    expect(cut.endsWith('xx…')).toBe(true);
  });

  it('never splits a surrogate pair', () => {
    const cut = cutText('ab😀cd', 4);
    expect(cut).toBe('ab…');
    expect(sanitizeText(cut)).toBe(cut);
  });
});

describe('cleanText', () => {
  it('trims, sanitizes and cuts strings; null for empty strings and non-strings', () => {
    expect(cleanText('  rule\u0000 ', 10)).toBe('rule\uFFFD');
    expect(cleanText('   ', 10)).toBeNull();
    expect(cleanText(12, 10)).toBeNull();
    expect(cleanText(undefined, 10)).toBeNull();
    expect(cleanText('abcdef', 4)).toBe('abc…');
  });
});

describe('firstLine', () => {
  it('is the first non-blank line, trimmed', () => {
    expect(firstLine('\n  \r\n  first line  \nsecond')).toBe('first line');
    expect(firstLine('   ')).toBeNull();
    expect(firstLine(null)).toBeNull();
  });
});

describe('sanitizeJson', () => {
  it('sanitizes keys and values at any depth and cuts long strings', () => {
    const clean = sanitizeJson({
      'k\u0000': ['v\uD800', { deep: 'x'.repeat(5000) }],
      n: 1,
      b: true,
      z: null,
    });
    expect(clean).toEqual({
      'k\uFFFD': ['v\uFFFD', { deep: `${'x'.repeat(TEXT_MAX.other - 1)}…` }],
      n: 1,
      b: true,
      z: null,
    });
  });

  it('keeps a __proto__ key as data, never as a prototype', () => {
    const clean = sanitizeJson(JSON.parse('{"__proto__": {"polluted": true}}')) as Record<string, unknown>;
    expect(Object.keys(clean)).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(clean)).toBe(Object.prototype);
  });
});

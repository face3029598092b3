import { GatehouseError } from '@gatehouse/contracts';
import { findUnsafeInput, isPostgresSafe, MAX_JSON_DEPTH, unsafeInputError } from './safe-input';

function nested(depth: number, leaf: unknown = 1): unknown {
  let value = leaf;
  for (let level = 0; level < depth; level += 1) value = level % 2 === 0 ? [value] : { a: value };
  return value;
}

describe('isPostgresSafe', () => {
  it.each([
    ['plain text', 'CKV_AWS_20'],
    ['the empty string', ''],
    ['accents and CJK', 'café 日本'],
    ['an emoji (a surrogate pair)', 'key 🔑 here'],
    ['control characters other than NUL', '\u0001\t\n\u007f'],
    ['U+FFFD and U+FFFF', '\uFFFD\uFFFF'],
  ])('accepts %s', (_case, value) => {
    expect(isPostgresSafe(value)).toBe(true);
  });

  it.each([
    ['a NUL', 'a\u0000b'],
    ['a NUL alone', '\u0000'],
    ['a lone high surrogate', 'a\uD800b'],
    ['a high surrogate at the end', 'abc\uDBFF'],
    ['a lone low surrogate', '\uDC00abc'],
    ['two high surrogates', '\uD800\uD800'],
    ['a reversed pair', '\uDE00\uD83D'],
    ['a pair followed by a lone low surrogate', '🔑\uDC00'],
  ])('refuses %s', (_case, value) => {
    expect(isPostgresSafe(value)).toBe(false);
  });
});

describe('findUnsafeInput', () => {
  it('finds nothing in ordinary JSON', () => {
    expect(
      findUnsafeInput({ findings: [{ title: 'x', location: { path: 'a.ts', start_line: 1 }, tags: null }] }),
    ).toBeUndefined();
    expect(findUnsafeInput('text')).toBeUndefined();
    expect(findUnsafeInput(42)).toBeUndefined();
    expect(findUnsafeInput(null)).toBeUndefined();
  });

  it('names the field of a string nested in objects and arrays', () => {
    expect(findUnsafeInput({ findings: [{ title: 'ok' }, { title: 'a\u0000' }] })).toEqual({
      field: 'findings.1.title',
      problem: expect.stringContaining('NUL'),
    });
  });

  it('checks object keys at any depth', () => {
    expect(findUnsafeInput({ a: { b: [{ 'k\u0000': 1 }] } })).toEqual({
      field: 'a.b.0',
      problem: expect.stringContaining('key'),
    });
    expect(findUnsafeInput({ '\uD800': 'x' })?.field).toBe('');
  });

  it('checks the value itself', () => {
    expect(findUnsafeInput('\uDFFF')).toEqual({ field: '', problem: expect.any(String) });
  });

  it(`accepts ${MAX_JSON_DEPTH} levels of nesting and refuses one more`, () => {
    expect(findUnsafeInput(nested(MAX_JSON_DEPTH))).toBeUndefined();
    expect(findUnsafeInput(nested(MAX_JSON_DEPTH + 1))?.problem).toBe(
      `must not nest more than ${MAX_JSON_DEPTH} levels deep`,
    );
  });

  it('walks 100,000 levels without a stack overflow', () => {
    const deep = JSON.parse(`${'['.repeat(100_000)}${']'.repeat(100_000)}`) as unknown;
    expect(() => findUnsafeInput(deep)).not.toThrow();
    expect(findUnsafeInput(deep)?.problem).toContain('levels deep');
    expect(findUnsafeInput(deep, 200_000)).toBeUndefined();
  });

  it('counts depth per branch, not the number of containers', () => {
    const wide = { items: Array.from({ length: 1000 }, () => ({ a: { b: [1] } })) };
    expect(findUnsafeInput(wide, 5)).toBeUndefined();
  });
});

describe('unsafeInputError', () => {
  it('is a 400 validation_failed naming the field, in the validation details notation', () => {
    const error = unsafeInputError('body', { field: 'findings.0.title', problem: 'must not contain NUL' });
    expect(error).toBeInstanceOf(GatehouseError);
    expect(error.code).toBe('validation_failed');
    expect(error.message).toBe('findings.0.title: findings.0.title must not contain NUL');
    expect(error.details).toEqual([
      { field: 'findings.0.title', problems: ['findings.0.title must not contain NUL'] },
    ]);
  });

  it('names the part of the request when the whole of it is at fault', () => {
    expect(unsafeInputError('body', { field: '', problem: 'is too deep' }).message).toBe(
      'body: body is too deep',
    );
  });
});

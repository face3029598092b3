import { describe, expect, it } from 'vitest';
import {
  descriptionProblem,
  hasLabelProblems,
  labelChanges,
  metadataProblems,
  metadataRows,
  type LabelForm,
} from './key-labels';

const key = { name: 'ci-main', description: 'Deploys main', metadata: { team: 'platform', tier: 'gold' } };
const unchanged = (): LabelForm => ({
  name: key.name,
  description: key.description,
  metadata: metadataRows(key.metadata),
});

describe('labelChanges', () => {
  it('sends nothing when nothing changed, whatever the order of the metadata rows', () => {
    expect(labelChanges(key, unchanged())).toEqual({});
    expect(labelChanges(key, { ...unchanged(), metadata: [...unchanged().metadata].reverse() })).toEqual({});
  });

  it('sends only the name when only the name changed, trimmed', () => {
    expect(labelChanges(key, { ...unchanged(), name: '  ci-release ' })).toEqual({ name: 'ci-release' });
    expect(labelChanges(key, { ...unchanged(), name: ' ci-main ' })).toEqual({});
  });

  it('sends the description when it changed, and null to remove it', () => {
    expect(labelChanges(key, { ...unchanged(), description: 'Deploys main and tags' })).toEqual({
      description: 'Deploys main and tags',
    });
    expect(labelChanges(key, { ...unchanged(), description: '' })).toEqual({ description: null });
    expect(labelChanges(key, { ...unchanged(), description: '   ' })).toEqual({ description: null });
  });

  it('treats a key without a description as an empty one', () => {
    const bare = { ...key, description: null };
    expect(labelChanges(bare, { ...unchanged(), description: '' })).toEqual({});
    expect(labelChanges(bare, { ...unchanged(), description: 'New' })).toEqual({ description: 'New' });
  });

  it('sends the whole metadata when any entry changed, was added or removed, and {} when all are gone', () => {
    expect(
      labelChanges(key, {
        ...unchanged(),
        metadata: [
          { key: 'team', value: 'security' },
          { key: 'tier', value: 'gold' },
        ],
      }),
    ).toEqual({ metadata: { team: 'security', tier: 'gold' } });
    expect(
      labelChanges(key, {
        ...unchanged(),
        metadata: [...unchanged().metadata, { key: 'owner', value: 'ada' }],
      }),
    ).toEqual({ metadata: { team: 'platform', tier: 'gold', owner: 'ada' } });
    expect(labelChanges(key, { ...unchanged(), metadata: [{ key: 'team', value: 'platform' }] })).toEqual({
      metadata: { team: 'platform' },
    });
    expect(labelChanges(key, { ...unchanged(), metadata: [] })).toEqual({ metadata: {} });
  });

  it('sends every changed field together', () => {
    expect(
      labelChanges(key, { name: 'ci-release', description: 'Tags', metadata: [{ key: 'team', value: 'x' }] }),
    ).toEqual({ name: 'ci-release', description: 'Tags', metadata: { team: 'x' } });
  });
});

describe('metadataProblems', () => {
  it('accepts the API limits exactly', () => {
    const rows = Array.from({ length: 20 }, (_, index) => ({
      key: `${index}${'k'.repeat(39)}`.slice(0, 40),
      value: 'v'.repeat(200),
    }));
    const problems = metadataProblems(rows);
    expect(problems.all).toBeNull();
    expect(problems.rows.every((row) => row.key === null && row.value === null)).toBe(true);
    expect(metadataProblems([{ key: 'a', value: '' }]).rows[0]).toEqual({ key: null, value: null });
    expect(metadataProblems([{ key: 'build.id_1-x', value: 'x' }]).rows[0]?.key).toBeNull();
  });

  it.each([
    ['', 'Enter a key, or remove the entry.'],
    ['k'.repeat(41), 'A key has at most 40 characters.'],
    ['_team', 'Start with a letter or digit; then use only letters, digits, ".", "-" and "_".'],
    ['.team', 'Start with a letter or digit; then use only letters, digits, ".", "-" and "_".'],
    ['team name', 'Start with a letter or digit; then use only letters, digits, ".", "-" and "_".'],
    ['équipe', 'Start with a letter or digit; then use only letters, digits, ".", "-" and "_".'],
  ])('refuses the key %j', (value, message) => {
    expect(metadataProblems([{ key: value, value: 'x' }]).rows[0]?.key).toBe(message);
  });

  it('refuses a value over 200 characters', () => {
    expect(metadataProblems([{ key: 'team', value: 'v'.repeat(201) }]).rows[0]?.value).toBe(
      'A value has at most 200 characters.',
    );
  });

  it('refuses a key used twice, on the later entry, naming the first', () => {
    const problems = metadataProblems([
      { key: 'team', value: 'a' },
      { key: 'tier', value: 'b' },
      { key: 'team', value: 'c' },
    ]);
    expect(problems.rows.map((row) => row.key)).toEqual([null, null, 'Entry 1 already has this key.']);
  });

  it('refuses more than 20 entries', () => {
    const rows = Array.from({ length: 21 }, (_, index) => ({ key: `k${index}`, value: '' }));
    expect(metadataProblems(rows).all).toBe('A key has at most 20 metadata entries.');
  });
});

describe('descriptionProblem and hasLabelProblems', () => {
  it('allows up to 500 characters of description', () => {
    expect(descriptionProblem('d'.repeat(500))).toBeNull();
    expect(descriptionProblem('d'.repeat(501))).toBe('A description has at most 500 characters.');
  });

  it('finds a problem in any field', () => {
    expect(hasLabelProblems(unchanged())).toBe(false);
    expect(hasLabelProblems({ ...unchanged(), name: '  ' })).toBe(true);
    expect(hasLabelProblems({ ...unchanged(), description: 'd'.repeat(501) })).toBe(true);
    expect(hasLabelProblems({ ...unchanged(), metadata: [{ key: '-x', value: '' }] })).toBe(true);
  });
});

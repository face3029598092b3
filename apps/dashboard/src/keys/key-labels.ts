import type { ApiKey, UpdateApiKeyBody } from '../api/types';
import { nameProblem } from './key-rules';

/** The API's limits on a key's labels (docs/API.md, "Key fields"), checked here so the form says early what it would refuse. */
export const DESCRIPTION_MAX = 500;
export const METADATA_ENTRIES_MAX = 20;
export const METADATA_KEY_MAX = 40;
export const METADATA_VALUE_MAX = 200;
const METADATA_KEY = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$/;

/** One editable metadata entry, as typed. */
export interface MetadataRow {
  key: string;
  value: string;
}

export interface LabelForm {
  name: string;
  description: string;
  metadata: MetadataRow[];
}

export interface MetadataRowProblems {
  key: string | null;
  value: string | null;
}

export function descriptionProblem(value: string): string | null {
  return value.length > DESCRIPTION_MAX ? `A description has at most ${DESCRIPTION_MAX} characters.` : null;
}

/** A problem per row (key and value), in the rows' order, and one for the whole set; nulls when all is well. */
export function metadataProblems(rows: MetadataRow[]): {
  rows: MetadataRowProblems[];
  all: string | null;
} {
  const firstIndex = new Map<string, number>();
  const problems = rows.map((row, index) => {
    let key: string | null = null;
    if (row.key === '') key = 'Enter a key, or remove the entry.';
    else if (row.key.length > METADATA_KEY_MAX) key = `A key has at most ${METADATA_KEY_MAX} characters.`;
    else if (!METADATA_KEY.test(row.key))
      key = 'Start with a letter or digit; then use only letters, digits, ".", "-" and "_".';
    else {
      const first = firstIndex.get(row.key);
      if (first === undefined) firstIndex.set(row.key, index);
      else key = `Entry ${first + 1} already has this key.`;
    }
    const value =
      row.value.length > METADATA_VALUE_MAX ? `A value has at most ${METADATA_VALUE_MAX} characters.` : null;
    return { key, value };
  });
  const all =
    rows.length > METADATA_ENTRIES_MAX ? `A key has at most ${METADATA_ENTRIES_MAX} metadata entries.` : null;
  return { rows: problems, all };
}

export function hasLabelProblems(form: LabelForm): boolean {
  const metadata = metadataProblems(form.metadata);
  return (
    nameProblem(form.name) !== null ||
    descriptionProblem(form.description) !== null ||
    metadata.all !== null ||
    metadata.rows.some((row) => row.key !== null || row.value !== null)
  );
}

/** A key's metadata as rows, in a stable order (the API keeps no order). */
export function metadataRows(metadata: Record<string, string>): MetadataRow[] {
  return Object.entries(metadata)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([key, value]) => ({ key, value }));
}

function sameMetadata(a: Record<string, string>, b: Record<string, string>): boolean {
  const keys = Object.keys(a);
  return (
    keys.length === Object.keys(b).length && keys.every((key) => Object.hasOwn(b, key) && a[key] === b[key])
  );
}

/**
 * The PATCH body for what the form changed, and nothing else: a field the user left alone is not sent, so it cannot
 * overwrite a change someone else made meanwhile. Metadata is replaced whole by the API, so a change sends all of
 * it. An emptied description is sent as null (removed). Empty when nothing changed.
 */
export function labelChanges(
  key: Pick<ApiKey, 'name' | 'description' | 'metadata'>,
  form: LabelForm,
): UpdateApiKeyBody {
  const body: UpdateApiKeyBody = {};
  const name = form.name.trim();
  if (name !== key.name) body.name = name;
  if (form.description !== (key.description ?? '')) {
    body.description = form.description.trim() === '' ? null : form.description;
  }
  const metadata = Object.fromEntries(form.metadata.map((row) => [row.key, row.value]));
  if (!sameMetadata(metadata, key.metadata)) body.metadata = metadata;
  return body;
}

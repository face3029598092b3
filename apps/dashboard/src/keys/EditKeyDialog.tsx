import { useId, useState } from 'react';
import type { ApiClient } from '../api/api-client';
import type { ApiKey } from '../api/types';
import { ErrorNotice } from '../components/ErrorNotice';
import { Modal } from '../components/Modal';
import {
  DESCRIPTION_MAX,
  descriptionProblem,
  hasLabelProblems,
  labelChanges,
  METADATA_ENTRIES_MAX,
  metadataProblems,
  metadataRows,
  type MetadataRow,
} from './key-labels';
import { nameProblem } from './key-rules';

/** A key's labels (name, description, metadata). Sends only what changed; the API checks everything again. */
export function EditKeyDialog({
  api,
  apiKey: key,
  onSaved,
  onClose,
}: {
  api: ApiClient;
  apiKey: ApiKey;
  onSaved: (key: ApiKey) => void;
  onClose: () => void;
}) {
  const ids = { name: useId(), description: useId(), metadata: useId() };
  const [name, setName] = useState(key.name);
  const [description, setDescription] = useState(key.description ?? '');
  const [rows, setRows] = useState<MetadataRow[]>(() => metadataRows(key.metadata));
  const [submitted, setSubmitted] = useState(false);
  const [savedUnchanged, setSavedUnchanged] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  const form = { name, description, metadata: rows };
  const problems = {
    name: nameProblem(name),
    description: descriptionProblem(description),
    metadata: metadataProblems(rows),
  };
  const changes = labelChanges(key, form);
  const nothingChanged = Object.keys(changes).length === 0;

  const setRow = (index: number, change: Partial<MetadataRow>) =>
    setRows((current) => current.map((row, at) => (at === index ? { ...row, ...change } : row)));

  const submit = (event: React.FormEvent) => {
    event.preventDefault();
    setSubmitted(true);
    if (hasLabelProblems(form)) return;
    if (nothingChanged) {
      setSavedUnchanged(true);
      return;
    }
    setBusy(true);
    setError(null);
    api.updateApiKey(key.id, changes).then(onSaved, (failure: unknown) => {
      setError(failure);
      setBusy(false);
    });
  };

  return (
    <Modal title={`Edit key ${key.name}`} onClose={onClose}>
      <form onSubmit={submit} noValidate>
        <div className="field">
          <label htmlFor={ids.name}>Name</label>
          <input
            id={ids.name}
            value={name}
            maxLength={100}
            data-autofocus
            aria-invalid={problems.name !== null}
            aria-describedby={`${ids.name}-problem`}
            onChange={(event) => setName(event.target.value)}
          />
          <p id={`${ids.name}-problem`} className="problem">
            {problems.name}
          </p>
        </div>
        <div className="field">
          <label htmlFor={ids.description}>Description</label>
          <textarea
            id={ids.description}
            value={description}
            rows={3}
            aria-invalid={problems.description !== null}
            aria-describedby={`${ids.description}-hint ${ids.description}-problem`}
            onChange={(event) => setDescription(event.target.value)}
          />
          <p id={`${ids.description}-hint`} className="hint">
            Optional, at most {DESCRIPTION_MAX} characters ({description.length} now). Empty removes it.
          </p>
          <p id={`${ids.description}-problem`} className="problem">
            {problems.description}
          </p>
        </div>
        <fieldset aria-describedby={`${ids.metadata}-hint`}>
          <legend>Metadata</legend>
          <p id={`${ids.metadata}-hint`} className="hint">
            Up to {METADATA_ENTRIES_MAX} entries. A key is 1–40 letters, digits, &quot;.&quot;, &quot;-&quot;
            or &quot;_&quot;, starting with a letter or digit; a value at most 200 characters.
          </p>
          {rows.map((row, index) => {
            const number = index + 1;
            const rowProblems = problems.metadata.rows[index];
            const problemId = `${ids.metadata}-${index}-problem`;
            return (
              <div className="metadata-row" key={index}>
                <input
                  aria-label={`Metadata key ${number}`}
                  value={row.key}
                  spellCheck={false}
                  autoComplete="off"
                  aria-invalid={(submitted || row.key !== '') && rowProblems?.key != null}
                  aria-describedby={problemId}
                  onChange={(event) => setRow(index, { key: event.target.value })}
                />
                <input
                  aria-label={`Metadata value ${number}`}
                  value={row.value}
                  aria-invalid={rowProblems?.value != null}
                  aria-describedby={problemId}
                  onChange={(event) => setRow(index, { value: event.target.value })}
                />
                <button
                  type="button"
                  onClick={() => setRows((current) => current.filter((_row, at) => at !== index))}
                >
                  Remove entry {number}
                </button>
                <p id={problemId} className="problem">
                  {[(submitted || row.key !== '') && rowProblems?.key, rowProblems?.value]
                    .filter(Boolean)
                    .join(' ')}
                </p>
              </div>
            );
          })}
          <button
            type="button"
            disabled={rows.length >= METADATA_ENTRIES_MAX}
            onClick={() => setRows((current) => [...current, { key: '', value: '' }])}
          >
            Add entry
          </button>
          <p className="problem">{problems.metadata.all}</p>
        </fieldset>
        <p role="status">{savedUnchanged && nothingChanged && 'Nothing has changed.'}</p>
        {error !== null && <ErrorNotice error={error} />}
        <div className="actions">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" disabled={busy}>
            Save changes
          </button>
        </div>
      </form>
    </Modal>
  );
}

import { useId, useState } from 'react';
import type { ApiClient } from '../api/api-client';
import type { CreatedApiKey, Environment, Me, Permission } from '../api/types';
import { ErrorNotice } from '../components/ErrorNotice';
import { Modal } from '../components/Modal';
import {
  clientIdProblem,
  expiryInstant,
  expiryProblem,
  grantablePermissions,
  nameProblem,
  SUGGESTED_LIFETIME_DAYS,
  suggestedExpiry,
} from './key-rules';
import { DESCRIPTION_MAX, descriptionProblem } from './key-labels';

/** The form for a new key. The API checks everything again; this only says early what it would refuse. */
export function CreateKeyDialog({
  api,
  me,
  now,
  onCreated,
  onClose,
}: {
  api: ApiClient;
  me: Me;
  now: () => Date;
  onCreated: (key: CreatedApiKey) => void;
  onClose: () => void;
}) {
  const ids = {
    name: useId(),
    description: useId(),
    clientId: useId(),
    environment: useId(),
    expires: useId(),
  };
  const grantable = grantablePermissions(me);
  const [suggestion] = useState(() => suggestedExpiry(now()));
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [clientId, setClientId] = useState('');
  const [environment, setEnvironment] = useState<Environment>('live');
  const [permissions, setPermissions] = useState<Permission[]>([]);
  const [expires, setExpires] = useState(suggestion);
  const [touched, setTouched] = useState({ name: false, clientId: false, submitted: false });
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  const problems = {
    name: nameProblem(name),
    description: descriptionProblem(description),
    clientId: clientIdProblem(clientId),
    permissions: permissions.length === 0 ? 'Choose at least one permission.' : null,
    expires: expiryProblem(expires, now()),
  };
  const show = (field: 'name' | 'clientId') => touched[field] || touched.submitted;

  const submit = (event: React.FormEvent) => {
    event.preventDefault();
    setTouched((value) => ({ ...value, submitted: true }));
    if (Object.values(problems).some((problem) => problem !== null)) return;
    setBusy(true);
    setError(null);
    api
      .createApiKey({
        name: name.trim(),
        client_id: clientId,
        environment,
        permissions,
        expires_at: expiryInstant(expires),
        // Left out when empty: the key then has none.
        ...(description.trim() === '' ? {} : { description }),
      })
      .then(onCreated, (failure: unknown) => {
        setError(failure);
        setBusy(false);
      });
  };

  const toggle = (permission: Permission, on: boolean) =>
    setPermissions((chosen) =>
      on ? [...chosen, permission] : chosen.filter((value) => value !== permission),
    );

  return (
    <Modal title="Create an API key" onClose={onClose}>
      <form onSubmit={submit} noValidate>
        <div className="field">
          <label htmlFor={ids.name}>Name</label>
          <input
            id={ids.name}
            value={name}
            maxLength={100}
            aria-invalid={show('name') && problems.name !== null}
            aria-describedby={`${ids.name}-problem`}
            onChange={(event) => setName(event.target.value)}
            onBlur={() => setTouched((value) => ({ ...value, name: true }))}
          />
          <p id={`${ids.name}-problem`} className="problem">
            {show('name') && problems.name}
          </p>
        </div>
        <div className="field">
          <label htmlFor={ids.description}>Description</label>
          <textarea
            id={ids.description}
            value={description}
            rows={2}
            aria-invalid={problems.description !== null}
            aria-describedby={`${ids.description}-hint ${ids.description}-problem`}
            onChange={(event) => setDescription(event.target.value)}
          />
          <p id={`${ids.description}-hint`} className="hint">
            Optional: what the key is for, at most {DESCRIPTION_MAX} characters.
          </p>
          <p id={`${ids.description}-problem`} className="problem">
            {problems.description}
          </p>
        </div>
        <div className="field">
          <label htmlFor={ids.clientId}>Client ID</label>
          <input
            id={ids.clientId}
            value={clientId}
            spellCheck={false}
            autoComplete="off"
            aria-invalid={clientId !== '' && problems.clientId !== null}
            aria-describedby={`${ids.clientId}-hint ${ids.clientId}-problem`}
            onChange={(event) => setClientId(event.target.value)}
            onBlur={() => setTouched((value) => ({ ...value, clientId: true }))}
          />
          <p id={`${ids.clientId}-hint`} className="hint">
            3–50 letters, digits, &quot;.&quot;, &quot;-&quot; or &quot;_&quot;; unique in the organization.
            The client sends it to authenticate.
          </p>
          <p id={`${ids.clientId}-problem`} className="problem">
            {(clientId !== '' || show('clientId')) && problems.clientId}
          </p>
        </div>
        <div className="field">
          <label htmlFor={ids.environment}>Environment</label>
          <select
            id={ids.environment}
            value={environment}
            onChange={(event) => setEnvironment(event.target.value as Environment)}
          >
            <option value="live">live</option>
            <option value="test">test</option>
          </select>
        </div>
        <fieldset>
          <legend>Permissions</legend>
          {grantable.map((permission) => (
            <label key={permission} className="check">
              <input
                type="checkbox"
                checked={permissions.includes(permission)}
                onChange={(event) => toggle(permission, event.target.checked)}
              />
              {permission}
            </label>
          ))}
          <p className="hint">Only the permissions you hold yourself can be granted.</p>
          <p className="problem">{touched.submitted && problems.permissions}</p>
        </fieldset>
        <div className="field">
          <label htmlFor={ids.expires}>Expires</label>
          <input
            id={ids.expires}
            type="date"
            value={expires}
            aria-invalid={problems.expires !== null}
            aria-describedby={`${ids.expires}-hint ${ids.expires}-problem`}
            onChange={(event) => setExpires(event.target.value)}
          />
          <p id={`${ids.expires}-hint`} className="hint">
            At the start of that day, UTC. {SUGGESTED_LIFETIME_DAYS} days ({suggestion}) is the recommended
            rotation period; leave it empty for a key that never expires.
          </p>
          <p id={`${ids.expires}-problem`} className="problem">
            {problems.expires}
          </p>
        </div>
        {error !== null && <ErrorNotice error={error} />}
        <div className="actions">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" disabled={busy}>
            Save key
          </button>
        </div>
      </form>
    </Modal>
  );
}

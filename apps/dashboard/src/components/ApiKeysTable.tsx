import type { ApiKey } from '../api/types';
import { formatTime, stateLabel } from '../format';

/** The organization's keys: never a secret, only the masked preview the API returns. */
export function ApiKeysTable({ keys }: { keys: ApiKey[] }) {
  if (keys.length === 0) return <p>This organization has no API keys yet.</p>;
  return (
    <table>
      <caption>API keys</caption>
      <thead>
        <tr>
          <th scope="col">Name</th>
          <th scope="col">Client id</th>
          <th scope="col">Environment</th>
          <th scope="col">Key</th>
          <th scope="col">Permissions</th>
          <th scope="col">Created</th>
          <th scope="col">Last used</th>
          <th scope="col">Expires</th>
          <th scope="col">State</th>
        </tr>
      </thead>
      <tbody>
        {keys.map((key) => (
          <tr key={key.id}>
            <th scope="row">{key.name}</th>
            <td>
              <code>{key.client_id}</code>
            </td>
            <td>{key.environment}</td>
            <td>
              <code>{key.preview}</code>
            </td>
            <td>{key.permissions.join(', ')}</td>
            <td>{formatTime(key.created_at, '')}</td>
            <td>{formatTime(key.last_used_at, 'Never')}</td>
            <td>{formatTime(key.expires_at, 'Never')}</td>
            <td>{stateLabel(key)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

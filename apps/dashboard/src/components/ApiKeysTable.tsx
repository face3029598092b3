import { Link } from 'react-router';
import type { ApiKey } from '../api/types';
import { expiryLabel, formatTime, rateLimitLabel, stateLabel } from '../format';

/** The organization's keys: never a secret, only the masked preview the API returns. */
export function ApiKeysTable({ keys }: { keys: ApiKey[] }) {
  if (keys.length === 0) return <p>No API keys match.</p>;
  return (
    <div className="table-scroll">
      <table>
        <caption>API keys</caption>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Client id</th>
            <th scope="col">Environment</th>
            <th scope="col">Key</th>
            <th scope="col">Permissions</th>
            <th scope="col">Created by</th>
            <th scope="col">Created</th>
            <th scope="col">Last used</th>
            <th scope="col">Expires</th>
            <th scope="col">State</th>
            <th scope="col">Rate limit</th>
          </tr>
        </thead>
        <tbody>
          {keys.map((key) => (
            <tr key={key.id}>
              <th scope="row">
                <Link to={`/keys/${encodeURIComponent(key.id)}`}>{key.name}</Link>
              </th>
              <td>
                <code>{key.client_id}</code>
              </td>
              <td>{key.environment}</td>
              <td>
                <code>{key.preview}</code>
              </td>
              <td>{key.permissions.join(', ')}</td>
              <td>{key.created_by}</td>
              <td>{formatTime(key.created_at, '')}</td>
              <td>
                {formatTime(key.last_used_at, 'Never')}
                {key.last_used_ip && <span className="sub">from {key.last_used_ip}</span>}
              </td>
              <td>{expiryLabel(key)}</td>
              <td>{stateLabel(key)}</td>
              <td>{rateLimitLabel(key.rate_limit)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

import { ApiError } from '../api/api-error';

const EXPLANATIONS: Partial<Record<number, string>> = {
  401: 'Your session is missing or has expired. Sign in again.',
  403: 'Your role in this organization does not allow this. Ask an owner or admin of the organization.',
};

/** Shows a failure as the server explained it, with the request id support needs to find it in the logs. */
export function ErrorNotice({ error }: { error: unknown }) {
  if (!(error instanceof ApiError)) {
    const message = error instanceof Error ? error.message : String(error);
    return (
      <div role="alert" className="error">
        <p>{message}</p>
      </div>
    );
  }
  const explanation = EXPLANATIONS[error.status];
  return (
    <div role="alert" className="error">
      <p>{error.message}</p>
      {explanation && <p>{explanation}</p>}
      {error.requestId && (
        <p className="request-id">
          Request id: <code>{error.requestId}</code>
        </p>
      )}
    </div>
  );
}

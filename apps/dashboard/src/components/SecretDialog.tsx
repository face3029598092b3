import { useId, useState } from 'react';
import { Modal } from './Modal';

type Copy = { kind: 'idle' } | { kind: 'copied' } | { kind: 'failed'; message: string };

/**
 * A secret the API shows this once. It lives only in the parent's state while this dialog is open: closing the
 * dialog drops it.
 */
export function SecretDialog({
  title,
  label,
  secret,
  children,
  onClose,
}: {
  title: string;
  label: string;
  secret: string;
  children?: React.ReactNode;
  onClose: () => void;
}) {
  const id = useId();
  const [copy, setCopy] = useState<Copy>({ kind: 'idle' });
  const copySecret = () => {
    navigator.clipboard.writeText(secret).then(
      () => setCopy({ kind: 'copied' }),
      (error: unknown) =>
        setCopy({ kind: 'failed', message: error instanceof Error ? error.message : String(error) }),
    );
  };
  return (
    <Modal title={title} onClose={onClose}>
      {children}
      <label htmlFor={id}>{label}</label>
      <div className="secret">
        <input id={id} type="text" readOnly value={secret} spellCheck={false} autoComplete="off" />
        <button type="button" onClick={copySecret}>
          Copy
        </button>
      </div>
      <p role="status">
        {copy.kind === 'copied' && 'Copied'}
        {copy.kind === 'failed' && `Could not copy (${copy.message}): select the field and copy it yourself.`}
      </p>
      <p className="warning">
        <strong>You will not see this secret again.</strong> Store it now, in a secret manager.
      </p>
      <div className="actions">
        <button type="button" onClick={onClose}>
          Done
        </button>
      </div>
    </Modal>
  );
}

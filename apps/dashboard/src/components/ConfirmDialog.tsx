import { Modal } from './Modal';

/** Asks before something that cannot be undone; the question names the key, the button says what it does. */
export function ConfirmDialog({
  question,
  explanation,
  action,
  busy,
  onConfirm,
  onCancel,
}: {
  question: string;
  explanation: string;
  action: string;
  busy?: boolean;
  onConfirm: () => void;
  onCancel: () => void;
}) {
  return (
    <Modal title={question} onClose={onCancel}>
      <p>{explanation}</p>
      <div className="actions">
        <button type="button" onClick={onCancel} data-autofocus>
          Cancel
        </button>
        <button type="button" className="danger" disabled={busy} onClick={onConfirm}>
          {action}
        </button>
      </div>
    </Modal>
  );
}

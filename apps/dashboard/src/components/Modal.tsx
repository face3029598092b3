import { useEffect, useId, useRef } from 'react';

/**
 * A native modal <dialog>: the browser traps focus in it, makes the page behind it inert and closes it on Escape.
 * Mounted only while open; when it goes, focus returns to the control that opened it.
 */
export function Modal({
  title,
  onClose,
  children,
}: {
  title: string;
  onClose: () => void;
  children: React.ReactNode;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  const onCloseRef = useRef(onClose);
  useEffect(() => {
    onCloseRef.current = onClose;
  }, [onClose]);

  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    const closed = () => onCloseRef.current();
    dialog.addEventListener('close', closed);
    dialog.showModal();
    return () => {
      // Removed first: closing because the parent unmounted us is not the user closing the dialog.
      dialog.removeEventListener('close', closed);
      if (dialog.open) dialog.close();
      if (opener?.isConnected) opener.focus();
    };
  }, []);

  return (
    <dialog ref={ref} aria-labelledby={titleId} className="modal">
      <h2 id={titleId}>{title}</h2>
      {children}
    </dialog>
  );
}

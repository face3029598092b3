import { useEffect, useId, useRef, useState } from 'react';

/**
 * A native modal <dialog>: the browser traps focus in it, makes the page behind it inert and closes it on Escape.
 * Mounted only while open; when it goes, focus returns to the control that opened it. Focus starts on the element
 * marked data-autofocus, if any (React's autoFocus would run before the dialog is shown, when nothing in it can
 * take focus).
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
  // Read while rendering, before anything in the dialog can have taken focus.
  const [opener] = useState(() =>
    document.activeElement instanceof HTMLElement ? document.activeElement : null,
  );
  const onCloseRef = useRef(onClose);
  useEffect(() => {
    onCloseRef.current = onClose;
  }, [onClose]);

  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    // A dialog that replaces another (the secret after the form) was opened from inside the one now gone, or from
    // nowhere once its disabled submit button lost focus: focus goes back to where that one returned it.
    const active = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    const fromPage =
      opener !== null && opener !== document.body && opener.isConnected && !opener.closest('dialog');
    const returnTo = fromPage ? opener : active;
    const closed = () => onCloseRef.current();
    dialog.addEventListener('close', closed);
    dialog.showModal();
    dialog.querySelector<HTMLElement>('[data-autofocus]')?.focus();
    return () => {
      // Removed first: closing because the parent unmounted us is not the user closing the dialog.
      dialog.removeEventListener('close', closed);
      if (dialog.open) dialog.close();
      // The opener may be gone with what the dialog did (a revoked key has no Revoke button): the page's heading
      // then takes focus, where a screen reader finds the status of what happened.
      if (returnTo?.isConnected && returnTo !== document.body) returnTo.focus();
      else document.querySelector<HTMLElement>('h1[tabindex="-1"]')?.focus();
    };
  }, [opener]);

  return (
    <dialog ref={ref} aria-labelledby={titleId} className="modal">
      <h2 id={titleId}>{title}</h2>
      {children}
    </dialog>
  );
}

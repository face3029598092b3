import { useEffect, useId, useRef, useState } from 'react';

/**
 * A native modal <dialog>: the browser traps focus in it, makes the page behind it inert and closes it on Escape.
 * Mounted only while open; when it goes, focus returns to the control that opened it, or to the page's heading
 * when that control is gone. Focus starts on the element
 * marked data-autofocus, if any (React's autoFocus would run before the dialog is shown, when nothing in it can
 * take focus).
 */
/**
 * What has focus, if anything does: the body means nothing (a button that disabled itself while its request ran
 * has dropped focus there), and "returning" focus to it would leave a keyboard user at the top of the document.
 */
function focusedControl(): HTMLElement | null {
  const active = document.activeElement;
  return active instanceof HTMLElement && active !== document.body ? active : null;
}

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
  const [opener] = useState(focusedControl);
  const onCloseRef = useRef(onClose);
  useEffect(() => {
    onCloseRef.current = onClose;
  }, [onClose]);

  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    // A dialog that replaces another (the secret after the form) was opened from inside the one now gone: focus
    // goes back to where that one returned it.
    const returnTo = opener?.isConnected ? opener : focusedControl();
    const closed = () => onCloseRef.current();
    dialog.addEventListener('close', closed);
    dialog.showModal();
    dialog.querySelector<HTMLElement>('[data-autofocus]')?.focus();
    return () => {
      // Removed first: closing because the parent unmounted us is not the user closing the dialog.
      dialog.removeEventListener('close', closed);
      if (dialog.open) dialog.close();
      // The opener can be gone by now (Rotate is not offered while a rotation runs): the page's heading takes focus
      // then, so a keyboard or screen reader user is not dropped at the top of the document.
      if (returnTo?.isConnected) returnTo.focus();
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

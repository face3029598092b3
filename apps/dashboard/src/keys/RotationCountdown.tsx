import { useEffect, useState } from 'react';
import { formatCountdown } from './key-rules';

/** Time left until the previous secret stops working, ticking every second. */
export function RotationCountdown({ retiresAt, now }: { retiresAt: string; now: () => Date }) {
  const [at, setAt] = useState(() => now().getTime());
  useEffect(() => {
    const timer = setInterval(() => setAt(now().getTime()), 1000);
    return () => clearInterval(timer);
  }, [now]);
  const left = Date.parse(retiresAt) - at;
  return (
    <p>
      The previous secret stops working in{' '}
      <span role="timer" aria-label="Time left in the grace period">
        {formatCountdown(left)}
      </span>
      .
    </p>
  );
}

import { useEffect, useState } from 'react';

/** The current time, updated every `ms` (for "12s ago"). */
export function useNow(ms = 5000): number {
  const [now, setNow] = useState(Date.now);
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(timer);
  }, [ms]);
  return now;
}

import { useEffect, useState } from 'react';

/** Hash routes (#/nodes/edge-1): the control plane serves one index.html, and back/forward just work. */
export function useRoute(): string[] {
  const read = () =>
    (window.location.hash.replace(/^#\/?/, '') || 'overview')
      .split('/')
      .filter(Boolean)
      .map((part) => decodeURIComponent(part));
  const [route, setRoute] = useState(read);
  useEffect(() => {
    const onChange = () => setRoute(read());
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  return route;
}

export function href(...parts: string[]): string {
  return `#/${parts.map((part) => encodeURIComponent(part)).join('/')}`;
}

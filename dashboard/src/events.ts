/**
 * Live events from GET /api/v1/events, read with fetch (not EventSource) so that the token goes
 * in the Authorization header, never in a URL. Reconnects with back-off; every (re)connection
 * starts with `hello`, on which the app refetches what it shows.
 */
import type { LiveEventMap, LiveEventName } from '../../src/contracts/live.js';

export type LiveHandler = <E extends LiveEventName>(event: E, data: LiveEventMap[E]) => void;
export type ConnectionState = 'connecting' | 'live' | 'reconnecting';

export function followEvents(
  token: string,
  onEvent: LiveHandler,
  onState: (state: ConnectionState) => void,
  onUnauthorized: (message: string) => void,
): () => void {
  const abort = new AbortController();
  let delay = 1000;

  async function connectOnce(): Promise<void> {
    const response = await fetch('/api/v1/events', {
      headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' },
      signal: abort.signal,
    });
    if (response.status === 401) {
      const body = (await response.json().catch(() => ({}))) as { message?: string };
      onUnauthorized(body.message ?? 'The token was refused');
      abort.abort();
      return;
    }
    if (!response.ok || !response.body) throw new Error(`events answered ${response.status}`);
    onState('live');
    delay = 1000;
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let event = 'message';
        const data: string[] = [];
        for (const line of block.split('\n')) {
          if (line.startsWith('event:')) event = line.slice(6).trim();
          else if (line.startsWith('data:')) data.push(line.slice(5).trimStart());
        }
        if (data.length === 0) continue;
        try {
          onEvent(event as LiveEventName, JSON.parse(data.join('\n')));
        } catch (error) {
          console.error('bad event', event, error);
        }
      }
    }
  }

  void (async () => {
    onState('connecting');
    while (!abort.signal.aborted) {
      try {
        await connectOnce();
      } catch {
        // network error or server restart: try again below
      }
      if (abort.signal.aborted) return;
      onState('reconnecting');
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 10_000);
    }
  })();
  return () => abort.abort();
}

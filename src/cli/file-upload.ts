import fs from 'node:fs';
import { Readable } from 'node:stream';
import { formatBytes } from './output.js';
import { ProgressBar } from './progress-bar.js';

/**
 * Streams a file as an upload body while a progress bar counts the bytes sent; once all are sent
 * the bar says what the server is doing with them. `send` gets the web stream (with `around`'s
 * bytes before and after the file, for a multipart body); the bar is closed whether it succeeds or fails.
 */
export async function uploadWithProgress<T>(
  file: string,
  afterSending: string,
  send: (body: ReadableStream<Uint8Array>) => Promise<T>,
  around: { before?: Uint8Array; after?: Uint8Array } = {},
): Promise<T> {
  const size = fs.statSync(file).size;
  const progress = new ProgressBar();
  let sent = 0;
  const counted = Readable.from(
    (async function* () {
      if (around.before) yield around.before;
      for await (const chunk of fs.createReadStream(file)) {
        sent += (chunk as Buffer).length;
        progress.update(size === 0 ? 1 : sent / size, `${formatBytes(sent)} of ${formatBytes(size)} sent`);
        yield chunk as Buffer;
      }
      if (around.after) yield around.after;
      progress.update(undefined, afterSending);
    })(),
  );
  try {
    return await send(Readable.toWeb(counted) as ReadableStream<Uint8Array>);
  } finally {
    progress.done();
  }
}

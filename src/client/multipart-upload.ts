import { randomBytes } from 'node:crypto';

/**
 * The bytes around a file in a multipart/form-data body whose text fields come first and whose
 * file is the last part: the caller streams `before`, the file, then `after`, so a large file is
 * never held in memory.
 */
export function multipartAroundFile(
  fields: ReadonlyArray<[string, string]>,
  file: { field: string; fileName: string },
): { contentType: string; before: Buffer; after: Buffer } {
  const boundary = `fogline-${randomBytes(12).toString('hex')}`;
  const quote = (text: string) => text.replace(/["\r\n\\]/g, '_');
  const head = fields.map(
    ([name, value]) =>
      `--${boundary}\r\nContent-Disposition: form-data; name="${quote(name)}"\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n${value}\r\n`,
  );
  head.push(
    `--${boundary}\r\nContent-Disposition: form-data; name="${quote(file.field)}"; filename="${quote(file.fileName)}"\r\nContent-Type: application/octet-stream\r\n\r\n`,
  );
  return {
    contentType: `multipart/form-data; boundary=${boundary}`,
    before: Buffer.from(head.join(''), 'utf8'),
    after: Buffer.from(`\r\n--${boundary}--\r\n`, 'utf8'),
  };
}

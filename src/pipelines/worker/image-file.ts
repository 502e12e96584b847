import type { ImageData } from '../../ml/image/train-image-classifier.js';

/** Parsed images as bytes: a JSON header, then the float32 pixels and the int32 labels. */
export function encodeImages(data: ImageData): Uint8Array {
  const header = Buffer.from(
    JSON.stringify({
      height: data.height,
      width: data.width,
      channels: data.channels,
      classNames: data.classNames,
      count: data.labels.length,
    }),
  );
  const pixels = Buffer.from(data.pixels.buffer, data.pixels.byteOffset, data.pixels.byteLength);
  const labels = Buffer.from(data.labels.buffer, data.labels.byteOffset, data.labels.byteLength);
  return Buffer.concat([Buffer.from(Uint32Array.of(header.length).buffer), header, pixels, labels]);
}

export function decodeImages(bytes: Buffer): ImageData {
  const headerLength = bytes.readUInt32LE(0);
  const header = JSON.parse(bytes.subarray(4, 4 + headerLength).toString()) as Omit<ImageData, 'pixels' | 'labels'> & { count: number };
  const pixelsAt = 4 + headerLength;
  const pixelCount = header.count * header.height * header.width * header.channels;
  // Copies, so that the typed arrays are aligned whatever the file's layout.
  const pixels = new Float32Array(new Uint8Array(bytes.subarray(pixelsAt, pixelsAt + pixelCount * 4)).buffer);
  const labels = new Int32Array(
    new Uint8Array(bytes.subarray(pixelsAt + pixelCount * 4, pixelsAt + pixelCount * 4 + header.count * 4)).buffer,
  );
  return { height: header.height, width: header.width, channels: header.channels, classNames: header.classNames, pixels, labels };
}

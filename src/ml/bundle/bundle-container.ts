import { createHash } from 'node:crypto';
import { MlInputError } from '../errors.js';
import { canonicalJson } from './canonical-json.js';

// Layout (all integers little-endian):
//   0  "FOGLBNDL"              magic, 8 bytes
//   8  uint32 format version   (1)
//  12  uint32 manifest length  M
//  16  manifest               M bytes of canonical JSON (UTF-8), which lists `files` with name, size and sha256
//  16+M file contents          concatenated in the order of manifest.files
//  end-32 sha256               of every byte before it, so truncation and bit flips are caught before parsing
const MAGIC = new TextEncoder().encode('FOGLBNDL');
export const BUNDLE_FORMAT_VERSION = 1;
const HEADER = 16;
const TRAILER = 32;

export interface BundleFileEntry {
  name: string;
  size: number;
  sha256: string;
}

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** Packs a manifest and named files into one byte-deterministic container; adds `files` to the manifest. */
export function encodeContainer(manifest: Record<string, unknown>, files: ReadonlyArray<{ name: string; bytes: Uint8Array }>): Uint8Array {
  const entries: BundleFileEntry[] = files.map((f) => ({ name: f.name, size: f.bytes.byteLength, sha256: sha256(f.bytes) }));
  const manifestBytes = new TextEncoder().encode(canonicalJson({ ...manifest, files: entries }));
  const payload = files.reduce((n, f) => n + f.bytes.byteLength, 0);
  const out = new Uint8Array(HEADER + manifestBytes.byteLength + payload + TRAILER);
  const view = new DataView(out.buffer);
  out.set(MAGIC, 0);
  view.setUint32(8, BUNDLE_FORMAT_VERSION, true);
  view.setUint32(12, manifestBytes.byteLength, true);
  out.set(manifestBytes, HEADER);
  let offset = HEADER + manifestBytes.byteLength;
  for (const f of files) {
    out.set(f.bytes, offset);
    offset += f.bytes.byteLength;
  }
  out.set(createHash('sha256').update(out.subarray(0, offset)).digest(), offset);
  return out;
}

export interface DecodedContainer {
  manifest: Record<string, unknown> & { files: BundleFileEntry[] };
  files: Map<string, Uint8Array>;
}

/** Unpacks and verifies a container; every way it can be damaged gives an MlInputError that says so. */
export function decodeContainer(bytes: Uint8Array): DecodedContainer {
  if (bytes.byteLength >= MAGIC.length && !MAGIC.every((b, i) => bytes[i] === b)) {
    throw new MlInputError('bundle-corrupt', 'This is not a Fogline model bundle (it does not start with "FOGLBNDL").');
  }
  if (bytes.byteLength < HEADER + TRAILER) {
    throw new MlInputError('bundle-truncated', `The bundle is ${bytes.byteLength} bytes, too short to be complete; download it again.`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(8, true);
  if (version !== BUNDLE_FORMAT_VERSION) {
    throw new MlInputError(
      'bundle-unsupported',
      `The bundle has format version ${version}; this Fogline reads version ${BUNDLE_FORMAT_VERSION}.`,
    );
  }
  const manifestLength = view.getUint32(12, true);
  if (HEADER + manifestLength + TRAILER > bytes.byteLength) {
    throw new MlInputError('bundle-truncated', 'The bundle ends inside its manifest: it is truncated; download it again.');
  }
  let manifest: DecodedContainer['manifest'];
  try {
    manifest = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(HEADER, HEADER + manifestLength)));
  } catch {
    throw new MlInputError('bundle-corrupt', 'The bundle manifest is not valid JSON: the file is damaged; download it again.');
  }
  if (!Array.isArray(manifest?.files)) throw new MlInputError('bundle-corrupt', 'The bundle manifest lists no files.');
  const expected =
    HEADER + manifestLength + manifest.files.reduce((n, f) => n + (Number.isSafeInteger(f?.size) ? f.size : Number.NaN), 0) + TRAILER;
  if (Number.isNaN(expected)) throw new MlInputError('bundle-corrupt', 'The bundle manifest has a file without a valid size.');
  if (bytes.byteLength < expected) {
    throw new MlInputError(
      'bundle-truncated',
      `The bundle is ${bytes.byteLength} bytes but its manifest describes ${expected}: it is truncated; download it again.`,
    );
  }
  if (bytes.byteLength > expected)
    throw new MlInputError('bundle-corrupt', `The bundle has ${bytes.byteLength - expected} unexpected trailing bytes.`);
  const body = bytes.subarray(0, expected - TRAILER);
  if (
    !createHash('sha256')
      .update(body)
      .digest()
      .equals(bytes.subarray(expected - TRAILER))
  ) {
    throw new MlInputError('bundle-corrupt', 'The bundle checksum does not match its contents: the file is damaged; download it again.');
  }
  const files = new Map<string, Uint8Array>();
  let offset = HEADER + manifestLength;
  for (const entry of manifest.files) {
    const content = bytes.subarray(offset, offset + entry.size);
    if (sha256(content) !== entry.sha256)
      throw new MlInputError('bundle-corrupt', `Bundle file "${entry.name}" does not match its sha256.`);
    files.set(entry.name, content);
    offset += entry.size;
  }
  return { manifest, files };
}

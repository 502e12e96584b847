import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject, sign, verify } from 'node:crypto';
import fs from 'node:fs';
import { writePrivateFile } from '../files/private-file.js';

/**
 * What the registry signs for a model version: its identity and the bundle's digest, so that a
 * valid signature cannot be replayed onto another model or version.
 */
export function signedMessage(model: string, version: number, sha256: string): Buffer {
  return Buffer.from(`fogline.bundle.v1\n${model}\n${version}\n${sha256}`, 'utf8');
}

/** The control plane's ed25519 key: signs every registered bundle; agents verify with the public half. */
export class SigningKey {
  private constructor(
    private readonly privateKey: KeyObject,
    readonly publicKeyPem: string,
  ) {}

  /** Loads the key from `file`, creating it (mode 0600) on first use. */
  static loadOrCreate(file: string): SigningKey {
    let pem: string;
    if (fs.existsSync(file)) {
      pem = fs.readFileSync(file, 'utf8');
    } else {
      pem = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
      writePrivateFile(file, pem);
    }
    const privateKey = createPrivateKey(pem);
    if (privateKey.asymmetricKeyType !== 'ed25519') throw new Error(`${file} is not an ed25519 private key`);
    const publicKeyPem = createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString();
    return new SigningKey(privateKey, publicKeyPem);
  }

  /** Signs arbitrary bytes (session tokens: src/sessions/session-token.ts); base64. */
  signBytes(message: Buffer): string {
    return sign(null, message, this.privateKey).toString('base64url');
  }

  sign(model: string, version: number, sha256: string): string {
    return sign(null, signedMessage(model, version, sha256), this.privateKey).toString('base64');
  }
}

/** Checks a bundle signature against a published public key (what agents do before loading). */
export function verifyBundleSignature(publicKeyPem: string, model: string, version: number, sha256: string, signature: string): boolean {
  try {
    return verify(null, signedMessage(model, version, sha256), createPublicKey(publicKeyPem), Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
}

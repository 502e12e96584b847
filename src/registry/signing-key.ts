import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject, sign, verify } from 'node:crypto';
import fs from 'node:fs';
import { ConfigError } from '../errors/config-error.js';
import { writePrivateFile } from '../files/private-file.js';

/**
 * What the registry signs for a model version: its identity and the bundle's digest, so that a
 * valid signature cannot be replayed onto another model or version.
 */
export function signedMessage(model: string, version: number, sha256: string): Buffer {
  return Buffer.from(`fogline.bundle.v1\n${model}\n${version}\n${sha256}`, 'utf8');
}

export interface SigningKeySource {
  /** The PEM itself (from a secret in the environment). */
  pem?: string | undefined;
  /** A PEM file provided by the operator (a mounted secret); never created. */
  file?: string | undefined;
  /** The data dir's own key file, created on first use when neither is given. */
  defaultFile: string;
}

/** The control plane's ed25519 key: signs every registered bundle; agents verify with the public half. */
export class SigningKey {
  private constructor(
    private readonly privateKey: KeyObject,
    readonly publicKeyPem: string,
  ) {}

  /** Loads the key from `file`, creating it (mode 0600) on first use: one control plane's own key. */
  static loadOrCreate(file: string): SigningKey {
    if (fs.existsSync(file)) return SigningKey.fromPem(fs.readFileSync(file, 'utf8'), file);
    const pem = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    writePrivateFile(file, pem);
    return SigningKey.fromPem(pem, file);
  }

  /**
   * The key from a PEM (PKCS#8 ed25519 private key) that an operator provides, such as a mounted
   * secret: control-plane replicas given the same key sign identically. `source` names where the
   * PEM came from in errors; the PEM itself never appears in one.
   */
  static fromPem(pem: string, source: string): SigningKey {
    let privateKey: KeyObject;
    try {
      privateKey = createPrivateKey(pem);
    } catch (error) {
      throw new ConfigError(
        `${source} does not hold a PEM private key (${(error as Error).message}); create one with: openssl genpkey -algorithm ed25519`,
      );
    }
    if (privateKey.asymmetricKeyType !== 'ed25519') {
      throw new ConfigError(
        `${source} holds a ${privateKey.asymmetricKeyType ?? 'non-asymmetric'} key; the registry signs with ed25519 (openssl genpkey -algorithm ed25519)`,
      );
    }
    const publicKeyPem = createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString();
    return new SigningKey(privateKey, publicKeyPem);
  }

  /**
   * The registry's key as configured: the PEM itself (FOGLINE_SIGNING_KEY), else a PEM file
   * (--signing-key-file), else `defaultFile` in the data dir, created on first use. Replicas
   * that share a database must be given the same key by one of the first two.
   */
  static configured(source: SigningKeySource): SigningKey {
    if (source.pem !== undefined && source.file !== undefined) {
      throw new ConfigError('Give the signing key either as FOGLINE_SIGNING_KEY (the PEM) or as --signing-key-file, not both');
    }
    // An environment variable may carry the PEM's line breaks escaped as \n (one-line secrets).
    if (source.pem !== undefined)
      return SigningKey.fromPem(source.pem.includes('\n') ? source.pem : source.pem.replaceAll('\\n', '\n'), 'FOGLINE_SIGNING_KEY');
    if (source.file !== undefined) {
      let pem: string;
      try {
        pem = fs.readFileSync(source.file, 'utf8');
      } catch (error) {
        throw new ConfigError(`Cannot read the signing key file ${source.file} (--signing-key-file): ${(error as Error).message}`);
      }
      return SigningKey.fromPem(pem, source.file);
    }
    return SigningKey.loadOrCreate(source.defaultFile);
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

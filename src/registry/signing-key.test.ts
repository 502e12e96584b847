import { generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../errors/config-error.js';
import { SigningKey, verifyBundleSignature } from './signing-key.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fogline-signing-key-'));
const ed25519Pem = () => generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const sha = 'ab'.repeat(32);

describe('the registry signing key', () => {
  it('signs identically on two replicas given the same PEM, as a file or as the variable', () => {
    const pem = ed25519Pem();
    const file = path.join(dir, 'shared.pem');
    fs.writeFileSync(file, pem);
    const first = SigningKey.configured({ file, defaultFile: path.join(dir, 'a', 'signing-key.pem') });
    const second = SigningKey.configured({ pem, defaultFile: path.join(dir, 'b', 'signing-key.pem') });
    expect(second.publicKeyPem).toBe(first.publicKeyPem);
    const signature = first.sign('energy', 3, sha);
    expect(second.sign('energy', 3, sha)).toBe(signature);
    expect(verifyBundleSignature(second.publicKeyPem, 'energy', 3, sha, signature)).toBe(true);
    // Neither replica wrote a key of its own.
    expect(fs.existsSync(path.join(dir, 'a'))).toBe(false);
    expect(fs.existsSync(path.join(dir, 'b'))).toBe(false);
  });

  it('accepts a PEM whose line breaks a one-line secret escaped as \\n', () => {
    const pem = ed25519Pem();
    const escaped = SigningKey.configured({ pem: pem.trim().replaceAll('\n', '\\n'), defaultFile: path.join(dir, 'unused.pem') });
    expect(escaped.publicKeyPem).toBe(SigningKey.fromPem(pem, 'test').publicKeyPem);
  });

  it('keeps the data dir key by default: created once, the same on the next start', () => {
    const defaultFile = path.join(dir, 'own', 'signing-key.pem');
    const created = SigningKey.configured({ defaultFile });
    expect(fs.statSync(defaultFile).mode & 0o777).toBe(0o600);
    expect(SigningKey.configured({ defaultFile }).publicKeyPem).toBe(created.publicKeyPem);
  });

  it('refuses a key it cannot sign with, naming where it came from but never showing it', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const defaultFile = path.join(dir, 'never.pem');
    expect(() => SigningKey.configured({ pem: rsa, defaultFile })).toThrow(
      /FOGLINE_SIGNING_KEY holds a rsa key; the registry signs with ed25519/,
    );
    expect(() => SigningKey.configured({ pem: 'not a key', defaultFile })).toThrow(ConfigError);
    expect(() => SigningKey.configured({ pem: 'not a key', defaultFile })).not.toThrow(/not a key/);
    expect(() => SigningKey.configured({ file: path.join(dir, 'missing.pem'), defaultFile })).toThrow(
      /Cannot read the signing key file .*missing\.pem/,
    );
    expect(() => SigningKey.configured({ pem: ed25519Pem(), file: path.join(dir, 'shared.pem'), defaultFile })).toThrow(/not both/);
    expect(fs.existsSync(defaultFile)).toBe(false);
  });
});

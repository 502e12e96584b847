import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { DesiredDeployment } from '../../contracts/deployments.js';
import { SigningKey } from '../../registry/signing-key.js';

/** A registry signing key in a fresh temporary folder, as the control plane keeps one. */
export function testSigningKey(): SigningKey {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fogline-key-'));
  return SigningKey.loadOrCreate(path.join(dir, 'registry.key'));
}

/** The desired entry the control plane would send for `bytes` as `model` version `version`. */
export function signedDeployment(key: SigningKey, bytes: Uint8Array, version = 1, name = 'energy', model = 'energy'): DesiredDeployment {
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  return {
    name,
    model,
    version,
    kind: 'forecaster',
    sha256,
    signature: key.sign(model, version, sha256),
    sizeBytes: bytes.length,
    downloadPath: `/api/v1/nodes/n1/artifacts/${model}/${version}`,
    ioSignature: { inputs: [], outputs: [] },
  };
}

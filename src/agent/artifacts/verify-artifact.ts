import { createHash } from 'node:crypto';
import fs from 'node:fs';
import type { DesiredDeployment } from '../../contracts/deployments.js';
import { verifyBundleSignature } from '../../registry/signing-key.js';
import { ArtifactRefused } from './artifact-refused.js';

/** The sha256 of a file, streamed so that large bundles never sit in memory twice. */
export async function fileSha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of fs.createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * Refuses `bytes` unless they are exactly the bundle the registry signed for this deployment:
 * the size, the sha256 and the ed25519 signature over (model, version, sha256) must all match.
 */
export function verifyArtifact(bytes: Uint8Array, deployment: DesiredDeployment, publicKeyPem: string): void {
  const label = `${deployment.model} version ${deployment.version}`;
  if (bytes.length !== deployment.sizeBytes) {
    throw new ArtifactRefused(`the artifact of ${label} has ${bytes.length} bytes, not ${deployment.sizeBytes} (truncated or corrupt)`);
  }
  const digest = createHash('sha256').update(bytes).digest('hex');
  if (digest !== deployment.sha256) {
    throw new ArtifactRefused(`the artifact of ${label} does not match its sha256 (corrupt): got ${digest.slice(0, 12)}…`);
  }
  verifySignature(deployment, publicKeyPem);
}

/** The signature binds the digest to the model and version, so a valid bundle cannot be replayed as another. */
export function verifySignature(deployment: DesiredDeployment, publicKeyPem: string): void {
  if (!verifyBundleSignature(publicKeyPem, deployment.model, deployment.version, deployment.sha256, deployment.signature)) {
    throw new ArtifactRefused(
      `the artifact of ${deployment.model} version ${deployment.version} is not signed by the registry (bad or missing signature)`,
    );
  }
}

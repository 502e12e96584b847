import fs from 'node:fs';
import { Agent, setGlobalDispatcher } from 'undici';
import { ConfigError } from '../errors/config-error.js';

export interface TlsFiles {
  tlsCert?: string | undefined;
  tlsKey?: string | undefined;
}

/** The HTTPS options for a server given a certificate and key file; undefined for plain HTTP. */
export function httpsOptions(files: TlsFiles): { cert: Buffer; key: Buffer } | undefined {
  if (!files.tlsCert && !files.tlsKey) return undefined;
  if (!files.tlsCert || !files.tlsKey) {
    throw new ConfigError('HTTPS needs both --tls-cert and --tls-key (PEM files): give both, or neither for plain HTTP');
  }
  return { cert: readPem(files.tlsCert, '--tls-cert'), key: readPem(files.tlsKey, '--tls-key') };
}

/**
 * Mutual TLS for a server: a client must present a certificate chained to the CA in `file`, or
 * the TLS handshake fails (before any HTTP request is read).
 */
export function clientCertificateOptions(file: string): { ca: Buffer; requestCert: true; rejectUnauthorized: true } {
  return { ca: readPem(file, '--client-ca'), requestCert: true, rejectUnauthorized: true };
}

/**
 * Trusts only the CA in `file` for this process's outgoing HTTPS (fetch): the control plane's
 * certificate must chain to it, whatever the system trusts. That pins the control plane's CA.
 */
export function pinCertificateAuthority(file: string | undefined): void {
  if (!file) return;
  setGlobalDispatcher(new Agent({ connect: { ca: readPem(file, '--ca') } }));
}

function readPem(file: string, flag: string): Buffer {
  let content: Buffer;
  try {
    content = fs.readFileSync(file);
  } catch (error) {
    throw new ConfigError(`${flag} ${file} cannot be read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  if (!content.includes('-----BEGIN ')) throw new ConfigError(`${flag} ${file} is not a PEM file (no "-----BEGIN" line)`);
  return content;
}

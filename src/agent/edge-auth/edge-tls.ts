import type { EdgeAuthMode } from '../../contracts/edge-access.js';
import { ConfigError } from '../../errors/config-error.js';
import { clientCertificateOptions, httpsOptions } from '../../http/tls.js';

export interface EdgeTlsConfig {
  tlsCert?: string | undefined;
  tlsKey?: string | undefined;
  edgeAuth: EdgeAuthMode;
  clientCa?: string | undefined;
}

/**
 * The agent's HTTPS options: its certificate (--tls-cert, --tls-key), and with `--edge-auth mtls`
 * the CA client certificates must chain to (--client-ca). Undefined for plain HTTP. A setting
 * that cannot work is refused at start-up rather than served open.
 */
export function edgeHttpsOptions(config: EdgeTlsConfig): ReturnType<typeof httpsOptions> {
  const https = httpsOptions(config);
  if (config.edgeAuth !== 'mtls') {
    if (config.clientCa) throw new ConfigError('--client-ca is used only with --edge-auth mtls');
    return https;
  }
  if (!https) throw new ConfigError('--edge-auth mtls needs HTTPS: give --tls-cert and --tls-key, and --client-ca');
  if (!config.clientCa) throw new ConfigError('--edge-auth mtls needs --client-ca <file>: the CA that client certificates must chain to');
  return { ...https, ...clientCertificateOptions(config.clientCa) };
}

/** Listening addresses only this machine can reach. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

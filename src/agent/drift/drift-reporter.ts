import type { FastifyBaseLogger } from 'fastify';
import { type BearerToken, bearerValue } from '../../client/bearer-token.js';
import type { DriftReportReceipt, DriftSampleReceipt, DriftSampleRefusal } from '../../contracts/drift.js';
import type { DriftMonitoredModels } from './drift-models.js';

export interface DriftReporterOptions {
  server: string;
  nodeId: string;
  /** The node credential, read for each request (it changes when rotated). */
  credential: BearerToken;
  /** Until the control plane says otherwise (default 60 s). */
  intervalSeconds?: number;
}

/**
 * Sends the node's drift summaries to the control plane on a schedule
 * (`POST /api/v1/drift/nodes/{id}/reports`, node credential). The answer sets the next interval
 * and each deployment's windows (from its drift policy). A failed send is simply tried again at the
 * next tick: summaries are state, not a log, so nothing is lost by skipping one.
 *
 * Where a deployment's policy consents to sample upload, the answer also says up to when the
 * control plane has the data (`samplesAfter`); the reporter then sends the newer actuals it kept
 * (`POST …/samples`). An upload that fails or whose answer is lost is sent again after the next
 * report, which says up to when the control plane has the data: resumable, never doubling a row.
 * Rows the control plane refuses (a 400 that names each; the others are kept) are dropped, so that
 * one bad value never holds back the good ones.
 */
export class DriftReporter {
  private timer: NodeJS.Timeout | undefined;
  private intervalSeconds: number;
  private stopped = false;
  private sending: Promise<void> = Promise.resolve();

  constructor(
    private readonly models: DriftMonitoredModels,
    private readonly options: DriftReporterOptions,
    private readonly log?: FastifyBaseLogger,
  ) {
    this.intervalSeconds = options.intervalSeconds ?? 60;
  }

  start(): void {
    this.schedule(1000);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.sending;
  }

  /** Sends now; resolves when the answer is in (or the send failed). */
  async sendNow(): Promise<void> {
    const url = `${this.options.server.replace(/\/+$/, '')}/api/v1/drift/nodes/${encodeURIComponent(this.options.nodeId)}/reports`;
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: { authorization: `Bearer ${bearerValue(this.options.credential)}`, 'content-type': 'application/json' },
        body: JSON.stringify({ reports: this.models.reports() }),
        signal: AbortSignal.timeout(10_000),
      });
      if (!response.ok) {
        this.log?.warn({ status: response.status }, 'drift report refused');
        return;
      }
      const receipt = (await response.json()) as DriftReportReceipt;
      this.intervalSeconds = Math.max(1, receipt.reportIntervalSeconds);
      this.models.windows = new Map(Object.entries(receipt.deployments));
    } catch (error) {
      this.log?.debug({ err: error }, 'drift report not sent; trying again at the next interval');
      return;
    }
    await this.uploadSamples();
  }

  private async uploadSamples(): Promise<void> {
    const url = `${this.options.server.replace(/\/+$/, '')}/api/v1/drift/nodes/${encodeURIComponent(this.options.nodeId)}/samples`;
    for (const batch of this.models.samplesToUpload()) {
      try {
        const response = await fetch(url, {
          method: 'POST',
          headers: { authorization: `Bearer ${bearerValue(this.options.credential)}`, 'content-type': 'application/json' },
          body: JSON.stringify(batch),
          signal: AbortSignal.timeout(30_000),
        });
        const refusal = response.status === 400 ? await refusedRows(response) : undefined;
        if (refusal) {
          // The valid rows were kept; the refused ones would only be refused again: they are dropped.
          this.models.dropSamples(
            batch.deployment,
            refusal.refused.flatMap((r) => batch.samples[r.row]?.time ?? []),
          );
          const windows = this.models.windows.get(batch.deployment);
          if (windows) windows.samplesAfter = refusal.samplesAfter;
          this.log?.warn(
            {
              deployment: batch.deployment,
              accepted: refusal.accepted,
              refused: refusal.refused.length,
              datasetVersion: refusal.datasetVersion,
            },
            `drift samples: ${refusal.refused.length} refused and dropped (${refusal.refused[0]?.message ?? ''}), ${refusal.accepted} kept`,
          );
          continue;
        }
        if (!response.ok) {
          this.log?.warn({ status: response.status, deployment: batch.deployment }, 'drift samples refused');
          continue;
        }
        const receipt = (await response.json()) as DriftSampleReceipt;
        const windows = this.models.windows.get(batch.deployment);
        if (windows) windows.samplesAfter = receipt.samplesAfter;
        this.log?.info({ deployment: batch.deployment, ...receipt }, 'drift samples uploaded');
      } catch (error) {
        this.log?.debug({ err: error, deployment: batch.deployment }, 'drift samples not sent; trying again after the next report');
      }
    }
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.sending = this.sendNow().finally(() => this.schedule(this.intervalSeconds * 1000));
    }, ms);
    this.timer.unref();
  }
}

/** The refused rows of a 400 FOGLINE_ERR_DRIFT_SAMPLES_INVALID; undefined for any other 400 (kept for the next try). */
async function refusedRows(response: Response): Promise<DriftSampleRefusal | undefined> {
  const body = (await response.json().catch(() => undefined)) as { code?: string; details?: DriftSampleRefusal } | undefined;
  return body?.code === 'FOGLINE_ERR_DRIFT_SAMPLES_INVALID' && Array.isArray(body.details?.refused) ? body.details : undefined;
}

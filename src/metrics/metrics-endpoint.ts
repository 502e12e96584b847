import type { FastifyReply } from 'fastify';
import type { Registry } from 'prom-client';

/** Serializes scrapes: concurrent callers share one refresh and one rendering of the registry. */
export class ScrapeQueue {
  private inFlight: Promise<string> | null = null;

  constructor(
    private readonly registry: Registry,
    private readonly refresh: () => Promise<void>,
  ) {}

  render(): Promise<string> {
    this.inFlight ??= (async () => {
      try {
        await this.refresh();
        return await this.registry.metrics();
      } finally {
        this.inFlight = null;
      }
    })();
    return this.inFlight;
  }

  async send(reply: FastifyReply): Promise<FastifyReply> {
    const text = await this.render();
    return reply.header('content-type', this.registry.contentType).header('cache-control', 'no-store').send(text);
  }
}

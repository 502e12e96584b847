import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

/** Where `npm run build` puts the dashboard (vite build of dashboard/). */
export function defaultDashboardDir(): string {
  const here = fileURLToPath(import.meta.url);
  // dist/control-plane/routes/ui-routes.js -> dist/dashboard; from the sources (tests): ../../../dist/dashboard
  return here.endsWith('.ts')
    ? path.resolve(path.dirname(here), '../../../dist/dashboard')
    : path.resolve(path.dirname(here), '../../dashboard');
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.woff2': 'font/woff2',
  '.map': 'application/json; charset=utf-8',
};
const COMPRESSIBLE = new Set(['.html', '.js', '.css', '.svg', '.json', '.txt', '.map']);

interface CachedFile {
  mtimeMs: number;
  size: number;
  body: Buffer;
  gzip: Buffer | null;
  etag: string;
}

const NOT_BUILT = (dir: string) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Fogline dashboard not built</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; line-height: 1.5">
<h1>The Fogline dashboard is not built</h1>
<p>The control plane serves the dashboard from <code>${dir.replace(/[<>&]/g, '')}</code>, and there is no
<code>index.html</code> there. Run <code>npm run build</code> (or <code>npm ci</code>, which builds it) in the
Fogline folder, then reload this page. The REST API works without it:
<a href="/api/v1/openapi.json">/api/v1/openapi.json</a>.</p>
</body></html>`;

/**
 * Serves the built dashboard under `/ui/` on the control plane's origin (public files: the data
 * behind them needs a token), and redirects `/` there. Hashed assets are cached for a year;
 * index.html is revalidated on every load (ETag), so a rebuild shows at once. Files are read once
 * and kept in memory with their gzip form; a changed file (size or mtime) is read again.
 */
export function uiRoutes(options: { dashboardDir?: string } = {}): FastifyPluginAsyncTypebox {
  const root = path.resolve(options.dashboardDir ?? defaultDashboardDir());
  const cache = new Map<string, CachedFile>();

  function load(file: string): CachedFile | null {
    let stat: fs.Stats;
    try {
      stat = fs.statSync(file);
    } catch {
      return null;
    }
    if (!stat.isFile()) return null;
    const cached = cache.get(file);
    if (cached && cached.mtimeMs === stat.mtimeMs && cached.size === stat.size) return cached;
    const body = fs.readFileSync(file);
    const ext = path.extname(file);
    const entry: CachedFile = {
      mtimeMs: stat.mtimeMs,
      size: stat.size,
      body,
      gzip: COMPRESSIBLE.has(ext) && body.length > 1024 ? gzipSync(body) : null,
      etag: `"${stat.size.toString(16)}-${Math.floor(stat.mtimeMs).toString(16)}"`,
    };
    cache.set(file, entry);
    return entry;
  }

  return async (app) => {
    const common = { schema: { hide: true }, config: { access: 'public' as const } };

    app.get('/', common, async (_request, reply) => reply.redirect('/ui/', 302));
    app.get('/ui', common, async (_request, reply) => reply.redirect('/ui/', 301));

    app.get('/ui/*', common, async (request, reply) => {
      // Already percent-decoded by the router; the check below keeps it inside the build folder.
      const wanted = (request.params as { '*': string })['*'] ?? '';
      let file = path.resolve(root, wanted === '' ? 'index.html' : wanted);
      if (file !== root && !file.startsWith(root + path.sep)) {
        return reply.status(404).type('text/plain; charset=utf-8').send('Not found');
      }
      // Paths without an extension belong to the single-page app: index.html answers them.
      if (path.extname(file) === '') file = path.join(root, 'index.html');
      const entry = load(file);
      if (!entry) {
        if (file === path.join(root, 'index.html')) {
          return reply.status(503).header('cache-control', 'no-store').type('text/html; charset=utf-8').send(NOT_BUILT(root));
        }
        return reply.status(404).type('text/plain; charset=utf-8').send('Not found');
      }
      const ext = path.extname(file);
      const immutable = file.startsWith(path.join(root, 'assets') + path.sep);
      reply.header('content-type', CONTENT_TYPES[ext] ?? 'application/octet-stream');
      reply.header('cache-control', immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
      reply.header('etag', entry.etag);
      reply.header('x-content-type-options', 'nosniff');
      if (ext === '.html') {
        reply.header(
          'content-security-policy',
          "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
        );
        reply.header('referrer-policy', 'no-referrer');
      }
      if (request.headers['if-none-match'] === entry.etag) return reply.status(304).send();
      reply.header('vary', 'accept-encoding');
      if (entry.gzip && /\bgzip\b/.test(String(request.headers['accept-encoding'] ?? ''))) {
        reply.header('content-encoding', 'gzip');
        return reply.send(entry.gzip);
      }
      return reply.send(entry.body);
    });
  };
}

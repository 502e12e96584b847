// The image's health check: GET a Fogline /healthz and exit 0 when it answers 200, 1 otherwise.
//
//   node /app/healthcheck.mjs [url]
//
// Without a URL it probes the control plane on this container (FOGLINE_PORT, 7070 by default);
// give the agent's URL (http://127.0.0.1:7071/healthz) for an agent container. A worker serves no
// HTTP: its compose service checks the control plane it trains for instead.
const url = process.argv[2] ?? `http://127.0.0.1:${process.env.FOGLINE_PORT ?? '7070'}/healthz`;
try {
  const response = await fetch(url, { signal: AbortSignal.timeout(4000) });
  if (!response.ok) {
    console.error(`${url} answered ${response.status}`);
    process.exit(1);
  }
} catch (error) {
  console.error(`${url}: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}

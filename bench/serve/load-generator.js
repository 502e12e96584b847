#!/usr/bin/env node
// bench/serve load generator: runs in its OWN process (forked by run.js, or by hand), so that the
// client's JSON building and HTTP parsing do not share an event loop with the server it measures.
// `concurrency` loops each keep one request in flight over a keep-alive socket of their own
// (node:http Agent, maxSockets = concurrency), for `durationMs` after `warmupRequests`, all with
// the same prepared body. Answers other than 200 (and socket errors) count as failures.
//
// Forked: it waits for one IPC message (the job below) and answers with the result, then exits.
// By hand: node bench/serve/load-generator.js JOB.json  (prints the result as JSON on stdout)
//
// Job: { url, body (string), bodyEncoding?: 'utf8' | 'base64', headers?: {}, concurrency, durationMs,
//        warmupRequests?: 50, cpuPid?: the server's pid }
// Result: { requests, failures, seconds, rps, p50, p99, mean, max, firstFailure?, cpuMicrosPerRequest? }
// (latencies in ms; cpuMicrosPerRequest: the server's user + system CPU time over the measured
// window, from /proc/<cpuPid>/stat, divided by the requests answered in it)
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';

/** Runs one job; see the file comment. */
export async function runLoad(job) {
  const body = Buffer.from(job.body, job.bodyEncoding ?? 'utf8');
  const url = new URL(job.url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: job.concurrency, maxFreeSockets: job.concurrency });
  const options = {
    hostname: url.hostname,
    port: url.port,
    path: url.pathname + url.search,
    method: 'POST',
    agent,
    headers: { 'content-type': 'application/json', ...job.headers, 'content-length': body.byteLength },
  };
  let failures = 0;
  let firstFailure;
  const once = () =>
    new Promise((resolve) => {
      const request = http.request(options, (response) => {
        const ok = response.statusCode === 200;
        const chunks = [];
        if (ok) response.resume();
        else response.on('data', (chunk) => chunks.push(chunk));
        response.on('end', () => {
          if (!ok) {
            failures += 1;
            firstFailure ??= `HTTP ${response.statusCode}: ${Buffer.concat(chunks).toString().slice(0, 300)}`;
          }
          resolve(ok);
        });
        response.on('error', (error) => fail(error, resolve));
      });
      request.setTimeout(30_000, () => request.destroy(new Error('no answer within 30 s')));
      request.on('error', (error) => fail(error, resolve));
      request.end(body);
    });
  const fail = (error, resolve) => {
    failures += 1;
    firstFailure ??= error.message;
    resolve(false);
  };

  // Warm-up: JIT on both sides, sockets opened; not counted.
  const warmup = job.warmupRequests ?? 50;
  await Promise.all(
    Array.from({ length: job.concurrency }, async () => {
      for (let i = 0; i < Math.ceil(warmup / job.concurrency); i++) await once();
    }),
  );
  failures = 0;
  firstFailure = undefined;

  const latencies = [];
  const cpuBefore = job.cpuPid ? cpuMicros(job.cpuPid) : undefined;
  const started = performance.now();
  const deadline = started + job.durationMs;
  await Promise.all(
    Array.from({ length: job.concurrency }, async () => {
      while (performance.now() < deadline) {
        const t0 = performance.now();
        if (await once()) latencies.push(performance.now() - t0);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const cpu = cpuBefore === undefined ? undefined : cpuMicros(job.cpuPid) - cpuBefore;
  agent.destroy();
  const sorted = Float64Array.from(latencies).sort();
  const at = (p) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] : null);
  const mean = sorted.length ? sorted.reduce((a, b) => a + b, 0) / sorted.length : null;
  return {
    requests: sorted.length,
    failures,
    seconds,
    rps: sorted.length / seconds,
    p50: at(50),
    p99: at(99),
    mean,
    max: sorted.length ? sorted[sorted.length - 1] : null,
    ...(firstFailure ? { firstFailure } : {}),
    ...(cpu !== undefined ? { cpuMicrosPerRequest: cpu / Math.max(1, sorted.length + failures) } : {}),
  };
}

/** A process's user + system CPU time so far, µs (fields 14 and 15 of /proc/<pid>/stat, in clock ticks). */
function cpuMicros(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces: count fields from the closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) / clockTicks()) * 1e6;
}

let ticks;
function clockTicks() {
  ticks ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  return ticks;
}

const isMain = import.meta.url === `file://${process.argv[1]}`;
if (isMain && process.send) {
  process.once('message', async (job) => {
    try {
      process.send({ ok: true, result: await runLoad(job) }, () => process.exit(0));
    } catch (error) {
      process.send({ ok: false, error: error.stack ?? String(error) }, () => process.exit(1));
    }
  });
} else if (isMain) {
  if (!process.argv[2] || process.argv[2] === '--help') {
    console.log('usage: node bench/serve/load-generator.js JOB.json   (see the comment at the top of this file)');
    process.exit(process.argv[2] ? 0 : 2);
  }
  console.log(JSON.stringify(await runLoad(JSON.parse(fs.readFileSync(process.argv[2], 'utf8')))));
}

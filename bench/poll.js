// bench/poll.js [--latency-only] BASE RUN_ID [LATENCY_OUT]: wait for a
// ferry run to end, as a client of the API does, from one Node.js process
// and over kept-alive connections, so that the waiting costs the machine
// next to nothing.
//
//   - GET BASE/api/v1/runs/RUN_ID every 200 ms until its state is final; then
//     print the run's totals and its event log (the timeline of its tables
//     and steps) and exit 0 when it succeeded, 1 otherwise.
//   - With LATENCY_OUT, two more loops ask for BASE/api/v1/runs/RUN_ID/tables
//     about every 100 ms, one request at a time each, until the run ends:
//     one over a connection kept alive for the whole run, as the status page
//     polls (LATENCY_OUT), and one over a new connection per request
//     (LATENCY_OUT.fresh). Each line: the HTTP status and the seconds from
//     sending the request (opening the connection, for the second) to the
//     last byte of the answer.
//   - With --latency-only, nothing is printed and the exit status is 0
//     whatever the run's outcome: the process only times answers, beside
//     another one that reports the run.
'use strict';
const fs = require('fs');
const http = require('http');

const args = process.argv.slice(2);
const latencyOnly = args[0] === '--latency-only';
const [base, runId, latencyOut] = latencyOnly ? args.slice(1) : args;
if (!base || !runId || (latencyOnly && !latencyOut)) {
  console.error('usage: node bench/poll.js [--latency-only] BASE RUN_ID [LATENCY_OUT]');
  process.exit(2);
}
const kept = new http.Agent({ keepAlive: true, maxSockets: 1 });
const watch = new http.Agent({ keepAlive: true, maxSockets: 1 });
let ended = false;

// One GET: [status, body, nanoseconds]; status 0 when no answer came.
function get(path, agent) {
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    const req = http.get(base + path, { agent, timeout: 60000 }, (res) => {
      const parts = [];
      res.on('data', (c) => parts.push(c));
      res.on('end', () =>
        resolve([res.statusCode, Buffer.concat(parts).toString(), process.hrtime.bigint() - t0]));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', () => resolve([0, '', process.hrtime.bigint() - t0]));
  });
}

const pause = (ms) => new Promise((r) => setTimeout(r, ms));

async function latencyLoop(out, agent) {
  const fd = fs.openSync(out, 'w');
  while (!ended) {
    const [status, , ns] = await get(`/api/v1/runs/${runId}/tables`, agent);
    fs.writeSync(fd, `${String(status).padStart(3, '0')} ${(Number(ns) / 1e9).toFixed(6)}\n`);
    await pause(100);
  }
  fs.closeSync(fd);
}

// as long as a run of the bench may take before it counts as lost
const DEADLINE_MS = 6 * 3600 * 1000;

async function waitForEnd() {
  const until = Date.now() + DEADLINE_MS;
  for (;;) {
    if (Date.now() > until) throw new Error(`run ${runId} did not finish within 6 hours`);
    const [status, body] = await get(`/api/v1/runs/${runId}`, watch);
    if (status === 200) {
      const run = JSON.parse(body);
      if (['succeeded', 'failed', 'cancelled'].includes(run.state)) return run;
    } else if (status !== 0) {
      throw new Error(`GET /api/v1/runs/${runId}: HTTP ${status}: ${body}`);
    }
    await pause(200);
  }
}

(async () => {
  const loops = latencyOut
    ? [latencyLoop(latencyOut, kept), latencyLoop(`${latencyOut}.fresh`, false)]
    : [];
  let run;
  try {
    run = await waitForEnd();
  } finally {
    ended = true;
    await Promise.all(loops);
  }
  if (latencyOnly) {
    kept.destroy();
    watch.destroy();
    process.exit(0);
  }
  const { state, rows, bytes, elapsed_ms, started_at, finished_at, error } = run;
  console.log(JSON.stringify({ state, rows, bytes, elapsed_ms, started_at, finished_at, error }));
  const [status, body] = await get(`/api/v1/runs/${runId}/events?limit=1000`, watch);
  if (status === 200) {
    for (const ev of JSON.parse(body).items) {
      console.log(`${ev.at} ${ev.level} ${ev.table ?? 'run'}: ${ev.message}`);
    }
  }
  kept.destroy();
  watch.destroy();
  process.exit(state === 'succeeded' ? 0 : 1);
})().catch((err) => {
  console.error(`bench/poll.js: ${err.message}`);
  process.exit(1);
});

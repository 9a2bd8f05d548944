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
//   - With --slots N (ferryd's --workers), the event log is followed by the
//     run's timeline: every copy (each part of a table read in parts on a
//     lane of its own) and every post-load step with its start and end, the
//     lanes they ran on, and one line "timeline: ..." that sums it up:
//     seconds, copy and step seconds, and the idle slot seconds, the time
//     during which fewer than N copies, parts and steps ran at once.
'use strict';
const fs = require('fs');
const http = require('http');

const args = process.argv.slice(2);
let slots = 0;
const slotsAt = args.indexOf('--slots');
if (slotsAt >= 0) {
  slots = Number(args[slotsAt + 1]);
  args.splice(slotsAt, 2);
}
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

// Events that say "in N ms" at the end but are no post-load step: the
// planning's, and a copy's validation (inside the copy's own span).
const NOT_STEPS = new Set(['planned', 'create', 'type', 'snapshot', 'validation', 'run_started', 'run_finished']);

// Print the run's timeline from its events (see the head of this file).
function timeline(events, t0, t1) {
  const spans = []; // {from, to, what, copy}
  const open = new Map(); // table -> start of its copy
  for (const ev of events) {
    const at = Date.parse(ev.at);
    if (ev.kind === 'table_started') {
      open.set(ev.table, at);
    } else if (['table_loaded', 'table_failed', 'table_retry', 'table_cancelled'].includes(ev.kind) &&
               open.has(ev.table)) {
      const m = /, in (\d+) parts at once$/.exec(ev.message);
      const parts = m ? Number(m[1]) : 1;
      for (let i = 1; i <= parts; i++) {
        spans.push({ from: open.get(ev.table), to: at, copy: true,
          what: `copy ${ev.table}${parts > 1 ? ` (part ${i}/${parts})` : ''}${ev.kind === 'table_loaded' ? '' : ` [${ev.kind}]`}` });
      }
      open.delete(ev.table);
    } else if (!NOT_STEPS.has(ev.kind)) {
      const m = / in (\d+) ms$/.exec(ev.message);
      if (m) spans.push({ from: at - Number(m[1]), to: at, copy: false, what: `${ev.table ?? 'run'}: ${ev.message.replace(/ in \d+ ms$/, '')}` });
    }
  }
  spans.sort((a, b) => a.from - b.from || b.to - a.to);
  // lanes: each span on the first lane free at its start
  const lanes = [];
  for (const sp of spans) {
    let k = lanes.findIndex((lane) => lane.end <= sp.from);
    if (k < 0) {
      k = lanes.length;
      lanes.push({ end: 0, spans: [] });
    }
    lanes[k].end = sp.to;
    lanes[k].spans.push(sp);
  }
  const sec = (ms) => (ms / 1000).toFixed(1);
  console.log(`timeline of the run (seconds from its start; ${slots} worker slots):`);
  lanes.forEach((lane, i) => {
    console.log(`  lane ${i + 1}:`);
    for (const sp of lane.spans) console.log(`    ${sec(sp.from - t0).padStart(7)} - ${sec(sp.to - t0).padStart(7)}  ${sp.what}`);
  });
  // busy slot time: the integral of min(running, slots) over the run
  const edges = [];
  for (const sp of spans) {
    edges.push([Math.max(sp.from, t0), 1], [Math.min(sp.to, t1), -1]);
  }
  edges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let running = 0, last = t0, busy = 0;
  for (const [at, d] of edges) {
    busy += Math.min(running, slots) * Math.max(0, at - last);
    last = Math.max(last, at);
    running += d;
  }
  const wall = t1 - t0;
  const sum = (copy) => spans.filter((sp) => sp.copy === copy).reduce((a, sp) => a + sp.to - sp.from, 0);
  const idle = slots * wall - busy;
  console.log(`timeline: ${sec(wall)} s, copies ${sec(sum(true))} s (parts counted each), steps ${sec(sum(false))} s, ` +
    `idle ${sec(idle)} of ${sec(slots * wall)} slot s (${(100 * idle / (slots * wall || 1)).toFixed(0)}%), ` +
    `${lanes.length} lanes at most`);
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
  const events = [];
  for (let after = 0; ;) {
    const [status, body] = await get(`/api/v1/runs/${runId}/events?limit=1000&after=${after}`, watch);
    if (status !== 200) break;
    const page = JSON.parse(body);
    events.push(...page.items);
    if (!page.items.length || page.next_after == null || page.next_after === after) break;
    after = page.next_after;
  }
  for (const ev of events) {
    console.log(`${ev.at} ${ev.level} ${ev.table ?? 'run'}: ${ev.message}`);
  }
  if (slots > 0 && started_at && finished_at) {
    timeline(events, Date.parse(started_at), Date.parse(finished_at));
  }
  kept.destroy();
  watch.destroy();
  process.exit(state === 'succeeded' ? 0 : 1);
})().catch((err) => {
  console.error(`bench/poll.js: ${err.message}`);
  process.exit(1);
});

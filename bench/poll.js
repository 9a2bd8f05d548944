// bench/poll.js URL OUT PID: while process PID lives, GET URL about every
// 100 ms, one request at a time, over one kept-alive HTTP connection, as a
// status page polls; OUT gets one line per request: the HTTP status and the
// seconds from sending the request to the last byte of the answer.
'use strict';
const fs = require('fs');
const http = require('http');

const [url, out, pid] = process.argv.slice(2);
if (!url || !out || !pid) {
  console.error('usage: node bench/poll.js URL OUT PID');
  process.exit(2);
}
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const fd = fs.openSync(out, 'w');

function alive() {
  try {
    process.kill(Number(pid), 0);
    return true;
  } catch {
    return false;
  }
}

function get() {
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    const req = http.get(url, { agent, timeout: 30000 }, (res) => {
      res.on('data', () => {});
      res.on('end', () => resolve([res.statusCode, process.hrtime.bigint() - t0]));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', () => resolve([0, process.hrtime.bigint() - t0]));
  });
}

(async () => {
  while (alive()) {
    const [status, ns] = await get();
    fs.writeSync(fd, `${String(status).padStart(3, '0')} ${(Number(ns) / 1e9).toFixed(6)}\n`);
    await new Promise((r) => setTimeout(r, 100));
  }
  agent.destroy();
  fs.closeSync(fd);
})();

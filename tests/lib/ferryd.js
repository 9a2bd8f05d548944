// tests/lib/ferryd.js: start the real ferryd binary for integration tests
'use strict';

/*
 * const srv = await startFerryd({ meta: cluster.dsn('ferry_meta'), workers: 2 });
 * ... talk HTTP to srv.url ...
 * const { code, signal, ms } = await srv.stop();   // SIGTERM, wait for exit
 *
 * The binary is $FERRYD, or build/ferryd under the repository root. Output on
 * stdout and stderr is kept in memory (srv.log()); set FERRY_TEST_ECHO=1 to
 * also copy it to this process's stderr while it runs.
 */

const fs = require('node:fs');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { setTimeout: wait } = require('node:timers/promises');

const { repoRoot, freePort, atExit } = require('./util');

const HEALTH_TIMEOUT_MS = 15000;
const HEALTH_POLL_MS = 50;
const STOP_TIMEOUT_MS = 30000;
const LOG_CAP = 8 * 1024 * 1024;
const START_ATTEMPTS = 3;

/** Path of the server binary: $FERRYD (relative to the working directory) or build/ferryd. */
function ferrydPath() {
	if (process.env.FERRYD)
		return path.resolve(process.env.FERRYD);
	return path.join(repoRoot, 'build', 'ferryd');
}

/** True when the binary exists and is executable (lets tests skip early). */
function ferrydAvailable() {
	try {
		fs.accessSync(ferrydPath(), fs.constants.X_OK);
		return true;
	} catch {
		return false;
	}
}

/** Environment for the child: ours minus FERRY_* settings, plus extra. */
function childEnv(extra) {
	const env = {};
	for (const [k, v] of Object.entries(process.env))
		if (!k.startsWith('FERRY_') && k !== 'FERRYD')
			env[k] = v;
	return { ...env, ...extra };
}

/*
 * Start ferryd and wait until GET /healthz answers 200.
 *
 * opts.meta: metadata DSN (--meta); omit to let ferryd run its embedded one.
 * opts.workers: --workers (default 2).  opts.logLevel: --log-level (default info).
 * opts.port: listen port (default: a free one).  opts.args: extra arguments.
 * opts.env: extra environment variables.  opts.healthTimeoutMs: default 15000.
 * opts.bin: run this executable instead of ferrydPath().
 *
 * Resolves to { url, port, pid, proc, log(), exited, stop(signal), kill9() }.
 * Rejects, with the server's output in the message, if the binary is missing
 * or the server exits or stays unhealthy; the process is killed in that case.
 */
async function startFerryd(opts = {}) {
	const binary = opts.bin ? path.resolve(opts.bin) : ferrydPath();
	try {
		fs.accessSync(binary, fs.constants.X_OK);
	} catch {
		throw new Error(`ferryd binary not found or not executable at "${binary}" ` +
			'(build it with make, or set FERRYD)');
	}
	for (let attempt = 1; ; attempt++) {
		const port = opts.port ?? await freePort();
		const srv = launch(binary, port, opts);
		try {
			await waitHealthy(srv, opts.healthTimeoutMs ?? HEALTH_TIMEOUT_MS);
			return srv;
		} catch (e) {
			await srv.kill9();
			const bindFailed = /address already in use|could not (bind|listen)/i.test(srv.log());
			if (opts.port != null || !bindFailed || attempt >= START_ATTEMPTS)
				throw e;
		}
	}
}

function launch(binary, port, opts) {
	const args = ['--listen', `127.0.0.1:${port}`];
	if (opts.meta)
		args.push('--meta', opts.meta);
	args.push('--workers', String(opts.workers ?? 2),
		'--log-level', opts.logLevel ?? 'info',
		...(opts.args ?? []));

	const startedAt = Date.now();
	const proc = spawn(binary, args, {
		cwd: opts.cwd ?? repoRoot,
		env: childEnv(opts.env ?? {}),
		stdio: ['ignore', 'pipe', 'pipe'],
	});

	const chunks = [];
	let size = 0;
	const echo = process.env.FERRY_TEST_ECHO ? `[ferryd:${port}] ` : null;
	const keep = (buf) => {
		chunks.push(buf);
		size += buf.length;
		while (size > LOG_CAP && chunks.length > 1)
			size -= chunks.shift().length;
		if (echo)
			process.stderr.write(echo + buf.toString('utf8').replace(/\n(?=.)/g, `\n${echo}`));
	};
	proc.stdout.on('data', keep);
	proc.stderr.on('data', keep);

	let signalledAt = null;
	let result = null;
	const exited = new Promise((resolve) => {
		proc.once('error', (err) => {
			keep(Buffer.from(`could not start ferryd: ${err.message}\n`));
			result = { code: null, signal: null, ms: 0, error: err };
			resolve(result);
		});
		proc.once('exit', (code, signal) => {
			result = { code, signal, ms: Date.now() - (signalledAt ?? startedAt) };
			resolve(result);
		});
	});
	const running = () => result === null && proc.exitCode === null && proc.signalCode === null;
	const unregister = atExit(() => {
		if (running())
			proc.kill('SIGKILL');
	});
	exited.then(unregister);

	const log = () => Buffer.concat(chunks).toString('utf8');

	/* A ferryd built with SANITIZE= reports memory and undefined-behaviour errors on its output. */
	function checkSanitizers() {
		const out = log();
		const hit = out.search(/ERROR: (AddressSanitizer|LeakSanitizer)|runtime error: /);
		if (hit >= 0)
			throw new Error(`ferryd (pid ${proc.pid}) reported a sanitizer error:\n${out.slice(Math.max(0, hit - 200), hit + 4000)}`);
	}

	function send(signal) {
		if (!running())
			return false;
		signalledAt = Date.now();
		return proc.kill(signal);
	}

	/*
	 * Send signal (default SIGTERM) and resolve { code, signal, ms } when the
	 * process exits, ms counted from the signal. If it is still running after
	 * opts.timeoutMs (default 30000) it is killed with SIGKILL and the promise
	 * rejects. Resolves at once if the process has already exited.
	 */
	async function stop(signal = 'SIGTERM', stopOpts = {}) {
		if (!send(signal))
			return exited;
		const timeoutMs = stopOpts.timeoutMs ?? STOP_TIMEOUT_MS;
		const ac = new AbortController();
		const timedOut = wait(timeoutMs, 'timeout', { signal: ac.signal }).catch(() => null);
		const first = await Promise.race([exited, timedOut]);
		ac.abort();
		if (first !== 'timeout') {
			checkSanitizers();
			return first;
		}
		proc.kill('SIGKILL');
		await exited;
		throw new Error(`ferryd (pid ${proc.pid}) did not exit within ${timeoutMs} ms of ${signal}; ` +
			`killed it\n--- ferryd output ---\n${log()}`);
	}

	/** SIGKILL the process; resolves { code, signal, ms } once it is gone. */
	function kill9() {
		send('SIGKILL');
		return exited;
	}

	return {
		url: `http://127.0.0.1:${port}`,
		port,
		pid: proc.pid,
		proc,
		binary,
		args,
		exited,
		log,
		stop,
		kill9,
		isRunning: running,
	};
}

async function waitHealthy(srv, timeoutMs) {
	const deadline = Date.now() + timeoutMs;
	let last = 'no answer yet';
	let gone = null;
	srv.exited.then((r) => { gone = r; });
	while (Date.now() < deadline) {
		if (gone)
			break;
		try {
			const res = await fetch(`${srv.url}/healthz`, {
				signal: AbortSignal.timeout(Math.max(100, Math.min(2000, deadline - Date.now()))),
			});
			const body = await res.text();
			if (res.status === 200)
				return;
			last = `HTTP ${res.status} ${body.slice(0, 200)}`;
		} catch (e) {
			last = e.cause?.code ?? e.message;
		}
		if (gone)
			break;
		await Promise.race([wait(HEALTH_POLL_MS), srv.exited]);
	}
	const why = gone
		? `exited (${gone.signal ?? `code ${gone.code}`}) before it was healthy`
		: `was not healthy within ${timeoutMs} ms (last: ${last})`;
	throw new Error(`ferryd on ${srv.url} ${why}\n` +
		`--- command ---\n${srv.binary} ${srv.args.join(' ')}\n--- ferryd output ---\n${srv.log()}`);
}

module.exports = { startFerryd, ferrydPath, ferrydAvailable };

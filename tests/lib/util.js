// tests/lib/util.js: small helpers shared by the test harness modules
'use strict';

const net = require('node:net');
const path = require('node:path');
const { setTimeout: wait } = require('node:timers/promises');

/** Absolute path of the repository root (tests/lib/../..). */
const repoRoot = path.resolve(__dirname, '..', '..');

/**
 * Ask the kernel for a TCP port on 127.0.0.1 that is free right now.
 * Another process may take it before the caller binds it, so callers that
 * start a listener retry with a new port when the bind fails.
 */
function freePort() {
	return new Promise((resolve, reject) => {
		const srv = net.createServer();
		srv.unref();
		srv.once('error', reject);
		srv.listen({ host: '127.0.0.1', port: 0, exclusive: true }, () => {
			const { port } = srv.address();
			srv.close((err) => (err ? reject(err) : resolve(port)));
		});
	});
}

/** A short, readable rendering of any value for error messages. */
function describe(value, max = 2000) {
	let s;
	if (typeof value === 'string')
		s = JSON.stringify(value);
	else if (value instanceof Error)
		s = `${value.name}: ${value.message}`;
	else {
		try {
			s = JSON.stringify(value);
		} catch {
			s = String(value);
		}
		if (s === undefined)
			s = String(value);
	}
	return s.length > max ? `${s.slice(0, max)}… (${s.length} chars)` : s;
}

/**
 * Call fn() until it reports success or the deadline passes.
 *
 * Without opts.until, success is a truthy return value, which is returned.
 * With opts.until(value), fn's value is returned once until(value) is truthy.
 * An exception from fn (or until) ends the polling and propagates.
 * On timeout throws an Error naming opts.what and the last value seen.
 *
 * opts: { timeoutMs = 10000, intervalMs = 100, until, what = 'condition' }
 */
async function pollUntil(fn, opts = {}) {
	const timeoutMs = opts.timeoutMs ?? 10000;
	const intervalMs = opts.intervalMs ?? 100;
	const what = opts.what ?? 'condition';
	const until = opts.until;
	const started = Date.now();
	const deadline = started + timeoutMs;
	let last;
	let attempts = 0;
	for (;;) {
		attempts++;
		last = await fn();
		if (until ? await until(last) : last)
			return last;
		const left = deadline - Date.now();
		if (left <= 0)
			break;
		await wait(Math.min(intervalMs, left));
	}
	const err = new Error(`timed out after ${Date.now() - started} ms ` +
		`(${attempts} attempts) waiting for ${what}; last value: ${describe(last)}`);
	err.lastValue = last;
	throw err;
}

/*
 * Process-exit cleanup. Harness modules register synchronous functions that
 * release what they started (a server process, a database cluster). They run
 * newest first when the process exits, or on SIGINT/SIGTERM/SIGHUP, after
 * which the signal is raised again so that it has its usual effect.
 */
const cleanups = new Set();
let cleanupInstalled = false;

function runCleanups() {
	const fns = [...cleanups].reverse();
	cleanups.clear();
	for (const fn of fns) {
		try {
			fn();
		} catch {
			// best effort: the process is going away
		}
	}
}

function installCleanup() {
	if (cleanupInstalled)
		return;
	cleanupInstalled = true;
	process.on('exit', runCleanups);
	for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
		const onSignal = () => {
			runCleanups();
			process.removeListener(sig, onSignal);
			process.kill(process.pid, sig);
		};
		process.on(sig, onSignal);
	}
}

/** Register fn to run at exit; returns a function that unregisters it. */
function atExit(fn) {
	installCleanup();
	cleanups.add(fn);
	return () => cleanups.delete(fn);
}

module.exports = { repoRoot, freePort, describe, pollUntil, atExit };

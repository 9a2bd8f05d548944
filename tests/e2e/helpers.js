// tests/e2e/helpers.js: shared set-up for the end-to-end tests: a cluster, ferryd, jobs and runs
'use strict';

/*
 * const env = await startEnv({ dbs: ['src', 'dst'] });
 * env.api          contract-checking client that also keeps every response text
 * env.sql('src', 'select 1')   psql on one database of the cluster
 * const job = await createJob(env.api, { name, source: { dsn: env.dsn('src') }, ... });
 * const run = await triggerRun(env.api, job.id);
 * const done = await waitRun(env.api, run.id);
 * await env.stop();
 *
 * One throwaway cluster holds the metadata database and every source and
 * target database of a file; each test file starts its own, so files can
 * run in parallel.
 */

const assert = require('node:assert/strict');
const path = require('node:path');
const { execFile, spawn } = require('node:child_process');
const { promisify } = require('node:util');

const { startCluster, bindir } = require('../lib/cluster');
const { startFerryd, ferrydPath } = require('../lib/ferryd');
const { client } = require('../lib/api');
const { pollUntil, atExit } = require('../lib/util');

const execFileP = promisify(execFile);

const META_DB = 'ferry_meta';
const FINISHED = new Set(['succeeded', 'failed', 'cancelled']);
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/*
 * A client whose responses are also appended to `seen` (method, path,
 * status and body text), so a test can look through everything the server
 * said.
 */
function recordingClient(url, seen = []) {
	const inner = client(url);
	async function req(method, path, opts) {
		const r = await inner.req(method, path, opts);
		seen.push({ method, path, status: r.status, text: r.text });
		return r;
	}
	return {
		baseUrl: inner.baseUrl,
		seen,
		req,
		get: (path, opts) => req('GET', path, opts),
		post: (path, json, opts = {}) => req('POST', path, json === undefined ? opts : { ...opts, json }),
		put: (path, json, opts = {}) => req('PUT', path, { ...opts, json }),
		del: (path, opts) => req('DELETE', path, opts),
	};
}

/*
 * Start a cluster with the metadata database and the databases in opts.dbs,
 * then ferryd with opts.workers (default 2) workers on it. Resolves to
 * { cluster, srv, api, seen, dsn(db), sql(db, text), restart(), stop() }.
 * When ferryd does not come up the cluster is stopped again.
 */
async function startEnv(opts = {}) {
	const cluster = await startCluster();
	const env = { cluster, seen: [], srv: null, api: null };
	try {
		await cluster.createDb(META_DB);
		for (const db of opts.dbs ?? [])
			await cluster.createDb(db);
		env.workers = opts.workers ?? 2;
		env.srv = await startFerryd({ meta: cluster.dsn(META_DB), workers: env.workers });
		env.api = recordingClient(env.srv.url, env.seen);
	} catch (e) {
		if (env.srv)
			await env.srv.kill9();
		await cluster.stop();
		throw e;
	}
	env.meta = cluster.dsn(META_DB);
	env.dsn = (db) => cluster.dsn(db);
	env.sql = (db, text, o = {}) => cluster.psql(text, { ...o, db });

	/* Start another ferryd on the same metadata database (after srv.stop()). */
	env.restart = async (o = {}) => {
		env.srv = await startFerryd({ meta: env.meta, workers: o.workers ?? env.workers });
		env.api = recordingClient(env.srv.url, env.seen);
		return env.srv;
	};

	/* Stop ferryd (if still running) and the cluster; ferryd must exit cleanly. */
	env.stop = async () => {
		let r = null;
		try {
			if (env.srv && env.srv.isRunning())
				r = await env.srv.stop('SIGTERM', { timeoutMs: 15000 });
		} finally {
			await cluster.stop();
		}
		if (r)
			assert.equal(r.code, 0, `ferryd exited with ${JSON.stringify(r)}\n${env.srv.log().slice(-4000)}`);
	};
	return env;
}

/* A URI for database db of the cluster with a password added (trust auth ignores it). */
function dsnWithPassword(cluster, db, password) {
	const plain = cluster.dsn(db);
	assert.match(plain, /^postgresql:\/\/postgres@/);
	return plain.replace('postgresql://postgres@', `postgresql://postgres:${encodeURIComponent(password)}@`);
}

/* POST a job; asserts 201 and a Location naming it; resolves to the job. */
async function createJob(api, job) {
	const r = await api.post('/api/v1/jobs', job);
	assert.equal(r.status, 201, `create job ${job.name}: ${r.status} ${r.text}`);
	assert.equal(r.headers.get('location'), `/api/v1/jobs/${r.json.id}`);
	assert.equal(r.json.name, job.name);
	return r.json;
}

/* POST a run of jobRef (body optional); asserts 202 + Location; resolves to the run. */
async function triggerRun(api, jobRef, body) {
	const r = await api.post(`/api/v1/jobs/${encodeURIComponent(jobRef)}/runs`, body);
	assert.equal(r.status, 202, `trigger ${jobRef}: ${r.status} ${r.text}`);
	assert.match(r.json.id, UUID_RE);
	assert.equal(r.headers.get('location'), `/api/v1/runs/${r.json.id}`);
	assert.ok(['queued', 'running'].includes(r.json.state), `new run is ${r.json.state}`);
	return r.json;
}

/* GET one run; asserts 200. */
async function getRun(api, runId) {
	const r = await api.get(`/api/v1/runs/${runId}`);
	assert.equal(r.status, 200, `get run ${runId}: ${r.status} ${r.text}`);
	return r.json;
}

/* GET a run's tables as a map source → table; asserts 200. */
async function runTables(api, runId) {
	const r = await api.get(`/api/v1/runs/${runId}/tables`);
	assert.equal(r.status, 200, `run tables ${runId}: ${r.status} ${r.text}`);
	return Object.fromEntries(r.json.items.map((t) => [t.source, t]));
}

/* Every event of a run, following next_after; asserts ids increase. */
async function runEvents(api, runId) {
	const all = [];
	let after = 0;
	for (;;) {
		const r = await api.get(`/api/v1/runs/${runId}/events?after=${after}&limit=50`);
		assert.equal(r.status, 200, `run events ${runId}: ${r.status} ${r.text}`);
		for (const ev of r.json.items) {
			assert.ok(ev.id > after, `event ids increase: ${ev.id} after ${after}`);
			assert.equal(ev.run_id, runId);
			all.push(ev);
			after = ev.id;
		}
		assert.equal(r.json.next_after, after);
		if (r.json.items.length < 50)
			return all;
	}
}

/*
 * Poll a run until it has finished (succeeded, failed or cancelled);
 * onPoll(run) is awaited after each look. Resolves to the finished run.
 */
async function waitRun(api, runId, opts = {}) {
	return pollUntil(async () => {
		const run = await getRun(api, runId);
		if (opts.onPoll)
			await opts.onPoll(run);
		return run;
	}, {
		until: (run) => FINISHED.has(run.state),
		timeoutMs: opts.timeoutMs ?? 60000,
		intervalMs: opts.intervalMs ?? 100,
		what: `run ${runId} to finish`,
	});
}

/* Trigger a run of jobRef and wait for it to finish. */
async function runToEnd(api, jobRef, body, opts) {
	const run = await triggerRun(api, jobRef, body);
	return waitRun(api, run.id, opts);
}

/* SQL text of a schema-qualified, quoted relation name. */
function rel(schema, table) {
	const q = (s) => `"${s.replace(/"/g, '""')}"`;
	return `${q(schema)}.${q(table)}`;
}

/*
 * Row count plus two order-independent checksums of a table's rows in
 * their text form: { count, sum, md5 }. Equal on two databases means the
 * same multiset of rows (duplicates included).
 */
async function tableChecksum(env, db, relation) {
	const out = await env.sql(db, `SET work_mem = '256MB'; SELECT count(*), coalesce(sum(hashtext(t::text)::bigint), 0),
		coalesce(md5(string_agg(md5(t::text), '' ORDER BY md5(t::text))), '-')
		FROM ${relation} t`);
	const [count, sum, md5] = out.split('|');
	return { count: Number(count), sum, md5 };
}

/* Number of rows in a relation, or null when it does not exist. */
async function countOrNull(env, db, schema, table) {
	const exists = await env.sql(db, `SELECT to_regclass('${rel(schema, table).replace(/'/g, "''")}') IS NOT NULL`);
	if (exists !== 't')
		return null;
	return Number(await env.sql(db, `SELECT count(*) FROM ${rel(schema, table)}`));
}

/* Ordinary tables of a database as sorted "schema.table" strings. */
async function listTables(env, db) {
	const out = await env.sql(db, `SELECT schemaname || '.' || tablename FROM pg_tables
		WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1`);
	return out ? out.split('\n') : [];
}

/*
 * Run pg_ctl on a cluster started by startCluster() (as its server user, its
 * log kept), waiting for the action to complete; resolves to the
 * milliseconds it took.
 */
async function pgCtl(cluster, args) {
	const argv0 = ['-D', cluster.dataDir, '-l', path.join(cluster.dir, 'server.log'), '-w', '-t', '60', ...args];
	const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
	const bin = path.join(bindir(), 'pg_ctl');
	const [cmd, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', bin, ...argv0]] : [bin, argv0];
	const env = {};
	for (const [k, v] of Object.entries(process.env))
		if (!k.startsWith('PG'))
			env[k] = v;
	const t0 = Date.now();
	try {
		await execFileP(cmd, argv, { cwd: cluster.dir, env, encoding: 'utf8' });
	} catch (e) {
		throw new Error(`pg_ctl ${args.join(' ')} on ${cluster.dir} failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`);
	}
	return Date.now() - t0;
}

/*
 * Restart a cluster started by startCluster() with `pg_ctl restart` (mode
 * 'fast' by default: open sessions are terminated), and resolve once it
 * accepts connections again. Resolves to the milliseconds the restart took.
 */
function restartCluster(cluster, mode = 'fast') {
	return pgCtl(cluster, ['-m', mode, 'restart']);
}

/* Poll a run's tables (a map source → table) until pred(tables) holds; resolves to them. */
function waitTables(api, runId, pred, what, timeoutMs = 30000) {
	return pollUntil(() => runTables(api, runId), { until: pred, timeoutMs, intervalMs: 50, what });
}

/*
 * Start the ferryd binary with exactly these arguments (nothing added), for
 * the cases startFerryd() cannot cover: a refused start, another listen
 * address, HTTPS. Output is kept in memory. Resolves at once to
 * { proc, pid, log(), exited, running(), kill(signal) }; `exited` resolves to
 * { code, signal } when the process ends. The process is SIGKILLed at exit
 * of the test process if it is still running.
 */
function spawnFerryd(args, opts = {}) {
	const env = {};
	for (const [k, v] of Object.entries(process.env))
		if (!k.startsWith('FERRY_') && k !== 'FERRYD')
			env[k] = v;
	Object.assign(env, opts.env ?? {});
	const proc = spawn(ferrydPath(), args, { cwd: opts.cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
	const chunks = [];
	proc.stdout.on('data', (b) => chunks.push(b));
	proc.stderr.on('data', (b) => chunks.push(b));
	let done = null;
	const unregister = atExit(() => {
		if (!done)
			proc.kill('SIGKILL');
	});
	const exited = new Promise((resolve) => {
		proc.once('error', (err) => {
			done = { code: null, signal: null, error: err };
			resolve(done);
		});
		proc.once('exit', (code, signal) => {
			done = { code, signal };
			resolve(done);
		});
	});
	exited.then(unregister);
	return {
		proc,
		pid: proc.pid,
		exited,
		log: () => Buffer.concat(chunks).toString('utf8'),
		running: () => done === null,
		kill: (signal = 'SIGTERM') => {
			if (done === null)
				proc.kill(signal);
			return exited;
		},
	};
}

/*
 * A psql session of the test's own that locks relation of database db in
 * SHARE mode in an open transaction: readers go through, writers (ferry's
 * COPY … FROM STDIN) wait. Resolves once the lock is held to { release() },
 * which ends the session and so rolls the transaction back.
 */
async function holdWrites(cluster, db, relation) {
	const env = {};
	for (const [k, v] of Object.entries(process.env))
		if (!k.startsWith('PG'))
			env[k] = v;
	const child = spawn(path.join(bindir(), 'psql'), ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1',
		'-h', cluster.host, '-p', String(cluster.port), '-U', 'postgres', '-d', db], { env, stdio: ['pipe', 'pipe', 'pipe'] });
	let out = '';
	let exited = false;
	child.stdout.on('data', (b) => { out += b.toString('utf8'); });
	child.stderr.on('data', (b) => { out += b.toString('utf8'); });
	child.stdin.on('error', () => {});
	const closed = new Promise((resolve) => child.on('close', () => {
		exited = true;
		resolve();
	}));
	const release = async () => {
		child.stdin.end();
		await closed;
	};
	try {
		child.stdin.write(`BEGIN; LOCK TABLE ${relation} IN SHARE MODE; SELECT 'locked';\n`);
		await pollUntil(() => {
			if (exited)
				throw new Error(`the lock holder exited: ${out}`);
			return out.includes('locked');
		}, { timeoutMs: 10000, intervalMs: 20, what: `a SHARE lock on ${relation}` });
	} catch (e) {
		child.kill();
		await closed;
		throw e;
	}
	return { release };
}

module.exports = {
	FINISHED,
	UUID_RE,
	startEnv,
	recordingClient,
	dsnWithPassword,
	createJob,
	triggerRun,
	getRun,
	runTables,
	runEvents,
	waitRun,
	runToEnd,
	rel,
	tableChecksum,
	countOrNull,
	listTables,
	pgCtl,
	restartCluster,
	waitTables,
	spawnFerryd,
	holdWrites,
};

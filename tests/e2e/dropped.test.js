// tests/e2e/dropped.test.js: a source table dropped or renamed after the run planned it and before its copy
// read it, for a PostgreSQL and a MariaDB source: the DDL is not held up by the run, the run ends within a
// deadline, each missing table fails once with the source's "does not exist" error naming it, the other
// tables load in full, and a retry of the run fails at its plan, naming the missing table
'use strict';

/*
 * The window is made without sleeps. The job loads one table at a time
 * (load.parallel 1) and its biggest table, which goes first, appends to a
 * target table that a psql session of the test holds in SHARE mode: ferry's
 * COPY into it waits for that lock while the other tables stay queued. The
 * test drops one queued table and renames another on the source, checks that
 * the run is still where it was, then ends the session.
 */

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { spawn } = require('node:child_process');

const { bindir } = require('../lib/cluster');
const { ferrydAvailable } = require('../lib/ferryd');
const { startMariadb, mariadbAvailable } = require('../lib/mariadb');
const { pollUntil } = require('../lib/util');
const {
	startEnv, createJob, triggerRun, getRun, waitRun, runTables, runEvents, waitTables, rel,
	tableChecksum, countOrNull,
} = require('./helpers');

/* After the hold ends, the run must finish within this. */
const RUN_DEADLINE_MS = 20000;
/* DDL on the source that a lock held by the run would keep waiting fails after this. */
const DDL_DEADLINE_MS = 10000;
const HELD_ROWS = 20000;
const KEPT_ROWS = 500;

const skipAll = !ferrydAvailable() && 'build/ferryd is not built';
const skipMariadb = !mariadbAvailable() && 'mariadbd is not installed (tests/deps.sh test)';

/* The held table is the biggest by far, so that it is the one the run starts with. */
const PG_SOURCE_SQL = `
CREATE TABLE public.held (id integer PRIMARY KEY, v text);
INSERT INTO public.held SELECT g, md5(g::text) FROM generate_series(1, ${HELD_ROWS}) g;
CREATE TABLE public.gone (id integer PRIMARY KEY, v text);
INSERT INTO public.gone SELECT g, 'g' || g FROM generate_series(1, 1000) g;
CREATE TABLE public.moved (id integer PRIMARY KEY, v text);
INSERT INTO public.moved SELECT g, 'm' || g FROM generate_series(1, 700) g;
CREATE TABLE public.kept (id integer PRIMARY KEY, v text);
INSERT INTO public.kept SELECT g, 'k' || g FROM generate_series(1, ${KEPT_ROWS}) g;
ANALYZE;
`;

const MY_SOURCE_SQL = `
CREATE DATABASE shop;
USE shop;
CREATE TABLE held (id int PRIMARY KEY, v varchar(64));
INSERT INTO held SELECT seq, md5(seq) FROM seq_1_to_${HELD_ROWS};
CREATE TABLE gone (id int PRIMARY KEY, v varchar(64));
INSERT INTO gone SELECT seq, concat('g', seq) FROM seq_1_to_1000;
CREATE TABLE moved (id int PRIMARY KEY, v varchar(64));
INSERT INTO moved SELECT seq, concat('m', seq) FROM seq_1_to_700;
CREATE TABLE kept (id int PRIMARY KEY, v varchar(64));
INSERT INTO kept SELECT seq, concat('k', seq) FROM seq_1_to_${KEPT_ROWS};
ANALYZE TABLE held, gone, moved, kept;
`;

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

/*
 * The scenario, for either source. c: {
 *   cluster, db (the target database), api, createJob(name, extra) → job,
 *   label(table) → the run's name of a source table, ddl(timeoutMs) → promise
 *   dropping gone and renaming moved on the source
 * }. Resolves to what was seen along the way.
 */
async function dropWhileQueued(c) {
	const { api } = c;
	await c.cluster.psql(`CREATE TABLE public.held (id integer PRIMARY KEY, v ${c.textType})`, { db: c.db });
	const hold = await holdWrites(c.cluster, c.db, 'public.held');
	const seen = {};
	try {
		const job = await c.createJob({
			tables: { [c.label('held')]: { mode: 'append' } },
			load: { parallel: 1 },
			// a missing table is not transient: with retries allowed it must still fail at its first attempt
			retry: { attempts: 2, delay_s: 0 },
		});
		seen.job = job;
		const run = await triggerRun(api, job.id);
		seen.run = run;
		await waitTables(api, run.id, (t) => Object.keys(t).length === 4 &&
			t[c.label('held')].state === 'loading' && ['gone', 'moved', 'kept'].every((n) => t[c.label(n)].state === 'queued'),
		'the held table loading and the three others queued');
		// the window is real: ferry's COPY into the held table waits for the test's lock
		await pollUntil(() => c.cluster.psql(`SELECT count(*) FROM pg_stat_activity
			WHERE datname = '${c.db}' AND wait_event_type = 'Lock' AND query LIKE 'COPY "public"."held"%'
			AND pid <> pg_backend_pid()`, { db: c.db }), {
			until: (n) => n === '1', timeoutMs: 10000, intervalMs: 50, what: 'ferry\'s COPY to wait for the lock',
		});

		const t0 = Date.now();
		seen.ddl = await c.ddl(DDL_DEADLINE_MS).then(() => ({ ok: true, ms: Date.now() - t0 }),
			(e) => ({ ok: false, ms: Date.now() - t0, error: e.message }));
		seen.afterDdl = { run: await getRun(api, run.id), tables: await runTables(api, run.id) };
	} finally {
		await hold.release();
	}
	const t1 = Date.now();
	seen.done = await waitRun(api, seen.run.id, { timeoutMs: RUN_DEADLINE_MS, intervalMs: 50 });
	seen.ms = Date.now() - t1;
	seen.tables = await runTables(api, seen.run.id);
	seen.events = await runEvents(api, seen.run.id);
	return seen;
}

/* The its common to both sources; s() is the scenario's result, c as for dropWhileQueued. */
function checks(s, c, missingError) {
	it('lets the DROP and the RENAME through at once, while the run still waits on its first table', () => {
		const { ddl, afterDdl } = s();
		assert.ok(ddl.ok, `the DDL on the source did not complete within ${DDL_DEADLINE_MS} ms: ${ddl.error}`);
		assert.equal(afterDdl.run.state, 'running', 'the DDL ran inside the window');
		assert.equal(afterDdl.tables[c.label('held')].state, 'loading');
		for (const n of ['gone', 'moved', 'kept'])
			assert.equal(afterDdl.tables[c.label(n)].state, 'queued', `${n} after the DDL`);
	});

	it('ends the run failed within the deadline, naming the two missing tables', () => {
		const { done, ms } = s();
		assert.ok(ms < RUN_DEADLINE_MS, `the run took ${ms} ms after the hold ended`);
		assert.equal(done.state, 'failed', JSON.stringify(done));
		assert.equal(done.error, `2 of 4 tables failed: ${c.label('gone')}, ${c.label('moved')}`);
		assert.deepEqual(done.tables, { total: 4, queued: 0, loading: 0, loaded: 2, errored: 2, cancelled: 0, skipped: 0 });
		assert.ok(done.finished_at);
		const finished = s().events.filter((e) => e.kind === 'run_finished');
		assert.equal(finished.length, 1);
		assert.equal(finished[0].level, 'error');
		assert.match(finished[0].message, new RegExp(`^run failed: 2 of 4 tables failed: ${c.label('gone')}, ${c.label('moved')}$`));
	});

	it('fails each missing table at its first attempt with the source\'s error naming it', () => {
		const { tables, events } = s();
		for (const n of ['gone', 'moved']) {
			const t = tables[c.label(n)];
			assert.equal(t.state, 'errored', `${n}: ${JSON.stringify(t)}`);
			assert.equal(t.error, missingError(n));
			assert.equal(t.attempts, 1, `${n} is not retried: ${JSON.stringify(t)}`);
			assert.equal(t.rows, 0);
			assert.ok(t.finished_at);
			const failed = events.filter((e) => e.kind === 'table_failed' && e.table === c.label(n));
			assert.equal(failed.length, 1, `${n}: ${JSON.stringify(failed)}`);
			assert.equal(failed[0].level, 'error');
			assert.equal(failed[0].message, missingError(n));
		}
		assert.deepEqual(events.filter((e) => e.kind === 'table_retry'), [], 'no table is retried');
	});

	it('loads the other tables in full', async () => {
		const { tables } = s();
		for (const [n, rows] of [['held', HELD_ROWS], ['kept', KEPT_ROWS]]) {
			const t = tables[c.label(n)];
			assert.equal(t.state, 'loaded', `${n}: ${JSON.stringify(t)}`);
			assert.equal(t.error, null);
			assert.equal(t.attempts, 1);
			assert.equal(t.rows, rows);
			assert.equal(await countOrNull(c.env, c.db, 'public', n), rows, `${n} on the target`);
			await c.sameAsSource(n);
		}
	});

	it('leaves no rows of the missing tables on the target', async () => {
		for (const n of ['gone', 'moved']) {
			const count = await countOrNull(c.env, c.db, 'public', n);
			assert.ok(count === null || count === 0, `public.${n} on the target holds ${count} rows`);
		}
	});

	it('fails a retry of the run at its plan, naming a missing table', async () => {
		const { run } = s();
		const r = await c.api.post(`/api/v1/runs/${run.id}/retry`);
		assert.equal(r.status, 202, r.text);
		assert.deepEqual(r.json.tables_requested, [c.label('gone'), c.label('moved')]);
		const retry = await waitRun(c.api, r.json.id, { timeoutMs: RUN_DEADLINE_MS, intervalMs: 50 });
		assert.equal(retry.state, 'failed', JSON.stringify(retry));
		assert.equal(retry.error, `table "${c.label('gone')}" does not exist in the source or is not selected by the job's include/exclude`);
		assert.equal(retry.tables.total, 0);
	});
}

describe('a source table dropped or renamed after the plan, before its copy', { skip: skipAll }, () => {
	let env;

	before(async () => {
		env = await startEnv({ dbs: ['src', 'dst', 'dst_my'], workers: 2 });
		await env.sql('src', PG_SOURCE_SQL);
	});

	after(async () => {
		if (env)
			await env.stop();
	});

	describe('PostgreSQL source', () => {
		let seen;
		const c = {
			db: 'dst',
			textType: 'text',
			label: (n) => `public.${n}`,
			get env() { return env; },
			get api() { return env.api; },
			get cluster() { return env.cluster; },
			createJob: (extra) => createJob(env.api, {
				name: 'dropped-pg', source: { dsn: env.dsn('src') }, target: { dsn: env.dsn('dst') },
				include: ['public.*'], ...extra,
			}),
			ddl: (timeoutMs) => env.sql('src', 'DROP TABLE public.gone; ALTER TABLE public.moved RENAME TO moved_away',
				{ timeoutMs }),
			sameAsSource: async (n) => {
				const [src, dst] = await Promise.all([
					tableChecksum(env, 'src', rel('public', n)),
					tableChecksum(env, 'dst', rel('public', n)),
				]);
				assert.deepEqual(dst, src, `public.${n}`);
			},
		};

		before(async () => {
			seen = await dropWhileQueued(c);
		});

		checks(() => seen, c, (n) => `source: relation "public.${n}" does not exist`);
	});

	describe('MariaDB source', { skip: skipMariadb }, () => {
		let my;
		let seen;
		const c = {
			db: 'dst_my',
			textType: 'varchar(64)',
			label: (n) => `shop.${n}`,
			get env() { return env; },
			get api() { return env.api; },
			get cluster() { return env.cluster; },
			createJob: (extra) => createJob(env.api, {
				name: 'dropped-mariadb', source: { dsn: my.dsn('shop') }, target: { dsn: env.dsn('dst_my') },
				include: ['shop.*'], schemas: { shop: 'public' }, ...extra,
			}),
			ddl: (timeoutMs) => my.sql('DROP TABLE shop.gone; RENAME TABLE shop.moved TO shop.moved_away', { timeoutMs }),
			sameAsSource: async (n) => {
				const src = (await my.query(`SELECT id, v FROM ${n} ORDER BY id`, { db: 'shop' })).map((r) => r.join('|'));
				const dst = (await env.sql('dst_my', `SELECT id, v FROM public.${n} ORDER BY id`)).split('\n');
				assert.deepEqual(dst, src, `shop.${n}, row by row`);
			},
		};

		before(async () => {
			my = await startMariadb();
			await my.sql(MY_SOURCE_SQL);
			seen = await dropWhileQueued(c);
		});

		after(async () => {
			if (my)
				await my.stop();
		});

		checks(() => seen, c, (n) => `source: Table 'shop.${n}' doesn't exist (MySQL error 1146)`);
	});
});

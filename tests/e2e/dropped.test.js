// tests/e2e/dropped.test.js: a source table changed after the run planned it and before its copy read it, for
// a PostgreSQL and a MariaDB source. Dropped or renamed: the DDL is not held up by the run, the run ends within
// a deadline, each missing table fails once with the source's "does not exist" error naming it, the other
// tables load in full, and a retry of the run fails at its plan, naming the missing tables. Emptied by TRUNCATE,
// or dropped and created again under its name: the table fails once, with an error that says what happened,
// instead of loading no rows, the other tables load in full, and a retry loads the table as it is now
'use strict';

/*
 * The window is made without sleeps. The job loads one table at a time
 * (load.parallel 1) and its biggest table, which goes first, appends to a
 * target table that a psql session of the test holds in SHARE mode: ferry's
 * COPY into it waits for that lock while the other tables stay queued. The
 * test changes queued tables on the source (drops one and renames another;
 * or empties one and drops and creates another again), checks that the run
 * is still where it was, then ends the session.
 */

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');

const { ferrydAvailable } = require('../lib/ferryd');
const { startMariadb, mariadbAvailable } = require('../lib/mariadb');
const { pollUntil } = require('../lib/util');
const {
	startEnv, createJob, triggerRun, getRun, waitRun, runTables, runEvents, waitTables, rel,
	tableChecksum, countOrNull, holdWrites,
} = require('./helpers');

/* After the hold ends, the run must finish within this. */
const RUN_DEADLINE_MS = 20000;
/* DDL on the source that a lock held by the run would keep waiting fails after this. */
const DDL_DEADLINE_MS = 10000;
const HELD_ROWS = 20000;
const KEPT_ROWS = 500;
/* The rows of the table dropped and created again: what the snapshot saw, and what it holds afterwards. */
const RECREATED_ROWS = 700;
const RECREATED_NEW_ROWS = 300;

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

/* The tables emptied or created again, in a source database of their own. */
const PG_REWRITE_SQL = `
CREATE TABLE public.held (id integer PRIMARY KEY, v text);
INSERT INTO public.held SELECT g, md5(g::text) FROM generate_series(1, ${HELD_ROWS}) g;
CREATE TABLE public.truncated (id integer PRIMARY KEY, v text);
INSERT INTO public.truncated SELECT g, 't' || g FROM generate_series(1, 1000) g;
CREATE TABLE public.recreated (id integer PRIMARY KEY, v text);
INSERT INTO public.recreated SELECT g, 'r' || g FROM generate_series(1, ${RECREATED_ROWS}) g;
CREATE TABLE public.kept (id integer PRIMARY KEY, v text);
INSERT INTO public.kept SELECT g, 'k' || g FROM generate_series(1, ${KEPT_ROWS}) g;
ANALYZE;
`;

/*
 * The change made in the window: truncated is emptied, recreated dropped and
 * created again with other rows, fewer of them, so that a load shows which of
 * the two tables it read.
 */
const PG_REWRITE_DDL = `
TRUNCATE public.truncated;
DROP TABLE public.recreated;
CREATE TABLE public.recreated (id integer PRIMARY KEY, v text);
INSERT INTO public.recreated SELECT g, 'new r' || g FROM generate_series(5001, ${5000 + RECREATED_NEW_ROWS}) g;
`;

const MY_REWRITE_SQL = `
CREATE DATABASE works;
USE works;
CREATE TABLE held (id int PRIMARY KEY, v varchar(64));
INSERT INTO held SELECT seq, md5(seq) FROM seq_1_to_${HELD_ROWS};
CREATE TABLE truncated (id int PRIMARY KEY, v varchar(64));
INSERT INTO truncated SELECT seq, concat('t', seq) FROM seq_1_to_1000;
CREATE TABLE recreated (id int PRIMARY KEY, v varchar(64));
INSERT INTO recreated SELECT seq, concat('r', seq) FROM seq_1_to_${RECREATED_ROWS};
CREATE TABLE kept (id int PRIMARY KEY, v varchar(64));
INSERT INTO kept SELECT seq, concat('k', seq) FROM seq_1_to_${KEPT_ROWS};
ANALYZE TABLE held, truncated, recreated, kept;
`;

/* The same change on the MariaDB source. */
const MY_REWRITE_DDL = `
TRUNCATE TABLE works.truncated;
DROP TABLE works.recreated;
CREATE TABLE works.recreated (id int PRIMARY KEY, v varchar(64));
INSERT INTO works.recreated SELECT seq, concat('new r', seq) FROM seq_5001_to_${5000 + RECREATED_NEW_ROWS};
`;

/*
 * The scenario, for either source and either change. c: {
 *   cluster, db (the target database), api, createJob(name, extra) → job,
 *   label(table) → the run's name of a source table, queued (the source's
 *   tables besides held), ddl(timeoutMs) → promise changing some of them on
 *   the source (dropping gone and renaming moved, or the like)
 * }. Resolves to what was seen along the way.
 */
async function changeWhileQueued(c) {
	const { api } = c;
	await c.cluster.psql(`CREATE TABLE public.held (id integer PRIMARY KEY, v ${c.textType})`, { db: c.db });
	const hold = await holdWrites(c.cluster, c.db, 'public.held');
	const seen = {};
	try {
		const job = await c.createJob({
			tables: { [c.label('held')]: { mode: 'append' } },
			load: { parallel: 1 },
			// a missing or changed table is not transient: with retries allowed it must still fail at its first attempt
			retry: { attempts: 2, delay_s: 0 },
		});
		seen.job = job;
		const run = await triggerRun(api, job.id);
		seen.run = run;
		await waitTables(api, run.id, (t) => Object.keys(t).length === c.queued.length + 1 &&
			t[c.label('held')].state === 'loading' && c.queued.every((n) => t[c.label(n)].state === 'queued'),
		`the held table loading and ${c.queued.join(', ')} queued`);
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

/* it: the DDL (what) went through at once, inside the window; s() is the scenario's result, c as for changeWhileQueued. */
function ddlInWindow(s, c, what) {
	it(`lets the ${what} through at once, while the run still waits on its first table`, () => {
		const { ddl, afterDdl } = s();
		assert.ok(ddl.ok, `the DDL on the source did not complete within ${DDL_DEADLINE_MS} ms: ${ddl.error}`);
		assert.equal(afterDdl.run.state, 'running', 'the DDL ran inside the window');
		assert.equal(afterDdl.tables[c.label('held')].state, 'loading');
		for (const n of c.queued)
			assert.equal(afterDdl.tables[c.label(n)].state, 'queued', `${n} after the DDL`);
	});
}

/* it: the tables the DDL left alone, held and kept, loaded in full. */
function othersInFull(s, c) {
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
}

/* The its of a dropped and a renamed table, common to both sources. */
function droppedChecks(s, c, missingError) {
	ddlInWindow(s, c, 'DROP and the RENAME');

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

	othersInFull(s, c);

	it('leaves no rows of the missing tables on the target', async () => {
		for (const n of ['gone', 'moved']) {
			const count = await countOrNull(c.env, c.db, 'public', n);
			assert.ok(count === null || count === 0, `public.${n} on the target holds ${count} rows`);
		}
	});

	it('fails a retry of the run at its plan, naming every missing table', async () => {
		const { run } = s();
		const r = await c.api.post(`/api/v1/runs/${run.id}/retry`);
		assert.equal(r.status, 202, r.text);
		assert.deepEqual(r.json.tables_requested, [c.label('gone'), c.label('moved')]);
		const retry = await waitRun(c.api, r.json.id, { timeoutMs: RUN_DEADLINE_MS, intervalMs: 50 });
		assert.equal(retry.state, 'failed', JSON.stringify(retry));
		assert.equal(retry.error, `tables "${c.label('gone')}", "${c.label('moved')}" do not exist in the source or are not selected by the job's include/exclude`);
		assert.equal(retry.tables.total, 0);
	});
}

/*
 * The its of tables emptied or dropped and created again under the run, for
 * either source. c as for changeWhileQueued, plus changed (those tables, in
 * the order of the plan, biggest first, which the run's error follows),
 * changedError(n) → a RegExp the error of table n must match, and nowRows(n)
 * → the rows it holds on the source now. In the run's snapshot such a table
 * would read as empty, as neither command is MVCC-safe: the table must fail
 * rather than be reported loaded with 0 rows.
 */
function rewrittenChecks(s, c, what) {
	const total = c.queued.length + 1;
	const k = c.changed.length;
	const names = c.changed.map(c.label).join(', ');

	ddlInWindow(s, c, what);

	it('ends the run failed within the deadline, naming the changed tables', () => {
		const { done, ms, events } = s();
		assert.ok(ms < RUN_DEADLINE_MS, `the run took ${ms} ms after the hold ended`);
		assert.equal(done.state, 'failed', JSON.stringify(done));
		assert.equal(done.error, `${k} of ${total} tables failed: ${names}`);
		assert.deepEqual(done.tables, { total, queued: 0, loading: 0, loaded: total - k, errored: k, cancelled: 0, skipped: 0 });
		assert.ok(done.finished_at);
		const finished = events.filter((e) => e.kind === 'run_finished');
		assert.equal(finished.length, 1);
		assert.equal(finished[0].level, 'error');
		assert.equal(finished[0].message, `run failed: ${k} of ${total} tables failed: ${names}`);
	});

	it('fails each changed table at its first attempt, naming it and the change, instead of loading no rows', () => {
		const { tables, events } = s();
		for (const n of c.changed) {
			const t = tables[c.label(n)];
			assert.equal(t.state, 'errored', `${n}: ${JSON.stringify(t)}`);
			assert.match(t.error, c.changedError(n));
			assert.equal(t.attempts, 1, `${n} is not retried: ${JSON.stringify(t)}`);
			assert.equal(t.rows, 0);
			assert.ok(t.finished_at);
			const failed = events.filter((e) => e.kind === 'table_failed' && e.table === c.label(n));
			assert.equal(failed.length, 1, `${n}: ${JSON.stringify(failed)}`);
			assert.equal(failed[0].level, 'error');
			assert.equal(failed[0].message, t.error);
			const loaded = events.filter((e) => e.kind === 'table_loaded' && e.table === c.label(n));
			assert.deepEqual(loaded, [], `${n} is not reported loaded`);
		}
		assert.deepEqual(events.filter((e) => e.kind === 'table_retry'), [], 'no table is retried');
	});

	othersInFull(s, c);

	it('leaves no rows of the changed tables on the target', async () => {
		for (const n of c.changed) {
			const count = await countOrNull(c.env, c.db, 'public', n);
			assert.ok(count === null || count === 0, `public.${n} on the target holds ${count} rows`);
		}
	});

	// a retry reads a new snapshot, in which the changed tables are what they are now
	it('loads the changed tables as they are now on a retry of the run', async () => {
		const { run } = s();
		const r = await c.api.post(`/api/v1/runs/${run.id}/retry`);
		assert.equal(r.status, 202, r.text);
		assert.deepEqual([...r.json.tables_requested].sort(), c.changed.map(c.label).sort());
		const retry = await waitRun(c.api, r.json.id, { timeoutMs: RUN_DEADLINE_MS, intervalMs: 50 });
		assert.equal(retry.state, 'succeeded', JSON.stringify(retry));
		assert.deepEqual(retry.tables, { total: k, queued: 0, loading: 0, loaded: k, errored: 0, cancelled: 0, skipped: 0 });
		const tables = await runTables(c.api, retry.id);
		for (const n of c.changed) {
			const t = tables[c.label(n)];
			assert.equal(t.state, 'loaded', `${n}: ${JSON.stringify(t)}`);
			assert.equal(t.error, null);
			assert.equal(t.rows, c.nowRows(n), `${n}: ${JSON.stringify(t)}`);
			assert.equal(await countOrNull(c.env, c.db, 'public', n), c.nowRows(n), `${n} on the target`);
			await c.sameAsSource(n);
		}
	});
}

/*
 * The scenario's c for a PostgreSQL source: the job's source is database src
 * of envOf()'s cluster, its target database dst; o adds the job's name, queued
 * and ddl(timeoutMs), and what rewrittenChecks reads.
 */
function pgCase(envOf, src, dst, o) {
	return {
		db: dst,
		textType: 'text',
		label: (n) => `public.${n}`,
		get env() { return envOf(); },
		get api() { return envOf().api; },
		get cluster() { return envOf().cluster; },
		createJob: (extra) => createJob(envOf().api, {
			name: o.name, source: { dsn: envOf().dsn(src) }, target: { dsn: envOf().dsn(dst) },
			include: ['public.*'], ...extra,
		}),
		sameAsSource: async (n) => {
			const [s, d] = await Promise.all([
				tableChecksum(envOf(), src, rel('public', n)),
				tableChecksum(envOf(), dst, rel('public', n)),
			]);
			assert.deepEqual(d, s, `public.${n}`);
		},
		...o,
	};
}

/*
 * The scenario's c for a MariaDB source: the job reads database schema of the
 * server myOf() into schema public of target database dst; o as for pgCase.
 */
function myCase(envOf, myOf, schema, dst, o) {
	return {
		db: dst,
		textType: 'varchar(64)',
		label: (n) => `${schema}.${n}`,
		get env() { return envOf(); },
		get api() { return envOf().api; },
		get cluster() { return envOf().cluster; },
		createJob: (extra) => createJob(envOf().api, {
			name: o.name, source: { dsn: myOf().dsn(schema) }, target: { dsn: envOf().dsn(dst) },
			include: [`${schema}.*`], schemas: { [schema]: 'public' }, ...extra,
		}),
		sameAsSource: async (n) => {
			const src = (await myOf().query(`SELECT id, v FROM ${n} ORDER BY id`, { db: schema })).map((r) => r.join('|'));
			const out = await envOf().sql(dst, `SELECT id, v FROM public.${n} ORDER BY id`);
			assert.deepEqual(out === '' ? [] : out.split('\n'), src, `${schema}.${n}, row by row`);
		},
		...o,
	};
}

describe('a source table changed after the plan, before its copy', { skip: skipAll }, () => {
	let env;

	before(async () => {
		env = await startEnv({ dbs: ['src', 'dst', 'src_re', 'dst_re', 'dst_my', 'dst_my_re'], workers: 2 });
		await env.sql('src', PG_SOURCE_SQL);
		await env.sql('src_re', PG_REWRITE_SQL);
	});

	after(async () => {
		if (env)
			await env.stop();
	});

	describe('PostgreSQL source', () => {
		describe('dropped or renamed', () => {
			let seen;
			const c = pgCase(() => env, 'src', 'dst', {
				name: 'dropped-pg',
				queued: ['gone', 'moved', 'kept'],
				ddl: (timeoutMs) => env.sql('src', 'DROP TABLE public.gone; ALTER TABLE public.moved RENAME TO moved_away',
					{ timeoutMs }),
			});

			before(async () => {
				seen = await changeWhileQueued(c);
			});

			droppedChecks(() => seen, c, (n) => `source: relation "public.${n}" does not exist`);
		});

		describe('emptied, or dropped and created again', () => {
			let seen;
			const c = pgCase(() => env, 'src_re', 'dst_re', {
				name: 'rewritten-pg',
				queued: ['truncated', 'recreated', 'kept'],
				ddl: (timeoutMs) => env.sql('src_re', PG_REWRITE_DDL, { timeoutMs }),
				changed: ['truncated', 'recreated'],
				changedError: (n) => new RegExp(`^source: table "public"\\."${n}" was emptied or rewritten\\b`),
				nowRows: (n) => ({ truncated: 0, recreated: RECREATED_NEW_ROWS })[n],
			});

			before(async () => {
				seen = await changeWhileQueued(c);
			});

			rewrittenChecks(() => seen, c, 'TRUNCATE and the DROP and CREATE');
		});
	});

	describe('MariaDB source', { skip: skipMariadb }, () => {
		let my;

		before(async () => {
			my = await startMariadb();
			await my.sql(MY_SOURCE_SQL);
			await my.sql(MY_REWRITE_SQL);
		});

		after(async () => {
			if (my)
				await my.stop();
		});

		describe('dropped or renamed', () => {
			let seen;
			const c = myCase(() => env, () => my, 'shop', 'dst_my', {
				name: 'dropped-mariadb',
				queued: ['gone', 'moved', 'kept'],
				ddl: (timeoutMs) => my.sql('DROP TABLE shop.gone; RENAME TABLE shop.moved TO shop.moved_away', { timeoutMs }),
			});

			before(async () => {
				seen = await changeWhileQueued(c);
			});

			droppedChecks(() => seen, c, (n) => `source: Table 'shop.${n}' doesn't exist (MySQL error 1146)`);
		});

		// the server fails such a read itself (error 1412): the table's definition is newer than the run's consistent snapshot
		describe('emptied, or dropped and created again', () => {
			let seen;
			const c = myCase(() => env, () => my, 'works', 'dst_my_re', {
				name: 'rewritten-mariadb',
				queued: ['truncated', 'recreated', 'kept'],
				ddl: (timeoutMs) => my.sql(MY_REWRITE_DDL, { db: 'works', timeoutMs }),
				changed: ['truncated', 'recreated'],
				changedError: () => /^source: reading rows: Table definition has changed, please retry transaction \(MySQL error 1412\)$/,
				nowRows: (n) => ({ truncated: 0, recreated: RECREATED_NEW_ROWS })[n],
			});

			before(async () => {
				seen = await changeWhileQueued(c);
			});

			rewrittenChecks(() => seen, c, 'TRUNCATE and the DROP and CREATE');
		});
	});
});

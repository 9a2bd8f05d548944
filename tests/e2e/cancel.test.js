// tests/e2e/cancel.test.js: cancelling a run stops its copies, rolls them back and keeps what loaded
'use strict';

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');

const { ferrydAvailable } = require('../lib/ferryd');
const { pollUntil } = require('../lib/util');
const {
	startEnv, createJob, triggerRun, getRun, waitRun, runTables, runEvents, rel, tableChecksum,
	countOrNull,
} = require('./helpers');

const SLOW_ROWS = 400000;
/* Sleeps 0.5 s every 40,000 rows: about five seconds for the whole table, in steady steps. */
const SLOW_WHERE = '(id % 40000 <> 0 OR pg_sleep(0.5) IS NOT NULL)';
const CANCEL_DEADLINE_MS = 2000;

const SOURCE_SQL = `
CREATE TABLE public.slow (id integer PRIMARY KEY, payload text NOT NULL, n bigint);
INSERT INTO public.slow SELECT g, md5(g::text), g * 7 FROM generate_series(1, ${SLOW_ROWS}) g;
CREATE TABLE public.q1 (id integer PRIMARY KEY, v text);
INSERT INTO public.q1 SELECT g, 'q1-' || g FROM generate_series(1, 1000) g;
CREATE TABLE public.q2 (id integer PRIMARY KEY, v text);
INSERT INTO public.q2 SELECT g, 'q2-' || g FROM generate_series(1, 500) g;
`;

describe('cancelling a run', { skip: !ferrydAvailable() && 'build/ferryd is not built' }, () => {
	let env;

	function slowJob(name, db, extra = {}) {
		return createJob(env.api, {
			name,
			source: { dsn: env.dsn('src') },
			target: { dsn: env.dsn(db) },
			include: ['public.*'],
			tables: { 'public.slow': { where: SLOW_WHERE } },
			...extra,
		});
	}

	/* Poll the run's tables until pred(tables) holds; resolves to the tables. */
	function waitTables(runId, pred, what) {
		return pollUntil(() => runTables(env.api, runId), {
			until: pred, timeoutMs: 30000, intervalMs: 50, what,
		});
	}

	/* POST cancel (expects 202) and wait at most CANCEL_DEADLINE_MS for the run to be cancelled. */
	async function cancelAndWait(runId) {
		const t0 = Date.now();
		const r = await env.api.post(`/api/v1/runs/${runId}/cancel`);
		assert.equal(r.status, 202, r.text);
		assert.equal(r.json.id, runId);
		assert.ok(['cancelling', 'cancelled'].includes(r.json.state), `state after cancel: ${r.json.state}`);
		const left = CANCEL_DEADLINE_MS - (Date.now() - t0);
		const run = await pollUntil(() => getRun(env.api, runId), {
			until: (x) => x.state === 'cancelled',
			timeoutMs: Math.max(left, 0),
			intervalMs: 50,
			what: `run ${runId} to be cancelled within ${CANCEL_DEADLINE_MS} ms`,
		});
		assert.ok(Date.now() - t0 <= CANCEL_DEADLINE_MS + 500, `cancel took ${Date.now() - t0} ms`);
		return run;
	}

	before(async () => {
		env = await startEnv({ dbs: ['src', 'dst', 'dst_queued'], workers: 2 });
		await env.sql('src', SOURCE_SQL);
	});

	after(async () => {
		if (env)
			await env.stop();
	});

	describe('while a table is loading', () => {
		let job;
		let run;
		let cancelled;

		before(async () => {
			job = await slowJob('cancel-me', 'dst');
			run = await triggerRun(env.api, job.id);
			const tables = await waitTables(run.id, (t) => t['public.slow']?.state === 'loading' &&
				t['public.slow'].rows > 0 && t['public.q1']?.state === 'loaded' &&
				t['public.q2']?.state === 'loaded', 'public.slow loading with rows and q1, q2 loaded');
			assert.ok(tables['public.slow'].rows < SLOW_ROWS);
			cancelled = await cancelAndWait(run.id);
		});

		it('ends the run cancelled within two seconds', () => {
			assert.equal(cancelled.state, 'cancelled');
			assert.ok(cancelled.finished_at);
			assert.equal(cancelled.tables.cancelled, 1);
			assert.equal(cancelled.tables.loaded, 2);
			assert.equal(cancelled.tables.loading, 0);
			assert.equal(cancelled.tables.queued, 0);
		});

		it('marks the loading table cancelled and keeps the loaded ones', async () => {
			const tables = await runTables(env.api, run.id);
			assert.equal(tables['public.slow'].state, 'cancelled', JSON.stringify(tables['public.slow']));
			assert.match(tables['public.slow'].error ?? '', /cancel/i);
			assert.equal(tables['public.q1'].state, 'loaded');
			assert.equal(tables['public.q1'].rows, 1000);
			assert.equal(tables['public.q2'].state, 'loaded');
			assert.equal(tables['public.q2'].rows, 500);
		});

		it('leaves the loaded tables\' rows in the target and no partial rows of the cancelled one', async () => {
			for (const t of ['q1', 'q2']) {
				const [src, dst] = await Promise.all([
					tableChecksum(env, 'src', rel('public', t)),
					tableChecksum(env, 'dst', rel('public', t)),
				]);
				assert.deepEqual(dst, src, `public.${t}`);
			}
			const slow = await countOrNull(env, 'dst', 'public', 'slow');
			assert.ok(slow === null || slow === 0, `public.slow on the target holds ${slow} rows`);
		});

		it('stops the source query', async () => {
			const busy = await pollUntil(() => env.sql('src', `SELECT count(*) FROM pg_stat_activity
				WHERE datname = 'src' AND state = 'active' AND query LIKE '%pg_sleep%' AND pid <> pg_backend_pid()`), {
				until: (n) => n === '0', timeoutMs: 5000, intervalMs: 100, what: 'the source copy to end',
			});
			assert.equal(busy, '0');
		});

		it('logs the cancellation', async () => {
			const kinds = (await runEvents(env.api, run.id)).map((e) => e.kind);
			for (const kind of ['run_started', 'planned', 'cancel_requested', 'run_finished'])
				assert.ok(kinds.includes(kind), `event ${kind} missing from ${JSON.stringify(kinds)}`);
			assert.equal(kinds.filter((k) => k === 'table_loaded').length, 2);
		});

		it('answers a second cancel with 409', async () => {
			const r = await env.api.post(`/api/v1/runs/${run.id}/cancel`);
			assert.equal(r.status, 409, r.text);
			assert.equal(r.json.error.code, 'conflict');
			assert.equal((await getRun(env.api, run.id)).state, 'cancelled');
		});

		it('lets the job run again, and cancels a run that has just been queued', async () => {
			const next = await triggerRun(env.api, job.id);
			const done = await cancelAndWait(next.id);
			assert.equal(done.state, 'cancelled');
			assert.equal(done.tables.loading, 0);
			assert.equal(done.tables.queued, 0);
			const slow = await countOrNull(env, 'dst', 'public', 'slow');
			assert.ok(slow === null || slow === 0, `public.slow on the target holds ${slow} rows`);
		});
	});

	it('cancels the tables still queued behind a loading one', async () => {
		const job = await slowJob('cancel-queued', 'dst_queued', {
			include: ['public.slow', 'public.q1'],
			load: { parallel: 1 },
		});
		const run = await triggerRun(env.api, job.id);
		await waitTables(run.id, (t) => t['public.slow']?.state === 'loading' && t['public.slow'].rows > 0 &&
			t['public.q1']?.state === 'queued', 'public.slow loading and public.q1 queued');
		const done = await cancelAndWait(run.id);
		assert.deepEqual(done.tables,
			{ total: 2, queued: 0, loading: 0, loaded: 0, errored: 0, cancelled: 2, skipped: 0 });
		const tables = await runTables(env.api, run.id);
		assert.equal(tables['public.q1'].state, 'cancelled');
		assert.equal(tables['public.q1'].started_at, null);
		const q1 = await countOrNull(env, 'dst_queued', 'public', 'q1');
		assert.ok(q1 === null || q1 === 0, `public.q1 on the target holds ${q1} rows`);
		const slow = await countOrNull(env, 'dst_queued', 'public', 'slow');
		assert.ok(slow === null || slow === 0, `public.slow on the target holds ${slow} rows`);
		await waitRun(env.api, run.id, { timeoutMs: 1000 });
	});

	it('answers 404 for a run that does not exist', async () => {
		const r = await env.api.post('/api/v1/runs/6f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f/cancel');
		assert.equal(r.status, 404, r.text);
		assert.equal(r.json.error.code, 'not_found');
		const bad = await env.api.post('/api/v1/runs/not-a-run/cancel');
		assert.equal(bad.status, 404, bad.text);
	});
});

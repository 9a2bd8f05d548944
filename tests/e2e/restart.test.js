// tests/e2e/restart.test.js: run history survives a restart; SIGTERM mid-copy; concurrent schema migration
'use strict';

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');

const { ferrydAvailable, startFerryd } = require('../lib/ferryd');
const { client } = require('../lib/api');
const { pollUntil } = require('../lib/util');
const {
	startEnv, createJob, triggerRun, runToEnd, getRun, runTables, runEvents, rel, tableChecksum,
	countOrNull,
} = require('./helpers');

const STOP_WITHIN_MS = 10000;

const SOURCE_SQL = `
CREATE TABLE public.r1 (id integer PRIMARY KEY, v text);
INSERT INTO public.r1 SELECT g, 'r1-' || g FROM generate_series(1, 100) g;
CREATE TABLE public.r2 (k text PRIMARY KEY, n numeric);
INSERT INTO public.r2 SELECT 'k' || g, g * 1.5 FROM generate_series(1, 10) g;
CREATE TABLE public.slow (id integer PRIMARY KEY, payload text NOT NULL);
INSERT INTO public.slow SELECT g, md5(g::text) FROM generate_series(1, 200000) g;
`;
/* About ten seconds for public.slow: 0.5 s of sleep every 10,000 rows. */
const SLOW_WHERE = '(id % 10000 <> 0 OR pg_sleep(0.5) IS NOT NULL)';

/* SIGTERM the server; assert it exits with status 0 within STOP_WITHIN_MS. */
async function stopCleanly(srv) {
	const r = await srv.stop('SIGTERM', { timeoutMs: STOP_WITHIN_MS + 5000 });
	assert.equal(r.signal, null, `ferryd ended by signal ${r.signal}`);
	assert.equal(r.code, 0, `ferryd exit code ${r.code}\n${srv.log().slice(-3000)}`);
	assert.ok(r.ms <= STOP_WITHIN_MS, `ferryd took ${r.ms} ms to exit after SIGTERM`);
	assert.equal(srv.isRunning(), false);
	return r;
}

describe('restarts', { skip: !ferrydAvailable() && 'build/ferryd is not built' }, () => {
	let env;

	before(async () => {
		env = await startEnv({ dbs: ['src', 'dst', 'dst_slow', 'meta_fresh'], workers: 2 });
		await env.sql('src', SOURCE_SQL);
	});

	after(async () => {
		if (env)
			await env.stop();
	});

	it('keeps the run history across a restart', async () => {
		const job = await createJob(env.api, {
			name: 'history',
			source: { dsn: env.dsn('src') },
			target: { dsn: env.dsn('dst') },
			include: ['public.r?'],
			load: { validate: 'count' },
		});
		const run = await runToEnd(env.api, job.id, { params: { why: 'history' } });
		assert.equal(run.state, 'succeeded', JSON.stringify(run));

		const capture = async () => ({
			job: (await env.api.get(`/api/v1/jobs/${job.id}`)).json,
			runs: (await env.api.get(`/api/v1/jobs/${job.id}/runs`)).json,
			run: await getRun(env.api, run.id),
			tables: (await env.api.get(`/api/v1/runs/${run.id}/tables`)).json,
			events: await runEvents(env.api, run.id),
		});
		const before = await capture();
		assert.equal(before.runs.total, 1);
		assert.equal(before.tables.items.length, 2);
		assert.ok(before.events.length >= 4);
		assert.equal(before.job.last_run.id, run.id);

		await stopCleanly(env.srv);
		await env.restart();
		const afterwards = await capture();
		assert.deepEqual(afterwards, before);
		assert.deepEqual(afterwards.run.params, { why: 'history' });
	});

	describe('SIGTERM during a copy', () => {
		let run;
		let stopped;

		before(async () => {
			const job = await createJob(env.api, {
				name: 'interrupted',
				source: { dsn: env.dsn('src') },
				target: { dsn: env.dsn('dst_slow') },
				include: ['public.*'],
				tables: { 'public.slow': { where: SLOW_WHERE } },
			});
			run = await triggerRun(env.api, job.id);
			await pollUntil(() => runTables(env.api, run.id), {
				until: (t) => t['public.slow']?.state === 'loading' && t['public.slow'].rows > 0 &&
					t['public.r1']?.state === 'loaded' && t['public.r2']?.state === 'loaded',
				timeoutMs: 30000, intervalMs: 50, what: 'public.slow loading with rows, r1 and r2 loaded',
			});
			stopped = await stopCleanly(env.srv);
			await env.restart();
		});

		it('exits with status 0 within ten seconds', () => {
			assert.equal(stopped.code, 0);
			assert.ok(stopped.ms <= STOP_WITHIN_MS);
		});

		it('leaves the run cancelled because of the shutdown, not running', async () => {
			const r = await getRun(env.api, run.id);
			assert.equal(r.state, 'cancelled', JSON.stringify(r));
			assert.match(r.error ?? '', /shut ?down/i);
			assert.ok(r.finished_at);
			assert.deepEqual(r.tables, { total: 3, queued: 0, loading: 0, loaded: 2, errored: 0, cancelled: 1, skipped: 0 });
			const tables = await runTables(env.api, run.id);
			assert.equal(tables['public.slow'].state, 'cancelled', JSON.stringify(tables['public.slow']));
			assert.match(tables['public.slow'].error ?? '', /shut ?down/i);
			assert.equal(tables['public.r1'].state, 'loaded');
			const kinds = (await runEvents(env.api, run.id)).map((e) => e.kind);
			assert.equal(kinds[kinds.length - 1], 'run_finished', JSON.stringify(kinds));
		});

		it('leaves no partial rows in the target', async () => {
			const slow = await countOrNull(env, 'dst_slow', 'public', 'slow');
			assert.ok(slow === null || slow === 0, `public.slow on the target holds ${slow} rows`);
			const [src, dst] = await Promise.all([
				tableChecksum(env, 'src', rel('public', 'r1')),
				tableChecksum(env, 'dst_slow', rel('public', 'r1')),
			]);
			assert.deepEqual(dst, src);
		});

		it('stays finished under the new process', async () => {
			const h = await env.api.get('/api/v1/jobs/interrupted/runs');
			assert.equal(h.status, 200);
			assert.equal(h.json.total, 1);
			assert.equal(h.json.items[0].state, 'cancelled');
			const again = await runToEnd(env.api, 'interrupted', { tables: ['public.r2'] });
			assert.equal(again.state, 'succeeded', 'the job takes a new run after the restart');
		});
	});

	it('migrates a fresh metadata database once when two servers start together', async () => {
		const meta = env.dsn('meta_fresh');
		const started = await Promise.allSettled([
			startFerryd({ meta, workers: 1 }),
			startFerryd({ meta, workers: 1 }),
		]);
		const servers = started.filter((s) => s.status === 'fulfilled').map((s) => s.value);
		try {
			for (const s of started)
				assert.equal(s.status, 'fulfilled', s.reason?.message);
			for (const srv of servers) {
				const api = client(srv.url);
				const ready = await pollUntil(() => api.get('/readyz'), {
					until: (r) => r.status === 200, timeoutMs: 10000, what: `${srv.url}/readyz`,
				});
				assert.deepEqual(ready.json, { status: 'ready' });
			}
			const versions = (await env.sql('meta_fresh', 'SELECT version FROM ferry.schema_version ORDER BY version'))
				.split('\n').map(Number);
			assert.ok(versions.length >= 1);
			assert.equal(new Set(versions).size, versions.length, `duplicate versions: ${versions}`);
			assert.deepEqual(versions, versions.map((_, i) => i + 1), `versions ${versions}`);
			const [a, b] = servers.map((srv) => client(srv.url));
			const created = await a.post('/api/v1/jobs', {
				name: 'shared', source: { dsn: env.dsn('src') }, target: { dsn: env.dsn('dst') }, include: ['public.r1'],
			});
			assert.equal(created.status, 201, created.text);
			const seen = await b.get('/api/v1/jobs/shared');
			assert.equal(seen.status, 200);
			assert.equal(seen.json.id, created.json.id);
		} finally {
			for (const srv of servers)
				await stopCleanly(srv);
		}
	});
});

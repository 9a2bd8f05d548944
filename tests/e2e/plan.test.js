// tests/e2e/plan.test.js: the plan endpoint and the connection test, which read but never write
'use strict';

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');

const { ferrydAvailable } = require('../lib/ferryd');
const { startEnv, createJob, dsnWithPassword, listTables } = require('./helpers');

const DEAD_DSN = 'host=127.0.0.1 port=1 dbname=src user=postgres connect_timeout=5';

const SOURCE_SQL = `
CREATE SCHEMA other;
CREATE TABLE public.t1 (id integer PRIMARY KEY, v text);
INSERT INTO public.t1 SELECT g, 'v' || g FROM generate_series(1, 5) g;
CREATE TABLE public.t2 (id integer PRIMARY KEY, v text);
INSERT INTO public.t2 SELECT g, 'v' || g FROM generate_series(1, 3) g;
CREATE TABLE public.t10 (id integer PRIMARY KEY, v text, w text);
INSERT INTO public.t10 SELECT g, 'v' || g, 'w' FROM generate_series(1, 4) g;
CREATE TABLE public.tmp_x (id integer PRIMARY KEY);
INSERT INTO public.tmp_x VALUES (1), (2);
CREATE TABLE public.tmp_y (id integer);
INSERT INTO public.tmp_y VALUES (1);
CREATE TABLE public.keep (id integer PRIMARY KEY, payload text);
INSERT INTO public.keep SELECT g, repeat('k', 100) FROM generate_series(1, 20) g;
CREATE TABLE public.nopk (a integer, b text);
INSERT INTO public.nopk SELECT g % 3, 'x' FROM generate_series(1, 7) g;
CREATE TABLE public.empty (id integer PRIMARY KEY);
CREATE TABLE other.z (id integer PRIMARY KEY);
INSERT INTO other.z VALUES (1), (2), (3);
`;

const ROWS = { 'public.t1': 5, 'public.t2': 3, 'public.t10': 4, 'public.keep': 20, 'public.nopk': 7,
	'public.empty': 0, 'other.z': 3 };

describe('planning', { skip: !ferrydAvailable() && 'build/ferryd is not built' }, () => {
	let env;
	const jobs = [];
	let targetBefore;

	function job(name, extra = {}) {
		return createJob(env.api, {
			name,
			source: { dsn: env.dsn('src') },
			target: { dsn: env.dsn('dst') },
			include: ['public.*'],
			...extra,
		}).then((j) => {
			jobs.push(j);
			return j;
		});
	}

	async function plan(ref) {
		const r = await env.api.get(`/api/v1/jobs/${encodeURIComponent(ref)}/plan`);
		assert.equal(r.status, 200, r.text);
		const tables = Object.fromEntries(r.json.tables.map((t) => [t.source, t]));
		assert.equal(r.json.totals.tables, r.json.tables.length);
		assert.equal(r.json.totals.rows_estimate, r.json.tables.reduce((a, t) => a + t.rows_estimate, 0));
		assert.equal(r.json.totals.bytes_estimate, r.json.tables.reduce((a, t) => a + t.bytes_estimate, 0));
		return { ...r.json, bySource: tables };
	}

	before(async () => {
		env = await startEnv({ dbs: ['src', 'dst'], workers: 2 });
		await env.sql('src', SOURCE_SQL);
		await env.sql('dst', 'CREATE TABLE public.keep (id integer PRIMARY KEY, payload text)');
		targetBefore = await listTables(env, 'dst');
		assert.deepEqual(targetBefore, ['public.keep']);
	});

	after(async () => {
		if (env)
			await env.stop();
	});

	it('selects tables with include and exclude globs using *', async () => {
		const j = await job('star', { exclude: ['public.tmp_*'] });
		const p = await plan(j.id);
		assert.equal(p.job_id, j.id);
		assert.deepEqual(Object.keys(p.bySource).sort(),
			['public.empty', 'public.keep', 'public.nopk', 'public.t1', 'public.t10', 'public.t2']);
		for (const [name, t] of Object.entries(p.bySource)) {
			assert.equal(t.target, name, 'no rename: the target is the source name');
			assert.equal(t.rows_estimate, ROWS[name], `${name} rows_estimate (never analyzed: counted)`);
			if (ROWS[name] > 0)
				assert.ok(t.bytes_estimate > 0, `${name} bytes_estimate`);
		}
		assert.equal(p.bySource['public.t10'].columns, 3);
		assert.equal(p.bySource['public.t1'].columns, 2);
		assert.deepEqual(p.warnings, []);
	});

	it('matches exactly one character with ?', async () => {
		const j = await job('question', { include: ['public.t?'] });
		const p = await plan(j.name);
		assert.deepEqual(Object.keys(p.bySource).sort(), ['public.t1', 'public.t2']);
		const both = await job('question-both', { include: ['public.t?', 'other.?'], exclude: ['public.t2'] });
		assert.deepEqual(Object.keys((await plan(both.id)).bySource).sort(), ['other.z', 'public.t1']);
	});

	it('warns about missing primary keys and existing target tables', async () => {
		const j = await job('warnings', { include: ['public.nopk', 'public.keep', 'public.t1'] });
		const p = await plan(j.id);
		const nopk = p.bySource['public.nopk'];
		assert.equal(nopk.has_primary_key, false);
		assert.ok(nopk.warnings.some((w) => /primary key/i.test(w)), JSON.stringify(nopk.warnings));
		const keep = p.bySource['public.keep'];
		assert.equal(keep.has_primary_key, true);
		assert.equal(keep.target_exists, true);
		assert.ok(keep.warnings.some((w) => /exists/i.test(w) && w.includes('public.keep')), JSON.stringify(keep.warnings));
		const t1 = p.bySource['public.t1'];
		assert.equal(t1.target_exists, false);
		assert.equal(t1.has_primary_key, true);
		assert.deepEqual(t1.warnings, []);
	});

	it('shows renamed targets', async () => {
		const j = await job('renames', {
			include: ['public.keep', 'public.t1', 'other.*'],
			tables: {
				'public.keep': { target: 'arch.keep2' },
				'public.t1': { target: 't1_new' },
				'other.z': { target: 'public.z_from_other' },
			},
		});
		const p = await plan(j.id);
		assert.deepEqual(Object.fromEntries(Object.entries(p.bySource).map(([k, t]) => [k, t.target])), {
			'public.keep': 'arch.keep2',
			'public.t1': 'public.t1_new',
			'other.z': 'public.z_from_other',
		});
		assert.equal(p.bySource['public.keep'].target_exists, false, 'arch.keep2 does not exist');
		assert.ok(!p.bySource['public.keep'].warnings.some((w) => /exists/.test(w)));
	});

	it('warns about an invalid where clause', async () => {
		const j = await job('bad-where', {
			include: ['public.t1', 'public.t2'],
			tables: { 'public.t1': { where: 'no_such_column >' } },
		});
		const p = await plan(j.id);
		assert.ok(p.bySource['public.t1'].warnings.some((w) => /where/i.test(w)),
			JSON.stringify(p.bySource['public.t1'].warnings));
		assert.deepEqual(p.bySource['public.t2'].warnings, []);
	});

	it('still plans when the target cannot be reached, with a warning', async () => {
		const j = await job('dead-target', { target: { dsn: DEAD_DSN }, include: ['public.t1'] });
		const p = await plan(j.id);
		assert.deepEqual(Object.keys(p.bySource), ['public.t1']);
		assert.ok(p.warnings.length >= 1, 'a job-wide warning about the target');
		assert.match(p.warnings.join('\n'), /target/i);
	});

	it('answers 422 source_unreachable when the source cannot be reached', async () => {
		const j = await job('dead-source', { source: { dsn: DEAD_DSN } });
		const r = await env.api.get(`/api/v1/jobs/${j.id}/plan`);
		assert.equal(r.status, 422, r.text);
		assert.equal(r.json.error.code, 'source_unreachable');
		assert.ok(r.json.error.message.length > 0);
	});

	it('answers 404 for the plan of an unknown job', async () => {
		const byId = await env.api.get('/api/v1/jobs/0d7a6c52-1e3b-4f5a-9b8c-7d6e5f4a3b2c/plan');
		assert.equal(byId.status, 404, byId.text);
		assert.equal(byId.json.error.code, 'not_found');
		const byName = await env.api.get('/api/v1/jobs/no-such-job/plan');
		assert.equal(byName.status, 404, byName.text);
	});

	it('wrote nothing: no target tables, no runs', async () => {
		assert.ok(jobs.length >= 7);
		assert.deepEqual(await listTables(env, 'dst'), targetBefore);
		assert.equal(await env.sql('dst', "SELECT count(*) FROM pg_namespace WHERE nspname = 'arch'"), '0');
		for (const j of jobs) {
			const runs = await env.api.get(`/api/v1/jobs/${j.id}/runs`);
			assert.equal(runs.status, 200);
			assert.equal(runs.json.total, 0, `job ${j.name} has runs`);
			assert.deepEqual(runs.json.items, []);
			const got = await env.api.get(`/api/v1/jobs/${j.id}`);
			assert.equal(got.json.last_run, null);
			assert.equal(got.json.updated_at, j.updated_at);
		}
		assert.equal(await env.sql('ferry_meta', 'SELECT count(*) FROM ferry.runs'), '0');
	});

	describe('POST /api/v1/connections/test', () => {
		it('reports a reachable database with its server version', async () => {
			const version = await env.sql('src', 'SHOW server_version');
			const password = 'conn-test-pw-4711';
			const r = await env.api.post('/api/v1/connections/test', { dsn: dsnWithPassword(env.cluster, 'src', password) });
			assert.equal(r.status, 200, r.text);
			assert.equal(r.json.reachable, true);
			assert.equal(r.json.server_version, version);
			assert.ok(r.json.latency_ms >= 0);
			assert.match(r.json.dsn, /^postgresql:\/\/postgres:\*\*\*@/);
			assert.ok(!r.text.includes(password));
		});

		it('reports an unreachable database as reachable: false', async () => {
			const r = await env.api.post('/api/v1/connections/test', { dsn: DEAD_DSN });
			assert.equal(r.status, 200, r.text);
			assert.equal(r.json.reachable, false);
			assert.ok(r.json.error.length > 0);
			assert.ok(!('server_version' in r.json));
		});

		it('rejects a malformed DSN naming the field', async () => {
			const r = await env.api.post('/api/v1/connections/test', { dsn: 'this is not a dsn' });
			assert.equal(r.status, 400, r.text);
			assert.equal(r.json.error.code, 'invalid_field');
			assert.equal(r.json.error.field, 'dsn');
		});
	});
});

// tests/e2e/modes.test.js: load modes, narrowed runs, one active run per job, bad filters, redacted passwords
'use strict';

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');

const { ferrydAvailable } = require('../lib/ferryd');
const {
	startEnv, dsnWithPassword, createJob, triggerRun, waitRun, runToEnd, runTables, rel,
	tableChecksum, countOrNull, listTables,
} = require('./helpers');

const PASSWORD = `Pw-${crypto.randomBytes(8).toString('hex')}-secret`;

const SOURCE_SQL = `
CREATE TABLE public.a (id integer PRIMARY KEY, v text NOT NULL, n numeric);
INSERT INTO public.a SELECT g, 'a-' || g, g / 4.0 FROM generate_series(1, 100) g;
CREATE TABLE public.b (id integer PRIMARY KEY, w text);
INSERT INTO public.b SELECT g, 'b-' || g FROM generate_series(1, 50) g;
CREATE TABLE public.log (at integer, what text);
INSERT INTO public.log SELECT g % 7, 'event ' || (g % 5) FROM generate_series(1, 40) g;
`;

const TARGETS = ['dst_replace', 'dst_commit', 'dst_append', 'dst_fail', 'dst_drop', 'dst_nocreate', 'dst_narrow',
	'dst_busy', 'dst_where'];

describe('load modes and run rules', { skip: !ferrydAvailable() && 'build/ferryd is not built' }, () => {
	let env;
	let sourceDsn;

	/* Create a job from src (with a password in both DSNs) into database db. */
	function job(name, db, extra = {}) {
		return createJob(env.api, {
			name,
			source: { dsn: sourceDsn },
			target: { dsn: dsnWithPassword(env.cluster, db, PASSWORD) },
			include: ['public.a', 'public.b'],
			...extra,
		});
	}

	async function sameAsSource(db, table) {
		const [src, dst] = await Promise.all([
			tableChecksum(env, 'src', rel('public', table)),
			tableChecksum(env, db, rel('public', table)),
		]);
		assert.ok(src.count > 0);
		assert.deepEqual(dst, src, `${db}: public.${table} differs from the source`);
	}

	before(async () => {
		env = await startEnv({ dbs: ['src', ...TARGETS], workers: 2 });
		await env.sql('src', SOURCE_SQL);
		sourceDsn = dsnWithPassword(env.cluster, 'src', PASSWORD);
	});

	after(async () => {
		if (env)
			await env.stop();
	});

	it('shows DSNs with the password replaced by ***', async () => {
		const j = await job('redacted', 'dst_replace');
		assert.match(j.source.dsn, /^postgresql:\/\/postgres:\*\*\*@/);
		assert.match(j.target.dsn, /^postgresql:\/\/postgres:\*\*\*@/);
		assert.ok(j.target.dsn.includes('dst_replace'), j.target.dsn);
		const list = await env.api.get('/api/v1/jobs');
		assert.equal(list.status, 200);
		assert.ok(list.json.items.some((x) => x.id === j.id));
		const del = await env.api.del(`/api/v1/jobs/${j.id}`);
		assert.equal(del.status, 204);
	});

	it('replace run twice leaves exactly the source rows', async () => {
		const j = await job('replace', 'dst_replace', { load: { mode: 'replace', validate: 'count' } });
		const first = await runToEnd(env.api, j.id);
		assert.equal(first.state, 'succeeded', JSON.stringify(first));
		await sameAsSource('dst_replace', 'a');
		await sameAsSource('dst_replace', 'b');
		await env.sql('dst_replace', "INSERT INTO public.a VALUES (100001, 'stray', NULL); DELETE FROM public.b WHERE id <= 10");
		const second = await runToEnd(env.api, j.id);
		assert.equal(second.state, 'succeeded', JSON.stringify(second));
		assert.equal(second.rows, 150);
		await sameAsSource('dst_replace', 'a');
		await sameAsSource('dst_replace', 'b');
		const tables = await runTables(env.api, second.id);
		assert.deepEqual(tables['public.a'].validation, { state: 'passed', source_rows: 100, target_rows: 100 });
	});

	it('a replace with nothing between COPY and commit commits in the COPY\'s message, and fails its table when that commit fails', async () => {
		// the target's statements, as the server receives them, go to its log
		await env.sql('dst_commit', 'ALTER DATABASE dst_commit SET log_statement = \'all\'');
		const j = await job('commit', 'dst_commit', { load: { mode: 'replace', validate: 'none' } });
		const first = await runToEnd(env.api, j.id);
		assert.equal(first.state, 'succeeded', JSON.stringify(first));
		await sameAsSource('dst_commit', 'a');
		const oneMessage = /statement: BEGIN; TRUNCATE [^\n]*"a"; COPY [^\n]*"a" [^\n]*FROM STDIN[^\n]*; COMMIT\n/;
		assert.match(env.cluster.log(), oneMessage);
		// a deferred constraint trigger refuses every inserted row of a, at commit only
		await env.sql('dst_commit', `
			CREATE FUNCTION public.refuse() RETURNS trigger LANGUAGE plpgsql
			AS $$ BEGIN RAISE EXCEPTION 'refused at commit'; END $$;
			CREATE CONSTRAINT TRIGGER refuse AFTER INSERT ON public.a
			DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION public.refuse();`);
		const second = await runToEnd(env.api, j.id);
		assert.equal(second.state, 'failed', JSON.stringify(second));
		const tables = await runTables(env.api, second.id);
		assert.equal(tables['public.a'].state, 'errored', JSON.stringify(tables['public.a']));
		assert.match(tables['public.a'].error, /refused at commit/);
		assert.equal(tables['public.b'].state, 'loaded', JSON.stringify(tables['public.b']));
		// the failed commit rolled back the TRUNCATE with the rows
		await sameAsSource('dst_commit', 'a');
		await sameAsSource('dst_commit', 'b');
	});

	it('append run twice doubles the rows', async () => {
		const j = await job('append', 'dst_append', { include: ['public.log'], load: { mode: 'append' } });
		const first = await runToEnd(env.api, j.id);
		assert.equal(first.state, 'succeeded', JSON.stringify(first));
		await sameAsSource('dst_append', 'log');
		const second = await runToEnd(env.api, j.id);
		assert.equal(second.state, 'succeeded', JSON.stringify(second));
		assert.equal(second.rows, 40);
		const want = await tableChecksum(env, 'src', '(SELECT * FROM public.log UNION ALL SELECT * FROM public.log)');
		assert.equal(want.count, 80);
		assert.deepEqual(await tableChecksum(env, 'dst_append', 'public.log'), want);
	});

	it('fail refuses a non-empty target table and still loads the others', async () => {
		await env.sql('dst_fail', `
			CREATE TABLE public.a (id integer PRIMARY KEY, v text NOT NULL, n numeric);
			INSERT INTO public.a VALUES (-1, 'keep', 1), (-2, 'keep', 2), (-3, 'keep', 3);
			CREATE TABLE public.b (id integer PRIMARY KEY, w text);`);
		const before3 = await tableChecksum(env, 'dst_fail', 'public.a');
		const j = await job('fail-mode', 'dst_fail', { load: { mode: 'fail' } });
		const run = await runToEnd(env.api, j.id);
		assert.equal(run.state, 'failed', JSON.stringify(run));
		assert.match(run.error, /public\.a/);
		assert.doesNotMatch(run.error, /public\.b/);
		assert.equal(run.tables.errored, 1);
		assert.equal(run.tables.loaded, 1);
		const tables = await runTables(env.api, run.id);
		assert.equal(tables['public.a'].state, 'errored');
		assert.match(tables['public.a'].error, /\b3 rows\b/);
		assert.equal(tables['public.a'].rows, 0);
		assert.equal(tables['public.b'].state, 'loaded', JSON.stringify(tables['public.b']));
		assert.deepEqual(await tableChecksum(env, 'dst_fail', 'public.a'), before3, 'the refused target is untouched');
		await sameAsSource('dst_fail', 'b');
	});

	it('drop recreates a target table whose columns differ', async () => {
		await env.sql('dst_drop', `
			CREATE TABLE public.a (x text, y integer);
			INSERT INTO public.a VALUES ('old', 1), ('old', 2);`);
		const j = await job('drop-mode', 'dst_drop', { include: ['public.a'], load: { mode: 'drop', validate: 'count' } });
		const run = await runToEnd(env.api, j.id);
		assert.equal(run.state, 'succeeded', JSON.stringify(run));
		const cols = await env.sql('dst_drop', `SELECT string_agg(attname || ':' || format_type(atttypid, atttypmod), ',' ORDER BY attnum)
			FROM pg_attribute WHERE attrelid = 'public.a'::regclass AND attnum > 0 AND NOT attisdropped`);
		assert.equal(cols, 'id:integer,v:text,n:numeric');
		await sameAsSource('dst_drop', 'a');
	});

	it('create: false with a missing target table errors clearly', async () => {
		const j = await job('no-create', 'dst_nocreate', { include: ['public.a'], load: { create: false } });
		assert.equal(j.load.create, false);
		const run = await runToEnd(env.api, j.id);
		assert.equal(run.state, 'failed', JSON.stringify(run));
		assert.match(run.error, /public\.a/);
		const tables = await runTables(env.api, run.id);
		assert.equal(tables['public.a'].state, 'errored');
		assert.match(tables['public.a'].error, /does not exist/);
		assert.match(tables['public.a'].error, /load\.create/);
		assert.deepEqual(await listTables(env, 'dst_nocreate'), []);
	});

	it('a narrowed run loads only the tables asked for', async () => {
		const j = await job('narrow', 'dst_narrow', { include: ['public.*'] });
		const run = await triggerRun(env.api, j.id, { tables: ['public.a'], params: { reason: 'narrow' } });
		assert.deepEqual(run.tables_requested, ['public.a']);
		assert.deepEqual(run.params, { reason: 'narrow' });
		const done = await waitRun(env.api, run.id);
		assert.equal(done.state, 'succeeded', JSON.stringify(done));
		assert.equal(done.tables.total, 1);
		const tables = await runTables(env.api, run.id);
		assert.deepEqual(Object.keys(tables), ['public.a']);
		assert.deepEqual(await listTables(env, 'dst_narrow'), ['public.a']);
		await sameAsSource('dst_narrow', 'a');
	});

	it('refuses a second run while one is active, and takes it after', async () => {
		const j = await job('busy', 'dst_busy', {
			include: ['public.a'],
			tables: { 'public.a': { where: '(id <> 1 OR pg_sleep(1.5) IS NOT NULL)' } },
		});
		const first = await triggerRun(env.api, j.id);
		const again = await env.api.post(`/api/v1/jobs/${j.id}/runs`);
		assert.equal(again.status, 409, again.text);
		assert.equal(again.json.error.code, 'conflict');
		const byName = await env.api.post(`/api/v1/jobs/${j.name}/runs`, {});
		assert.equal(byName.status, 409, byName.text);
		const done = await waitRun(env.api, first.id);
		assert.equal(done.state, 'succeeded', JSON.stringify(done));
		const history = await env.api.get(`/api/v1/jobs/${j.id}/runs`);
		assert.equal(history.json.total, 1, 'the refused triggers created no runs');
		const second = await runToEnd(env.api, j.id);
		assert.equal(second.state, 'succeeded', JSON.stringify(second));
		assert.notEqual(second.id, first.id);
		await sameAsSource('dst_busy', 'a');
	});

	it('an invalid where fails its table with the database\'s message', async () => {
		const j = await job('bad-where', 'dst_where', {
			tables: { 'public.a': { where: 'no_such_column > 0' } },
		});
		const run = await runToEnd(env.api, j.id);
		assert.equal(run.state, 'failed', JSON.stringify(run));
		assert.match(run.error, /public\.a/);
		const tables = await runTables(env.api, run.id);
		assert.equal(tables['public.a'].state, 'errored');
		assert.match(tables['public.a'].error, /column "no_such_column" does not exist/);
		assert.equal(tables['public.b'].state, 'loaded');
		await sameAsSource('dst_where', 'b');
		const a = await countOrNull(env, 'dst_where', 'public', 'a');
		assert.ok(a === null || a === 0, `the failed table was rolled back, yet holds ${a} rows`);
	});

	it('never shows the DSN password in any response', () => {
		assert.ok(env.seen.length > 50, `only ${env.seen.length} responses seen`);
		assert.ok(env.seen.some((r) => r.text.includes('***')), 'some response shows a redacted DSN');
		for (const r of env.seen)
			assert.ok(!r.text.includes(PASSWORD), `${r.method} ${r.path} → ${r.status} shows the password: ${r.text}`);
	});

	it('never writes the DSN password to its log', () => {
		const log = env.srv.log();
		assert.ok(log.length > 0);
		assert.ok(!log.includes(PASSWORD), 'ferryd output contains the password');
	});
});

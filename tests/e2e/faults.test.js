// tests/e2e/faults.test.js: transient faults are retried, permanent ones are not; the metadata database may restart; POST /runs/{id}/retry
'use strict';

/*
 * Three clusters, so that each can fail on its own: one for ferryd's
 * metadata, one for the source, one for the targets. Every run loads the
 * same four source tables, one of them slowed down by its `where` so that
 * there is time to break something while it copies.
 */

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { execFile, spawn } = require('node:child_process');
const { promisify } = require('node:util');

const { startCluster, bindir } = require('../lib/cluster');
const { startFerryd, ferrydAvailable } = require('../lib/ferryd');
const { pollUntil } = require('../lib/util');
const {
	recordingClient, createJob, triggerRun, waitRun, runTables, runEvents, rel,
	tableChecksum, pgCtl, restartCluster, waitTables, FINISHED,
} = require('./helpers');

const BIG_ROWS = 160000;
/* 0.25 s of sleep every 10,000 rows: about four seconds for public.big, in even steps. */
const SLOW_WHERE = '(id % 10000 <> 0 OR pg_sleep(0.25) IS NOT NULL)';
const TABLES = ['public.big', 'public.mid', 'public.small', 'public.nokey'];

const SOURCE_SQL = `
CREATE TABLE public.big (id integer PRIMARY KEY, payload text NOT NULL, n bigint);
INSERT INTO public.big SELECT g, md5(g::text), g * 3 FROM generate_series(1, ${BIG_ROWS}) g;
CREATE TABLE public.mid (id integer PRIMARY KEY, v text);
INSERT INTO public.mid SELECT g, 'mid-' || g FROM generate_series(1, 30000) g;
CREATE TABLE public.small (k text PRIMARY KEY, amount numeric(12,2));
INSERT INTO public.small SELECT 'k' || g, g * 1.25 FROM generate_series(1, 500) g;
-- no primary key, and every row twice: duplicates must arrive exactly as often as they are there
CREATE TABLE public.nokey (a integer, b text);
INSERT INTO public.nokey SELECT g % 700, 'n' || (g % 700) FROM generate_series(1, 1400) g;
CREATE TABLE public.perm_type (id integer, v text);
INSERT INTO public.perm_type SELECT g, 'not a number ' || g FROM generate_series(1, 100) g;
CREATE TABLE public.perm_div (id integer PRIMARY KEY, v text);
INSERT INTO public.perm_div SELECT g, 'd' || g FROM generate_series(1, 100) g;
CREATE TABLE public.retry_me (id integer PRIMARY KEY, v text);
INSERT INTO public.retry_me SELECT g, 'r' || g FROM generate_series(1, 2000) g;
`;

const TARGET_DBS = ['dst_kill', 'dst_step', 'dst_restart', 'dst_perm', 'dst_meta', 'dst_lost', 'dst_retry', 'dst_kept'];

describe('faults during a run', { skip: !ferrydAvailable() && 'build/ferryd is not built' }, () => {
	let metaCluster;
	let srcCluster;
	let dstCluster;
	let srv;
	let api;
	const clusters = [];
	const seen = [];
	const crashes = [];

	/*
	 * If ferryd died (a bug), note its output and start another on the same
	 * metadata database, so the tests after the one that found it still run.
	 * Resolves to a description of the death, or null when it is running.
	 */
	async function ensureAlive(suspect = false) {
		if (suspect) {
			// a dropped connection: give the process a moment to be reaped if it died
			await pollUntil(() => !srv.isRunning(), { timeoutMs: 3000, intervalMs: 20 }).catch(() => null);
		}
		if (srv.isRunning())
			return null;
		const how = await srv.exited;
		const what = `ferryd (pid ${srv.pid}) died with ${how.signal ?? `exit code ${how.code}`}\n` +
			`--- its output (end) ---\n${srv.log().slice(-3000)}`;
		crashes.push({ what, reported: false });
		srv = await startFerryd({ meta: metaCluster.dsn('ferry_meta'), workers: 2 });
		api = recordingClient(srv.url, seen);
		return what;
	}

	const src = (text) => srcCluster.psql(text, { db: 'src' });
	const dst = (db, text) => dstCluster.psql(text, { db });

	/* tableChecksum() wants an env with sql(db, text): databases on the two data clusters. */
	const dataEnv = {
		sql: (db, text) => (db === 'src' ? src(text) : dst(db, text)),
	};

	function job(name, db, extra = {}) {
		return createJob(api, {
			name,
			source: { dsn: srcCluster.dsn('src') },
			target: { dsn: dstCluster.dsn(db) },
			include: TABLES,
			tables: { 'public.big': { where: SLOW_WHERE } },
			// validation would read the slow table a second time; the test compares checksums itself
			load: { mode: 'replace', validate: 'none', parallel: 2 },
			retry: { attempts: 3, delay_s: 0.2 },
			...extra,
		});
	}

	/* Poll until public.big is loading and has rows on its way. */
	function bigLoading(runId) {
		return waitTables(api, runId, (t) => t['public.big']?.state === 'loading' && t['public.big'].rows > 0,
			'public.big loading with rows');
	}

	async function sameAsSource(db, table) {
		const [name] = table.split('.').slice(1);
		const [s, d] = await Promise.all([
			tableChecksum(dataEnv, 'src', rel('public', name)),
			tableChecksum(dataEnv, db, rel('public', name)),
		]);
		assert.ok(s.count > 0, `${table} is empty on the source`);
		assert.deepEqual(d, s, `${db}: ${table} differs from the source (count, sum of hashtext, md5 of sorted md5s)`);
	}

	/* No value of the key column appears twice on the target. */
	async function noDuplicateKeys(db, table, key) {
		const dups = await dst(db, `SELECT count(*) FROM (SELECT ${key} FROM ${table} GROUP BY ${key} HAVING count(*) > 1) d`);
		assert.equal(dups, '0', `${db}: ${table} holds duplicate ${key} values`);
	}

	/* The whole run loaded and every table equals its source. */
	async function assertAllLoaded(run, db) {
		assert.equal(run.state, 'succeeded', `run ${run.id}: ${JSON.stringify(run)}`);
		assert.equal(run.error, null);
		assert.deepEqual(run.tables, { total: 4, queued: 0, loading: 0, loaded: 4, errored: 0, cancelled: 0, skipped: 0 });
		const tables = await runTables(api, run.id);
		for (const name of TABLES) {
			assert.equal(tables[name]?.state, 'loaded', `${name}: ${JSON.stringify(tables[name])}`);
			assert.equal(tables[name].error, null, `${name} keeps an error after it loaded: ${tables[name].error}`);
			await sameAsSource(db, name);
		}
		assert.equal(tables['public.big'].rows, BIG_ROWS);
		await noDuplicateKeys(db, 'public.big', 'id');
		return tables;
	}

	before(async () => {
		try {
			metaCluster = await startCluster();
			clusters.push(metaCluster);
			srcCluster = await startCluster();
			clusters.push(srcCluster);
			dstCluster = await startCluster();
			clusters.push(dstCluster);
			await metaCluster.createDb('ferry_meta');
			await srcCluster.createDb('src');
			for (const db of TARGET_DBS)
				await dstCluster.createDb(db);
			await src(SOURCE_SQL);
			await src('ANALYZE');
			srv = await startFerryd({ meta: metaCluster.dsn('ferry_meta'), workers: 2 });
			api = recordingClient(srv.url, seen);
		} catch (e) {
			if (srv)
				await srv.kill9();
			for (const c of clusters)
				await c.stop().catch(() => {});
			throw e;
		}
	});

	after(async () => {
		let r = null;
		try {
			if (srv && srv.isRunning())
				r = await srv.stop('SIGTERM', { timeoutMs: 15000 });
		} finally {
			for (const c of clusters)
				await c.stop();
		}
		if (r)
			assert.equal(r.code, 0, `ferryd exited with ${JSON.stringify(r)}\n${srv.log().slice(-4000)}`);
	});

	it('retries a table whose source COPY was terminated, and loads it exactly once', async () => {
		await job('kill-copy', 'dst_kill');
		const run = await triggerRun(api, 'kill-copy');
		await bigLoading(run.id);
		// the COPY may come after the snapshot's BEGIN in the same message
		const killed = await src(`SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))
			FROM pg_stat_activity WHERE query LIKE '%COPY % TO STDOUT%' AND datname = 'src' AND pid <> pg_backend_pid()`);
		assert.ok(Number(killed) >= 1, `terminated ${killed} source COPY backends`);

		const done = await waitRun(api, run.id, { timeoutMs: 60000 });
		const tables = await assertAllLoaded(done, 'dst_kill');
		assert.ok(tables['public.big'].attempts >= 2, `public.big attempts: ${tables['public.big'].attempts}`);
		assert.ok(tables['public.big'].attempts <= 4, `public.big attempts: ${tables['public.big'].attempts}`);

		const events = await runEvents(api, run.id);
		const retries = events.filter((e) => e.kind === 'table_retry' && e.table === 'public.big');
		assert.ok(retries.length >= 1, `no table_retry event for public.big: ${JSON.stringify(events.map((e) => [e.kind, e.table, e.message]))}`);
		// the message may span lines: libpq's text is kept as it is
		assert.match(retries[0].message, /^attempt 1 of 4 failed: [\s\S]+; trying again in 0\.2 s$/);
		assert.match(retries[0].message, /terminat/i, 'the retry event names the error');
		assert.equal(retries[0].level, 'warning');
		assert.equal(retries.length, tables['public.big'].attempts - 1, 'one table_retry event per failed attempt');
		const loadedEvents = events.filter((e) => e.kind === 'table_loaded' && e.table === 'public.big');
		assert.equal(loadedEvents.length, 1, 'public.big is loaded once');
		assert.ok(!events.some((e) => e.kind === 'table_failed'), 'no table failed');
	});

	/*
	 * A primary key is its unique index, built and committed, then ADD
	 * CONSTRAINT ... USING INDEX. An event trigger on the target holds every
	 * ALTER TABLE ... ADD CONSTRAINT at its start until the test lets go of an
	 * advisory lock: the primary key's index must be there by then, and the
	 * attempt cut off there must be tried again, adding the constraint to it.
	 */
	it('builds a primary key\'s index before it adds the constraint, and adds it on a retry cut off in between', async () => {
		await dst('dst_step', `CREATE FUNCTION gate_add_constraint() RETURNS event_trigger LANGUAGE plpgsql AS $$
			BEGIN
				IF current_query() LIKE '%ADD CONSTRAINT%' THEN
					PERFORM pg_advisory_lock_shared(4242);
					PERFORM pg_advisory_unlock_shared(4242);
				END IF;
			END $$;
			CREATE EVENT TRIGGER gate_add_constraint ON ddl_command_start WHEN TAG IN ('ALTER TABLE')
				EXECUTE FUNCTION gate_add_constraint()`);
		const gate = spawn(path.join(bindir(), 'psql'), ['-X', '-q', '-A', '-t', '-h', dstCluster.host,
			'-p', String(dstCluster.port), '-U', 'postgres', '-d', 'dst_step'], { stdio: ['pipe', 'pipe', 'pipe'] });
		const gateClosed = new Promise((resolve) => gate.on('close', resolve));
		try {
			let out = '';
			gate.stdout.on('data', (b) => { out += b.toString('utf8'); });
			gate.stdin.write("SELECT pg_advisory_lock(4242), 'held';\n");
			await pollUntil(() => out.includes('held'), { timeoutMs: 10000, what: 'the advisory lock held' });

			await job('kill-step', 'dst_step', { include: ['public.retry_me'], tables: {} });
			const run = await triggerRun(api, 'kill-step');
			const waiting = `SELECT pid FROM pg_stat_activity WHERE datname = 'dst_step' AND wait_event = 'advisory'
				AND query LIKE '%ADD CONSTRAINT%' AND pid <> pg_backend_pid()`;
			await pollUntil(async () => (await dst('dst_step', waiting)) !== '', { timeoutMs: 30000, what: 'the primary key held at ADD CONSTRAINT' });
			assert.equal(await dst('dst_step', `SELECT string_agg(i.indexrelid::regclass::text || ' ' || i.indisunique || ' ' || i.indisvalid, ',')
				FROM pg_index i WHERE i.indrelid = 'public.retry_me'::regclass`), 'retry_me_pkey true true',
			'the primary key\'s unique index is built and committed before its constraint is added');
			assert.equal(await dst('dst_step', `SELECT count(*) FROM pg_constraint WHERE conrelid = 'public.retry_me'::regclass`), '0');

			const killed = await dst('dst_step', `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM (${waiting}) w`);
			assert.equal(killed, '1', 'terminated the backend held at ADD CONSTRAINT');
			gate.stdin.end();
			await gateClosed;

			const done = await waitRun(api, run.id, { timeoutMs: 60000 });
			assert.equal(done.state, 'succeeded', `run ${run.id}: ${JSON.stringify(done)}`);
			await sameAsSource('dst_step', 'public.retry_me');
			assert.equal(await dst('dst_step', `SELECT string_agg(conname || ' ' || contype::text || ' ' || conindid::regclass::text, ',')
				FROM pg_constraint WHERE conrelid = 'public.retry_me'::regclass`), 'retry_me_pkey p retry_me_pkey',
			'the retry added the primary key on the index the first attempt built');
			assert.equal(await dst('dst_step', `SELECT count(*) FROM pg_index WHERE indrelid = 'public.retry_me'::regclass`), '1');

			const events = await runEvents(api, run.id);
			const mine = events.filter((e) => e.kind === 'primary_key' && e.table === 'public.retry_me');
			assert.equal(mine.length, 2, `primary key events: ${JSON.stringify(mine)}`);
			assert.equal(mine[0].level, 'warning');
			assert.match(mine[0].message, /^attempt 1 of 4 failed: [\s\S]*terminat[\s\S]*; trying again in 0\.2 s$/i);
			assert.match(mine[1].message, /^added primary_key retry_me_pkey in \d+ ms$/);
		} finally {
			gate.kill();
			await gateClosed;
		}
	});

	it('retries the copies cut off by a restart of the target cluster', async () => {
		await job('restart-target', 'dst_restart', { retry: { attempts: 3, delay_s: 0.5 } });
		const run = await triggerRun(api, 'restart-target');
		await bigLoading(run.id);
		const restartedAt = Date.now();
		const ms = await restartCluster(dstCluster, 'fast');

		const done = await waitRun(api, run.id, { timeoutMs: 60000 });
		assert.equal(done.state, 'succeeded',
			`run after a ${ms} ms target restart: ${JSON.stringify(done)}\n${JSON.stringify((await runEvents(api, run.id)).map((e) => [e.kind, e.table, e.message]))}`);
		const tables = await assertAllLoaded(done, 'dst_restart');
		assert.ok(Date.parse(tables['public.big'].finished_at) > restartedAt, 'public.big was still loading when the target restarted');
		assert.ok(tables['public.big'].attempts >= 2, `public.big attempts: ${tables['public.big'].attempts}`);
		const events = await runEvents(api, run.id);
		const retries = events.filter((e) => e.kind === 'table_retry' && e.table === 'public.big');
		assert.ok(retries.length >= 1, `no table_retry event for public.big: ${JSON.stringify(events.map((e) => [e.kind, e.table, e.message]))}`);
		assert.match(retries[0].message, /^attempt 1 of 4 failed: [\s\S]+; trying again in 0\.5 s$/);
	});

	it('fails a permanent error at once, even with retries allowed', async () => {
		// the target column is an integer: the text COPY cannot parse the source's strings
		await dst('dst_perm', 'CREATE TABLE public.perm_type (id integer, v integer)');
		await job('permanent', 'dst_perm', {
			include: ['public.perm_type', 'public.perm_div', 'public.small'],
			tables: { 'public.perm_div': { where: '1 / (id - id) = 0' } },
			load: { mode: 'append', validate: 'none', parallel: 2 },
			retry: { attempts: 3, delay_s: 0.2 },
		});
		const t0 = Date.now();
		const done = await waitRun(api, (await triggerRun(api, 'permanent')).id, { timeoutMs: 30000 });
		assert.equal(done.state, 'failed', JSON.stringify(done));
		assert.deepEqual(done.tables, { total: 3, queued: 0, loading: 0, loaded: 1, errored: 2, cancelled: 0, skipped: 0 });
		const tables = await runTables(api, done.id);
		assert.equal(tables['public.perm_type'].state, 'errored');
		assert.equal(tables['public.perm_type'].attempts, 1, JSON.stringify(tables['public.perm_type']));
		assert.match(tables['public.perm_type'].error, /invalid input syntax for type integer/);
		assert.equal(tables['public.perm_div'].state, 'errored');
		assert.equal(tables['public.perm_div'].attempts, 1, JSON.stringify(tables['public.perm_div']));
		assert.match(tables['public.perm_div'].error, /division by zero/);
		assert.equal(tables['public.small'].state, 'loaded');
		assert.match(done.error ?? '', /perm_type/);
		assert.match(done.error ?? '', /perm_div/);
		const events = await runEvents(api, done.id);
		const retried = events.filter((e) => e.kind === 'table_retry');
		assert.deepEqual(retried, [], 'a permanent error is not retried');
		// nothing waited for the retry delays (0.2 + 0.4 + 0.8 s) either
		assert.ok(Date.now() - t0 < 15000, `the run took ${Date.now() - t0} ms`);
		assert.equal(await dst('dst_perm', 'SELECT count(*) FROM public.perm_type'), '0');
	});

	it('finishes a run while its metadata database restarts, and answers again afterwards', async () => {
		await job('meta-restart', 'dst_meta');
		const run = await triggerRun(api, 'meta-restart');
		await bigLoading(run.id);
		const restartedAt = Date.now();
		const ms = await restartCluster(metaCluster, 'fast');

		// while the metadata database comes back, the API may say 503; nothing else
		const unavailable = [];
		const done = await pollUntil(async () => {
			const r = await api.get(`/api/v1/runs/${run.id}`);
			if (r.status === 503) {
				assert.equal(r.json.error.code, 'unavailable');
				unavailable.push(r.json.error.message);
				return null;
			}
			assert.equal(r.status, 200, r.text);
			return r.json;
		}, { until: (r) => r && FINISHED.has(r.state), timeoutMs: 90000, intervalMs: 200, what: `run ${run.id} to finish after a ${ms} ms metadata restart` });
		assert.equal(done.state, 'succeeded', `${JSON.stringify(done)}\n--- ferryd ---\n${srv.log().slice(-3000)}`);
		const tables = await assertAllLoaded(done, 'dst_meta');
		assert.ok(Date.parse(tables['public.big'].finished_at) > restartedAt + ms,
			'public.big was still loading when the metadata database came back');

		const ready = await pollUntil(() => api.get('/readyz'), { until: (r) => r.status === 200, timeoutMs: 10000, what: '/readyz 200' });
		assert.deepEqual(ready.json, { status: 'ready' });
		const list = await api.get('/api/v1/jobs?limit=50');
		assert.equal(list.status, 200, list.text);
		assert.ok(list.json.items.some((j) => j.name === 'meta-restart'));
		const kinds = (await runEvents(api, run.id)).map((e) => e.kind);
		assert.equal(kinds[kinds.length - 1], 'run_finished', JSON.stringify(kinds));
		assert.equal(kinds.filter((k) => k === 'run_finished').length, 1);
	});

	it('recovers the claims and outcomes a crash of the metadata database lost', async () => {
		/*
		 * The claims and outcomes of tables that may be loaded again commit
		 * without waiting for the metadata database's disk, so a crash of
		 * that server may lose the newest of them. Here it crashes while
		 * public.big loads, after the other tables loaded; before ferryd
		 * can reach it again, the test puts two of them back to what such
		 * a loss leaves: public.small loading (its outcome lost) and
		 * public.nokey queued (its claim and outcome lost). ferryd must see
		 * that the server restarted, load them again, and end the run.
		 */
		await job('meta-lost', 'dst_lost');
		const run = await triggerRun(api, 'meta-lost');
		const others = ['public.mid', 'public.small', 'public.nokey'];
		await waitTables(api, run.id, (t) => t['public.big']?.state === 'loading' && t['public.big'].rows > 0 &&
			others.every((n) => t[n]?.state === 'loaded'), 'the other tables loaded while public.big loads');
		await pgCtl(metaCluster, ['-m', 'immediate', 'stop']);

		// started again on a socket ferryd does not know
		const hidden = path.join(metaCluster.dir, 'hidden');
		fs.mkdirSync(hidden, { recursive: true });
		const owner = fs.statSync(metaCluster.dataDir);
		fs.chownSync(hidden, owner.uid, owner.gid);
		await pgCtl(metaCluster, ['-o', `-c unix_socket_directories=${hidden}`, 'start']);
		const sql = `
			UPDATE ferry.run_tasks SET state = 'loading', finished_at = NULL
			 WHERE run_id = '${run.id}' AND kind = 'copy' AND source_label = 'public.small' AND state = 'loaded';
			UPDATE ferry.run_tasks SET state = 'queued', attempts = attempts - 1, owner = NULL, started_at = NULL,
			       finished_at = NULL, lease_until = NULL
			 WHERE run_id = '${run.id}' AND kind = 'copy' AND source_label = 'public.nokey' AND state = 'loaded';
			SELECT source_label || '=' || state FROM ferry.run_tasks
			 WHERE run_id = '${run.id}' AND kind = 'copy' AND source_label IN ('public.small', 'public.nokey')
			 ORDER BY 1;`;
		try {
			const { stdout } = await promisify(execFile)(path.join(bindir(), 'psql'),
				['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-h', hidden, '-p', String(metaCluster.port),
					'-U', 'postgres', '-d', 'ferry_meta', '-c', sql], { encoding: 'utf8' });
			assert.deepEqual(stdout.trim().split('\n'), ['public.nokey=queued', 'public.small=loading']);
		} finally {
			// where ferryd finds it
			await pgCtl(metaCluster, ['-m', 'fast', 'stop']);
			await pgCtl(metaCluster, ['start']);
		}

		const done = await pollUntil(async () => {
			const r = await api.get(`/api/v1/runs/${run.id}`);
			if (r.status === 503)
				return null;
			assert.equal(r.status, 200, r.text);
			return r.json;
		}, { until: (r) => r && FINISHED.has(r.state), timeoutMs: 60000, intervalMs: 200, what: `run ${run.id} to finish after the metadata database crashed` });
		assert.equal(done.state, 'succeeded', `${JSON.stringify(done)}\n--- ferryd ---\n${srv.log().slice(-3000)}`);
		const tables = await assertAllLoaded(done, 'dst_lost');
		const events = await runEvents(api, run.id);
		const started = events.filter((e) => e.table === 'public.nokey' && e.kind === 'table_started');
		assert.equal(started.length, 2, `public.nokey loads: ${JSON.stringify(started)}`);
		assert.ok(events.some((e) => e.table === 'public.small' && e.kind === 'table_retry' &&
			/metadata database lost the record of this attempt when it restarted/.test(e.message)),
			JSON.stringify(events.filter((e) => e.table === 'public.small')));
		assert.match(srv.log(), /the metadata database restarted/);
	});

	it('replaces a connection kept from the table before that the server closed, without a failed attempt', async () => {
		/*
		 * A worker keeps its source and target connections for its next table
		 * (for a second when it has nothing to do) and does not ask them
		 * whether they still answer. Here the servers close both between two
		 * runs; the second run's table must load at its first attempt. One
		 * worker, so that the worker holding them is the one that loads; an
		 * attempt that finds them already let go is made again.
		 */
		await metaCluster.createDb('ferry_meta_kept');
		const one = await startFerryd({ meta: metaCluster.dsn('ferry_meta_kept'), workers: 1 });
		const oneApi = recordingClient(one.url, seen);
		const idleFerryd = (db) => `SELECT coalesce(string_agg(pid::text, ','), '') FROM pg_stat_activity
			WHERE datname = '${db}' AND application_name = 'ferryd' AND state = 'idle'`;
		const terminate = (db) => `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity
			WHERE datname = '${db}' AND application_name = 'ferryd' AND state = 'idle'`;
		try {
			await createJob(oneApi, {
				name: 'kept', source: { dsn: srcCluster.dsn('src') }, target: { dsn: dstCluster.dsn('dst_kept') },
				include: ['public.small'], load: { mode: 'replace', validate: 'none', parallel: 1 },
			});
			let exercised = false;
			for (let attempt = 1; attempt <= 5 && !exercised; attempt++) {
				const first = await triggerRun(oneApi, 'kept');
				const done = await waitRun(oneApi, first.id, { intervalMs: 20 });
				assert.equal(done.state, 'succeeded', JSON.stringify(done));
				// the worker's connections, idle and kept for a second
				const kept = [await src(idleFerryd('src')), await dst('dst_kept', idleFerryd('dst_kept'))];
				const killed = [await src(terminate('src')), await dst('dst_kept', terminate('dst_kept'))];
				const second = await triggerRun(oneApi, 'kept');
				const again = await waitRun(oneApi, second.id, { intervalMs: 20 });
				assert.equal(again.state, 'succeeded', JSON.stringify(again));
				const tables = await runTables(oneApi, second.id);
				assert.equal(tables['public.small'].state, 'loaded');
				assert.equal(tables['public.small'].attempts, 1, JSON.stringify(tables['public.small']));
				assert.equal(tables['public.small'].rows, 500);
				const retried = (await runEvents(oneApi, second.id)).filter((e) => e.kind === 'table_retry');
				assert.deepEqual(retried, [], 'a closed kept connection counted as a failed attempt');
				const said = (side) => one.log().includes(`run ${second.id} table public.small: the ${side} connection kept from the table before was closed; connecting again`);
				exercised = killed.every((n) => Number(n) > 0) && kept.every((p) => p !== '') && said('source') && said('target');
			}
			assert.ok(exercised, `in five attempts the run never met the closed connections it had kept\n${one.log().slice(-3000)}`);
			await sameAsSource('dst_kept', 'public.small');
		} finally {
			const r = await one.stop('SIGTERM', { timeoutMs: 15000 });
			assert.equal(r.code, 0, `ferryd exited with ${JSON.stringify(r)}\n${one.log().slice(-4000)}`);
		}
	});

	describe('POST /api/v1/runs/{id}/retry', () => {
		let first;

		before(async () => {
			// the target already holds a row of public.retry_me, so load.mode fail refuses it
			await dst('dst_retry', `CREATE TABLE public.retry_me (id integer PRIMARY KEY, v text);
				INSERT INTO public.retry_me VALUES (0, 'in the way')`);
			await job('retry-endpoint', 'dst_retry', {
				include: ['public.big', 'public.small', 'public.retry_me'],
				load: { mode: 'fail', validate: 'none', parallel: 2 },
				retry: { attempts: 2, delay_s: 0.2 },
			});
		});

		const runCount = async () => (await api.get('/api/v1/jobs/retry-endpoint/runs')).json.total;

		it('answers 409 while the run is active', async () => {
			first = await triggerRun(api, 'retry-endpoint');
			const tables = await waitTables(api, first.id, (t) => t['public.big']?.state === 'loading' &&
				t['public.retry_me']?.state === 'errored', 'public.big loading and public.retry_me errored');
			assert.equal(tables['public.retry_me'].attempts, 1, 'target_not_empty is not retried');
			assert.match(tables['public.retry_me'].error, /holds 1 rows and load\.mode is fail/);
			let r;
			let failure = null;
			try {
				r = await api.post(`/api/v1/runs/${first.id}/retry`);
			} catch (e) {
				failure = e;
			}
			const death = await ensureAlive(failure !== null);
			if (death)
				crashes[crashes.length - 1].reported = true;
			assert.ok(death === null, `POST /api/v1/runs/${first.id}/retry of a running run: ` +
				`${failure?.message ?? 'answered'}; ${death}`);
			assert.equal(failure, null);
			assert.equal(r.status, 409, r.text);
			assert.equal(r.json.error.code, 'conflict');
			assert.equal(await runCount(), 1, 'the refused retry queued nothing');
		});

		it('answers 409 while another run of the job is active', async () => {
			const failed = await waitRun(api, first.id, { timeoutMs: 60000 });
			assert.equal(failed.state, 'failed', JSON.stringify(failed));
			assert.equal(failed.tables.loaded, 2);
			assert.equal(failed.tables.errored, 1);
			await sameAsSource('dst_retry', 'public.big');
			// make room for a slow run of public.big, which keeps the job busy
			await dst('dst_retry', 'TRUNCATE public.big');
			const busy = await triggerRun(api, 'retry-endpoint', { tables: ['public.big'] });
			await bigLoading(busy.id);
			const r = await api.post(`/api/v1/runs/${first.id}/retry`);
			assert.equal(r.status, 409, r.text);
			assert.equal(r.json.error.code, 'conflict');
			assert.equal(await runCount(), 2, 'the refused retry queued nothing');
			const c = await api.post(`/api/v1/runs/${busy.id}/cancel`);
			assert.equal(c.status, 202, c.text);
			assert.equal((await waitRun(api, busy.id, { timeoutMs: 15000 })).state, 'cancelled');
		});

		it('queues a run of only the tables that did not load, which then succeeds', async () => {
			await dst('dst_retry', 'TRUNCATE public.retry_me');
			const r = await api.post(`/api/v1/runs/${first.id}/retry`);
			assert.equal(r.status, 202, r.text);
			const second = r.json;
			assert.equal(r.headers.get('location'), `/api/v1/runs/${second.id}`);
			assert.notEqual(second.id, first.id);
			assert.equal(second.trigger, 'retry');
			assert.equal(second.params.retry_of, first.id);
			assert.deepEqual(second.tables_requested, ['public.retry_me']);
			assert.equal(second.job_id, first.job_id);
			assert.ok(['queued', 'running'].includes(second.state), second.state);

			const done = await waitRun(api, second.id, { timeoutMs: 30000 });
			assert.equal(done.state, 'succeeded', JSON.stringify(done));
			assert.equal(done.trigger, 'retry');
			assert.deepEqual(done.tables, { total: 1, queued: 0, loading: 0, loaded: 1, errored: 0, cancelled: 0, skipped: 0 });
			const tables = await runTables(api, second.id);
			assert.deepEqual(Object.keys(tables), ['public.retry_me']);
			await sameAsSource('dst_retry', 'public.retry_me');
			assert.equal(await dst('dst_retry', 'SELECT count(*) FROM public.big'), '0', 'public.big was not loaded again');

			const history = await api.get('/api/v1/jobs/retry-endpoint/runs');
			assert.equal(history.json.total, 3);
			assert.equal(history.json.items[0].id, second.id);
		});

		it('answers 409 for a run whose tables all loaded', async () => {
			const runs = await api.get('/api/v1/jobs/retry-endpoint/runs');
			const latest = runs.json.items[0];
			assert.equal(latest.state, 'succeeded');
			assert.equal(latest.trigger, 'retry');
			const r = await api.post(`/api/v1/runs/${latest.id}/retry`);
			assert.equal(r.status, 409, r.text);
			assert.equal(r.json.error.code, 'conflict');
			assert.equal(await runCount(), 3, 'nothing was queued');
		});

		it('answers 404 for a run that does not exist', async () => {
			const r = await api.post('/api/v1/runs/0b6f1c2d-3e4b-4a5c-8d7e-9f0a1b2c3d4e/retry');
			assert.equal(r.status, 404, r.text);
			assert.equal(r.json.error.code, 'not_found');
		});
	});

	it('ferryd did not die anywhere else', () => {
		assert.deepEqual(crashes.filter((c) => !c.reported).map((c) => c.what), []);
		assert.ok(srv.isRunning(), `ferryd died:\n${srv.log().slice(-3000)}`);
	});

	it('never showed a 5xx other than 503 and kept every answer within the contract', () => {
		const bad = seen.filter((x) => x.status >= 500 && x.status !== 503);
		assert.deepEqual(bad, []);
	});
});

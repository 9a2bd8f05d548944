// tests/e2e/incremental.test.js: incremental loads, upserts, delete flags, swaps, backfills, after steps, marks
'use strict';

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { spawn } = require('node:child_process');

const { ferrydAvailable } = require('../lib/ferryd');
const { bindir } = require('../lib/cluster');
const { pollUntil } = require('../lib/util');
const {
	startEnv, createJob, triggerRun, waitRun, runToEnd, runEvents, tableChecksum,
} = require('./helpers');

const SOURCE_SQL = `
CREATE TABLE public.events (id integer PRIMARY KEY, ts timestamptz NOT NULL, v text);
INSERT INTO public.events SELECT g, timestamptz '2026-01-01 00:00+00' + g * interval '1 minute', 'v' || g
  FROM generate_series(1, 1000) g;
CREATE TABLE public.logs (seq bigint, at timestamp NOT NULL, msg text);
INSERT INTO public.logs SELECT g, timestamp '2026-01-01 00:00', 'first ' || g FROM generate_series(1, 500) g;
CREATE TABLE public.ticks (n integer NOT NULL, d date NOT NULL, note text);
INSERT INTO public.ticks SELECT g, date '2026-01-01' + g / 10, 't' || g FROM generate_series(1, 300) g;
CREATE TABLE public.acct (id integer PRIMARY KEY, bal numeric NOT NULL, deleted boolean NOT NULL DEFAULT false);
INSERT INTO public.acct SELECT g, g * 10, false FROM generate_series(1, 200) g;
CREATE TABLE public.summary (id integer PRIMARY KEY, v text NOT NULL);
CREATE INDEX summary_v ON public.summary (v);
INSERT INTO public.summary SELECT g, 'gen1-' || g FROM generate_series(1, 20000) g;
`;

/* Checksums of a query's rows on two databases are equal (and the source has rows). */
async function sameRows(env, query, db, targetQuery = query) {
	const [src, dst] = await Promise.all([
		tableChecksum(env, 'src', `(${query})`),
		tableChecksum(env, db, `(${targetQuery})`),
	]);
	assert.ok(src.count > 0, `no source rows for ${query}`);
	assert.deepEqual(dst, src, `${db}: ${targetQuery} differs from the source`);
}

/*
 * A reader on its own psql session that counts `relation` again as soon as
 * each answer arrives, until stop(): resolves to {answers, counts, errors}.
 */
function reader(cluster, db, relation) {
	const child = spawn(path.join(bindir(), 'psql'), ['-X', '-q', '-A', '-t', '-h', cluster.host,
		'-p', String(cluster.port), '-U', 'postgres', '-d', db], { stdio: ['pipe', 'pipe', 'pipe'] });
	const counts = [];
	const errors = [];
	let stopping = false;
	let buf = '';
	const ask = () => child.stdin.write(`SELECT count(*) FROM ${relation};\n`);
	child.stdout.on('data', (b) => {
		buf += b.toString('utf8');
		let nl;
		while ((nl = buf.indexOf('\n')) >= 0) {
			counts.push(Number(buf.slice(0, nl)));
			buf = buf.slice(nl + 1);
			if (!stopping)
				ask();
		}
	});
	child.stderr.on('data', (b) => {
		errors.push(b.toString('utf8'));
		if (!stopping)
			ask();
	});
	child.stdin.on('error', () => {});
	ask();
	const done = new Promise((resolve) => child.on('close', resolve));
	return {
		counts,
		async stop() {
			stopping = true;
			child.stdin.end();
			await done;
			return { counts, errors };
		},
	};
}

describe('incremental, upsert, swap, backfill and after steps', { skip: !ferrydAvailable() && 'build/ferryd is not built' }, () => {
	let env;

	function job(name, db, extra) {
		return createJob(env.api, {
			name,
			source: { dsn: env.dsn('src') },
			target: { dsn: env.dsn(db) },
			...extra,
		});
	}

	async function succeeded(jobRef, body) {
		const run = await runToEnd(env.api, jobRef, body);
		if (run.state !== 'succeeded') {
			const events = await runEvents(env.api, run.id);
			assert.fail(`run ${run.id} ${run.state}: ${run.error}\n${events.map((e) => `${e.level} ${e.table ?? ''} ${e.message}`).join('\n')}`);
		}
		return run;
	}

	async function marks(jobRef) {
		const r = await env.api.get(`/api/v1/jobs/${jobRef}/marks`);
		assert.equal(r.status, 200, r.text);
		return Object.fromEntries(r.json.items.map((m) => [m.table, m]));
	}

	before(async () => {
		env = await startEnv({ dbs: ['src', 'dst_inc', 'dst_up', 'dst_up2', 'dst_swap', 'dst_after'], workers: 2 });
		await env.sql('src', SOURCE_SQL);
	});

	after(async () => {
		if (env)
			await env.stop();
	});

	it('incremental runs follow inserts and updates, and ties at the mark are neither skipped nor doubled', async () => {
		const j = await job('inc', 'dst_inc', {
			include: ['public.events', 'public.logs', 'public.ticks'],
			tables: {
				'public.events': { cursor: 'ts', key: ['id'] },
				'public.logs': { cursor: 'at' },
				'public.ticks': { cursor: 'd' },
			},
			load: { mode: 'incremental', validate: 'checksum' },
		});
		const first = await succeeded(j.id);
		assert.equal(first.rows, 1000 + 500 + 300);
		let m = await marks(j.id);
		assert.equal(m['public.events'].value, '2026-01-01T16:40:00.000000Z');
		assert.equal(m['public.logs'].value, '2026-01-01 00:00:00.000000');
		assert.equal(m['public.ticks'].value, '2026-01-31');
		assert.equal(m['public.events'].run_id, first.id);
		for (const t of ['events', 'logs', 'ticks'])
			await sameRows(env, `SELECT * FROM public.${t}`, 'dst_inc');

		// second run: new rows, updated rows (their cursor moves), rows sharing the mark's value
		await env.sql('src', `
			INSERT INTO public.events SELECT g, timestamptz '2026-01-02 00:00+00' + g * interval '1 second', 'new' || g
			  FROM generate_series(1001, 1100) g;
			UPDATE public.events SET v = 'changed', ts = timestamptz '2026-01-03 00:00+00' WHERE id IN (5, 500, 999);
			INSERT INTO public.logs SELECT g, timestamp '2026-01-01 00:00', 'late tie ' || g FROM generate_series(501, 800) g;
			INSERT INTO public.logs SELECT g, timestamp '2026-01-01 00:00:01', 'later ' || g FROM generate_series(801, 850) g;
			INSERT INTO public.ticks VALUES (301, date '2026-01-31', 'tie'), (302, date '2026-02-01', 'next');`);
		const second = await succeeded(j.id);
		const tables = Object.fromEntries((await env.api.get(`/api/v1/runs/${second.id}/tables`)).json.items.map((t) => [t.source, t]));
		// 100 new rows, 3 updated ones, and the row at the mark itself (read again, merged by key)
		assert.equal(tables['public.events'].rows, 104, 'only rows at or past the mark are read');
		assert.equal(tables['public.logs'].rows, 850, 'rows at the mark are read again, the rest are not');
		for (const t of ['events', 'logs', 'ticks'])
			await sameRows(env, `SELECT * FROM public.${t}`, 'dst_inc');
		m = await marks(j.id);
		assert.equal(m['public.events'].value, '2026-01-03T00:00:00.000000Z');
		assert.equal(m['public.logs'].value, '2026-01-01 00:00:01.000000');

		// third run: updates and inserts again, and nothing new in one table
		await env.sql('src', `
			UPDATE public.events SET v = 'again', ts = timestamptz '2026-01-04 00:00+00' WHERE id IN (1, 1100);
			INSERT INTO public.events VALUES (2000, timestamptz '2026-01-04 00:00+00', 'same instant');
			INSERT INTO public.logs VALUES (851, timestamp '2026-01-01 00:00:01', 'tie again');`);
		const third = await succeeded(j.id);
		for (const t of ['events', 'logs', 'ticks'])
			await sameRows(env, `SELECT * FROM public.${t}`, 'dst_inc');
		const ev = await runEvents(env.api, third.id);
		assert.ok(ev.some((e) => e.kind === 'mark' && e.table === 'public.events'), 'the mark moved');

		// reset one mark: the next run reads that table whole again
		const reset = await env.api.del(`/api/v1/jobs/${j.id}/marks/public.logs`);
		assert.equal(reset.status, 204, reset.text);
		const gone = await env.api.del(`/api/v1/jobs/${j.id}/marks/public.logs`);
		assert.equal(gone.status, 404, gone.text);
		assert.equal((await marks(j.id))['public.logs'], undefined);
		const fourth = await succeeded(j.id);
		const t4 = Object.fromEntries((await env.api.get(`/api/v1/runs/${fourth.id}/tables`)).json.items.map((t) => [t.source, t]));
		assert.equal(t4['public.logs'].rows, 851);
		assert.equal(t4['public.events'].rows, 3, 'events still read from its mark (the three rows at it)');
		await sameRows(env, 'SELECT * FROM public.logs', 'dst_inc');
	});

	it('a backfill run replaces just its window, the same way twice, and leaves the mark alone', async () => {
		const j = await job('inc-backfill', 'dst_inc', {
			include: ['public.events', 'public.acct'],
			tables: { 'public.events': { target: 'public.events_bf', cursor: 'ts' } },
			load: { mode: 'incremental', validate: 'count' },
		});
		// public.acct has no cursor: in an incremental job it cannot load
		const bad = await runToEnd(env.api, j.id);
		assert.equal(bad.state, 'failed');
		assert.match(bad.error, /public\.acct/);
		await env.api.put(`/api/v1/jobs/${j.id}`, {
			name: 'inc-backfill', source: { dsn: env.dsn('src') }, target: { dsn: env.dsn('dst_inc') },
			include: ['public.events', 'public.acct'],
			tables: { 'public.events': { target: 'public.events_bf', cursor: 'ts' }, 'public.acct': { mode: 'replace' } },
			load: { mode: 'incremental', validate: 'count' },
		});
		await succeeded(j.id);
		const before = await marks(j.id);
		// the source changes inside the window: a row goes, one changes, one arrives
		await env.sql('src', `
			DELETE FROM public.events WHERE id = 100;
			UPDATE public.events SET v = 'fixed' WHERE id = 101;
			INSERT INTO public.events VALUES (3000, timestamptz '2026-01-01 01:50:30+00', 'backfilled');`);
		const window = { from: '2026-01-01 01:00:00+00', to: '2026-01-01 02:00:00+00' };
		const inWindow = `SELECT * FROM public.%s WHERE ts >= '${window.from}' AND ts < '${window.to}'`;
		const bf1 = await succeeded(j.id, { params: window });
		assert.deepEqual(bf1.params, window);
		const tables = (await env.api.get(`/api/v1/runs/${bf1.id}/tables`)).json.items;
		assert.deepEqual(tables.map((t) => t.source), ['public.events'], 'a backfill loads only incremental tables');
		await sameRows(env, inWindow.replace('%s', 'events'), 'dst_inc', inWindow.replace('%s', 'events_bf'));
		const outside = `SELECT * FROM public.events_bf WHERE NOT (ts >= '${window.from}' AND ts < '${window.to}')`;
		const beforeOutside = await tableChecksum(env, 'dst_inc', `(${outside})`);
		const once = await tableChecksum(env, 'dst_inc', 'public.events_bf');
		await succeeded(j.id, { params: window });
		assert.deepEqual(await tableChecksum(env, 'dst_inc', 'public.events_bf'), once, 'the same backfill twice gives the same target');
		assert.deepEqual(await tableChecksum(env, 'dst_inc', `(${outside})`), beforeOutside, 'rows outside the window are untouched');
		assert.deepEqual(await marks(j.id), before, 'a backfill does not move the mark');

		const wrong = await env.api.post(`/api/v1/jobs/${j.id}/runs`, { params: { from: 5, to: 1 } });
		assert.equal(wrong.status, 400);
		assert.equal(wrong.json.error.field, 'params.to');
		const mixed = await env.api.post(`/api/v1/jobs/${j.id}/runs`, { params: { from: 'x', to: 1 } });
		assert.equal(mixed.status, 400);
		const unparsable = await runToEnd(env.api, j.id, { params: { from: 'not a time', to: '2026-01-02' } });
		assert.equal(unparsable.state, 'failed');
		const why = (await env.api.get(`/api/v1/runs/${unparsable.id}/tables`)).json.items[0].error;
		assert.match(why, /params\.from "not a time" is not a value of the cursor's type timestamp with time zone/);
	});

	it('upsert merges by key with and without a unique index on the target, and applies the delete flag', async () => {
		await env.sql('dst_up2', 'CREATE TABLE public.acct (id integer, bal numeric, deleted boolean)');
		const spec = (db) => ({
			include: ['public.acct'],
			tables: { 'public.acct': { delete_flag: 'deleted' } },
			load: { mode: 'upsert', validate: 'checksum' },
		});
		const withIndex = await job('up', 'dst_up', spec('dst_up'));
		const noIndex = await job('up-noindex', 'dst_up2', spec('dst_up2'));
		const live = 'SELECT id, bal FROM public.acct WHERE NOT deleted';
		await succeeded(withIndex.id);
		await succeeded(noIndex.id);
		await sameRows(env, live, 'dst_up');
		await sameRows(env, live, 'dst_up2');
		// target-only rows survive an upsert; changed rows change; flagged rows go
		await env.sql('dst_up', "INSERT INTO public.acct VALUES (9999, 1, false)");
		await env.sql('dst_up2', "INSERT INTO public.acct VALUES (9999, 1, false)");
		await env.sql('src', `UPDATE public.acct SET bal = bal + 1 WHERE id % 3 = 0;
			UPDATE public.acct SET deleted = true WHERE id % 10 = 0;
			INSERT INTO public.acct SELECT g, g, false FROM generate_series(201, 250) g;`);
		const second = await succeeded(withIndex.id);
		await succeeded(noIndex.id);
		for (const db of ['dst_up', 'dst_up2']) {
			await sameRows(env, `${live} UNION ALL SELECT 9999, 1`, db, `SELECT id, bal FROM public.acct`);
			assert.equal(await env.sql(db, 'SELECT count(*) FROM public.acct WHERE id % 10 = 0 AND id <= 200'), '0');
		}
		const ev = await runEvents(env.api, second.id);
		assert.ok(ev.some((e) => e.kind === 'merge' && /inserted or updated/.test(e.message)), 'upsert through the unique index');
		const ev2 = await runEvents(env.api, (await env.api.get(`/api/v1/jobs/${noIndex.id}/runs`)).json.items[0].id);
		assert.ok(ev2.some((e) => e.kind === 'merge' && /no unique index/.test(e.message)), 'delete-then-insert without one');
		assert.equal(await env.sql('dst_up', "SELECT count(*) FROM pg_indexes WHERE tablename = 'acct'"), '1');
	});

	it('swap replaces a table under a reader that never sees it empty, keeping indexes and grants', async () => {
		const j = await job('swap', 'dst_swap', { include: ['public.summary'], load: { mode: 'swap', validate: 'count' } });
		await succeeded(j.id); // creates it
		await env.sql('dst_swap', `CREATE ROLE swap_reader; GRANT SELECT ON public.summary TO swap_reader;
			COMMENT ON TABLE public.summary IS 'kept';`);
		await env.sql('src', "UPDATE public.summary SET v = 'gen2-' || id; INSERT INTO public.summary VALUES (20001, 'gen2-new');");
		const r = reader(env.cluster, 'dst_swap', 'public.summary');
		try {
			const run = await triggerRun(env.api, j.id);
			const done = await waitRun(env.api, run.id);
			if (done.state !== 'succeeded')
				assert.fail((await runEvents(env.api, run.id)).map((e) => e.message).join('\n'));
			await pollUntil(() => r.counts.at(-1) === 20001, { what: 'the reader to see the new table' });
		} finally {
			const { counts, errors } = await r.stop();
			assert.deepEqual(errors, [], 'the reader saw no error');
			assert.ok(counts.length > 5, `the reader read ${counts.length} times`);
			assert.ok(counts.every((c) => c === 20000 || c === 20001), `counts: ${[...new Set(counts)].join(', ')}`);
		}
		await sameRows(env, 'SELECT * FROM public.summary', 'dst_swap');
		assert.equal(await env.sql('dst_swap', `SELECT string_agg(indexname, ',' ORDER BY indexname) FROM pg_indexes WHERE tablename = 'summary'`),
			'summary_pkey,summary_v');
		assert.equal(await env.sql('dst_swap', "SELECT has_table_privilege('swap_reader', 'public.summary', 'SELECT')"), 't');
		assert.equal(await env.sql('dst_swap', "SELECT obj_description('public.summary'::regclass, 'pg_class')"), 'kept');
		assert.equal(await env.sql('dst_swap', "SELECT count(*) FROM pg_class WHERE relname LIKE 'ferry_swap%'"), '0');

		// a view on the table blocks the swap, which says so and changes nothing
		await env.sql('dst_swap', 'CREATE VIEW public.summary_view AS SELECT count(*) AS n FROM public.summary');
		const blocked = await runToEnd(env.api, j.id);
		assert.equal(blocked.state, 'failed');
		const ev = await runEvents(env.api, blocked.id);
		assert.ok(ev.some((e) => /views depend on it/.test(e.message)), 'the view is named');
		assert.equal(await env.sql('dst_swap', 'SELECT n FROM public.summary_view'), '20001');
	});

	it('after steps run in order once every table loaded, and a failing one fails the run', async () => {
		const j = await job('after', 'dst_after', {
			include: ['public.acct'],
			after: [
				'CREATE TABLE IF NOT EXISTS public.acct_total (n bigint, total numeric); TRUNCATE public.acct_total',
				{ name: 'totals', sql: 'INSERT INTO public.acct_total SELECT count(*), sum(bal) FROM public.acct' },
			],
		});
		assert.deepEqual(j.after.map((a) => a.name), ['after-1', 'totals']);
		const run = await succeeded(j.id);
		assert.equal(await env.sql('dst_after', 'SELECT n || \'|\' || total FROM public.acct_total'),
			await env.sql('src', "SELECT count(*) || '|' || sum(bal) FROM public.acct"));
		const ev = await runEvents(env.api, run.id);
		const steps = ev.filter((e) => e.kind === 'after').map((e) => e.message);
		assert.equal(steps.length, 2);
		assert.match(steps[0], /after step after-1/);
		assert.match(steps[1], /after step totals/);
		const lastLoad = Math.max(...ev.filter((e) => e.kind === 'table_loaded').map((e) => e.id));
		assert.ok(ev.filter((e) => e.kind === 'after').every((e) => e.id > lastLoad));

		const broken = await env.api.put(`/api/v1/jobs/${j.id}`, {
			name: 'after', source: { dsn: env.dsn('src') }, target: { dsn: env.dsn('dst_after') },
			include: ['public.acct'], after: ['SELECT 1/0', 'CREATE TABLE public.never (x int)'],
		});
		assert.equal(broken.status, 200, broken.text);
		const failed = await runToEnd(env.api, j.id);
		assert.equal(failed.state, 'failed');
		assert.match(failed.error, /after step after-1/);
		assert.equal(await env.sql('dst_after', "SELECT to_regclass('public.never') IS NULL"), 't');
	});
});

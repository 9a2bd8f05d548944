// tests/e2e/split.test.js: a big table that the run creates is copied in parts at once, each in a transaction of its own
'use strict';

/*
 * load.split_bytes: a table bigger than it, which the run creates, is read
 * in ranges of its source pages by load.parallel connection pairs at once.
 * Each part appends in a transaction of its own, so the rows of a split
 * table carry as many transaction ids as it had parts; the table is still
 * one entry of the run, with the rows of all parts, validated as a whole,
 * and its indexes are built once every part is in. A part that fails fails
 * the table and leaves none of its rows behind.
 */

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');

const { ferrydAvailable } = require('../lib/ferryd');
const { startEnv, createJob, runToEnd, runTables, runEvents, tableChecksum } = require('./helpers');

const SOURCE_SQL = `
CREATE TABLE big (id bigint PRIMARY KEY, v text NOT NULL, n numeric);
INSERT INTO big SELECT g, md5(g::text), g / 7.0 FROM generate_series(1, 40000) g;
CREATE INDEX big_v ON big (v);
CREATE TABLE filtered (id integer, v text);
INSERT INTO filtered SELECT g, repeat('y', 50 + g % 50) FROM generate_series(1, 30000) g;
CREATE TABLE small (id integer PRIMARY KEY, x text);
INSERT INTO small SELECT g, 'x' || g FROM generate_series(1, 100) g;
CREATE TABLE slow (id integer, v text);
INSERT INTO slow SELECT g, repeat('s', 300) FROM generate_series(1, 30000) g;
`;

/* The number of transactions that wrote the rows of a table: one per part. */
async function writers(env, db, table) {
	return Number(await env.sql(db, `SELECT count(DISTINCT xmin::text) FROM ${table}`));
}

function job(env, name, target, load, extra = {}) {
	return {
		name,
		source: { dsn: env.dsn('src') },
		target: { dsn: env.dsn(target) },
		include: ['public.*'],
		load: { mode: 'drop', index_parallel: 2, ...load },
		...extra,
	};
}

describe('split loads', { skip: !ferrydAvailable() && 'build/ferryd not built' }, () => {
	let env;

	before(async () => {
		env = await startEnv({ dbs: ['src', 'dst_split', 'dst_whole', 'dst_fail', 'dst_free'], workers: 4 });
		await env.sql('src', SOURCE_SQL);
		// the plan's size estimates come from the catalog
		await env.sql('src', 'VACUUM ANALYZE');
	});

	after(async () => {
		if (env)
			await env.stop();
	});

	it('copies a big created table in load.parallel parts at once, validated and indexed as one table', async () => {
		await createJob(env.api, job(env, 'split', 'dst_split', { parallel: 3, validate: 'checksum', split_bytes: 200000 },
			{ include: ['public.big', 'public.filtered', 'public.small'],
				tables: { 'public.filtered': { where: 'id % 3 <> 0' } } }));
		const run = await runToEnd(env.api, 'split');
		assert.equal(run.state, 'succeeded', JSON.stringify(run));
		assert.equal(run.rows, 40000 + 20000 + 100);

		const tables = await runTables(env.api, run.id);
		assert.deepEqual(Object.keys(tables).sort(), ['public.big', 'public.filtered', 'public.small']);
		assert.equal(tables['public.big'].rows, 40000);
		assert.equal(tables['public.filtered'].rows, 20000);
		for (const t of Object.values(tables)) {
			assert.equal(t.state, 'loaded', JSON.stringify(t));
			assert.equal(t.validation.state, 'passed', JSON.stringify(t));
		}

		assert.equal(await writers(env, 'dst_split', 'big'), 3);
		assert.equal(await writers(env, 'dst_split', 'filtered'), 3);
		assert.equal(await writers(env, 'dst_split', 'small'), 1);
		assert.deepEqual(await tableChecksum(env, 'dst_split', 'public.big'), await tableChecksum(env, 'src', 'public.big'));
		assert.deepEqual(await tableChecksum(env, 'dst_split', 'public.filtered'),
			await tableChecksum(env, 'src', '(SELECT * FROM public.filtered WHERE id % 3 <> 0)'));
		assert.equal(await env.sql('dst_split',
			"SELECT string_agg(indexname, ',' ORDER BY indexname) FROM pg_indexes WHERE tablename = 'big'"), 'big_pkey,big_v');

		// a split table takes every copy slot of the run: the next table starts once it is in
		const events = await runEvents(env.api, run.id);
		const loaded = (table) => events.find((e) => e.table === table && e.kind === 'table_loaded').message;
		assert.match(loaded('public.big'), /, in 3 parts at once$/);
		assert.match(loaded('public.filtered'), /, in 3 parts at once$/);
		assert.doesNotMatch(loaded('public.small'), /parts/);
		const at = (table, kind) => events.findIndex((e) => e.table === table && e.kind === kind);
		const order = ['public.big', 'public.filtered', 'public.small'].sort((a, b) => at(a, 'table_started') - at(b, 'table_started'));
		assert.equal(order[2], 'public.small', 'the smallest table goes last');
		for (let i = 1; i < order.length; i++) {
			assert.ok(at(order[i - 1], 'table_loaded') >= 0);
			assert.ok(at(order[i - 1], 'table_loaded') < at(order[i], 'table_started'),
				events.map((e) => `${e.table} ${e.kind}`).join('\n'));
		}
	});

	it('reads a table in as many parts as copy slots are free when it starts', async () => {
		// "slow" goes first (the heaviest copy: it is not split, as it loads
		// into a table that exists) and holds one of the three slots for two
		// seconds; "big" starts beside it on the two others
		await env.sql('dst_free', 'CREATE TABLE slow (id integer, v text)');
		await createJob(env.api, job(env, 'free', 'dst_free', { parallel: 3, validate: 'count', split_bytes: 200000 }, {
			include: ['public.big', 'public.slow'],
			tables: { 'public.slow': { mode: 'append', where: 'CASE WHEN id = 1 THEN pg_sleep(2) IS NOT NULL ELSE true END' } },
		}));
		const run = await runToEnd(env.api, 'free');
		assert.equal(run.state, 'succeeded', JSON.stringify(run));
		const events = await runEvents(env.api, run.id);
		const at = (table, kind) => events.findIndex((e) => e.table === table && e.kind === kind);
		const trail = events.map((e) => `${e.table} ${e.kind} ${e.message}`).join('\n');
		assert.ok(at('public.slow', 'table_started') >= 0 && at('public.slow', 'table_started') < at('public.big', 'table_started'), trail);
		assert.ok(at('public.big', 'table_started') < at('public.slow', 'table_loaded'), trail);
		assert.match(events[at('public.big', 'table_loaded')].message, /, in 2 parts at once$/, trail);
		assert.equal(await writers(env, 'dst_free', 'big'), 2);
		assert.equal(await env.sql('dst_free', 'SELECT count(*) FROM slow'), '30000');
		assert.deepEqual(await tableChecksum(env, 'dst_free', 'public.big'), await tableChecksum(env, 'src', 'public.big'));
	});

	it('loads every table in one go when load.split_bytes is 0', async () => {
		await createJob(env.api, job(env, 'whole', 'dst_whole', { parallel: 3, validate: 'count', split_bytes: 0 },
			{ include: ['public.big', 'public.filtered', 'public.small'] }));
		const run = await runToEnd(env.api, 'whole');
		assert.equal(run.state, 'succeeded', JSON.stringify(run));
		assert.equal(await writers(env, 'dst_whole', 'big'), 1);
		assert.equal(await writers(env, 'dst_whole', 'filtered'), 1);
		assert.deepEqual(await tableChecksum(env, 'dst_whole', 'public.big'), await tableChecksum(env, 'src', 'public.big'));
	});

	it('fails the table when one part fails, and leaves none of its rows behind', async () => {
		// the row with id 30000 makes the source fail inside one of the parts
		await createJob(env.api, job(env, 'fail', 'dst_fail', { parallel: 2, split_bytes: 200000 },
			{ include: ['public.big'], tables: { 'public.big': { where: '1 / (id - 30000) IS NOT NULL' } } }));
		const run = await runToEnd(env.api, 'fail');
		assert.equal(run.state, 'failed', JSON.stringify(run));
		const big = (await runTables(env.api, run.id))['public.big'];
		assert.equal(big.state, 'errored');
		assert.match(big.error, /division by zero/);
		assert.equal(big.rows, 0);
		assert.equal(await env.sql('dst_fail', 'SELECT count(*) FROM big'), '0');
	});

	it('stops the other parts at once when one part fails, even while they wait on the source', async () => {
		// the first part fails on its fifth row, a second after the last part
		// began to wait a minute on each of its last rows: it ends only if its
		// read is cancelled
		await createJob(env.api, job(env, 'fail_fast', 'dst_fail', { parallel: 2, split_bytes: 200000 }, {
			include: ['public.big'],
			tables: { 'public.big': { where: 'CASE WHEN id = 5 THEN CASE WHEN pg_sleep(1) IS NOT NULL THEN 1 / (id - 5) > 0 END '
				+ 'WHEN id > 39990 THEN pg_sleep(60) IS NOT NULL ELSE true END' } },
		}));
		const t0 = Date.now();
		const run = await runToEnd(env.api, 'fail_fast');
		const took = Date.now() - t0;
		assert.equal(run.state, 'failed', JSON.stringify(run));
		assert.ok(took < 30000, `the run took ${took} ms: the waiting part was not cancelled`);
		const big = (await runTables(env.api, run.id))['public.big'];
		assert.match(big.error, /division by zero/);
		assert.equal(await env.sql('dst_fail', 'SELECT count(*) FROM big'), '0');
		// the source's read of the waiting part is gone too
		assert.equal(await env.sql('src', "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(60)%' AND pid <> pg_backend_pid()"), '0');
	});
});

// tests/e2e/migrate.test.js: a whole migration over HTTP, checked row for row against the source
'use strict';

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { setTimeout: wait } = require('node:timers/promises');

const { ferrydAvailable } = require('../lib/ferryd');
const {
	startEnv, createJob, triggerRun, waitRun, runTables, runEvents, rel, tableChecksum,
	countOrNull, listTables, FINISHED,
} = require('./helpers');

const BIG_ROWS = 1000000;

const SOURCE_SQL = String.raw`
CREATE SCHEMA "Sales";

CREATE TABLE public.big (
	id bigint PRIMARY KEY,
	k integer NOT NULL,
	name text,
	amount numeric(12,2),
	created timestamptz,
	flag boolean
);
INSERT INTO public.big
SELECT g, g % 1000, 'name-' || g, (g * 1.37)::numeric(12,2),
       timestamptz '2020-01-01 00:00:00+00' + g * interval '1 second', g % 2 = 0
  FROM generate_series(1, ${BIG_ROWS}) g;

CREATE TABLE public.nulls (
	id integer PRIMARY KEY,
	c_int integer, c_bigint bigint, c_smallint smallint, c_numeric numeric, c_real real,
	c_float double precision, c_bool boolean, c_text text, c_varchar varchar(20), c_char char(3),
	c_date date, c_time time, c_ts timestamp, c_tstz timestamptz, c_interval interval,
	c_json json, c_jsonb jsonb, c_bytea bytea, c_uuid uuid, c_inet inet,
	c_int_arr integer[], c_text_arr text[]
);
INSERT INTO public.nulls (id) VALUES (1), (2);
INSERT INTO public.nulls VALUES (3, 1, 2, 3, 4.5, 1.5, 2.25, true, 'x', 'y', 'abc', '2024-02-29',
	'12:34:56', '2024-01-01 01:02:03', '2024-01-01 01:02:03+02', '1 day 2 hours', '{"a": 1}',
	'{"b": [1, 2]}', '\x00ff', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '10.0.0.1/8', '{1,NULL,3}',
	'{a,NULL,"c d"}');

CREATE TABLE public.texts (id integer PRIMARY KEY, body text, short varchar(50));
INSERT INTO public.texts VALUES
	(1, E'tab\there\tand\tmore', 'plain'),
	(2, E'line1\nline2\r\nline3\n', E'cr\r'),
	(3, E'back\\slash \\N \\\\ end\\', E'\\'),
	(4, $q$single ' double " both '"' $q$, $q$'"$q$),
	(5, 'Grüße ü ß é — 日本語 日本 🚀🎉 👩‍👩‍👧', '日本'),
	(6, '', ''),
	(7, E'\\.', E'\\.\n'),
	(8, repeat('long ü ', 20000), 'long'),
	(9, 'NULL', 'null'),
	(10, E'\x01\x02 control \x7f', E'\t');

CREATE TABLE public.types (
	id integer PRIMARY KEY,
	n numeric, n2 numeric(40,20), ts timestamptz, doc jsonb, bin bytea, u uuid,
	ia integer[], ta text[], f double precision
);
INSERT INTO public.types VALUES
	(1, 12345678901234567890123456789012345678901234567890.123456789012345678901234567890,
	 12345678901234567890.12345678901234567890, '2024-03-10 02:30:00.123456+00',
	 '{"k": "v", "nested": {"arr": [1, 2.5, null, true, "ü"]}}', '\x000102ff00',
	 'c5a2f7e4-3b1d-4e8a-9f60-7d2c1b0a9e8f', '{1,2,3}', '{"a","b c","d\"e",NULL}', 'NaN'),
	(2, -0.000000000000000000000000001, 0, '-infinity', '[]', '\x',
	 '00000000-0000-0000-0000-000000000000', '{}', '{}', 'Infinity'),
	(3, 'NaN', -99999999999999999999.99999999999999999999, 'infinity', 'null',
	 decode(repeat('00', 1000), 'hex'), 'ffffffff-ffff-ffff-ffff-ffffffffffff', '{{1,2},{3,4}}',
	 ARRAY[E'tab\there', E'new\nline', '日本', '🚀', E'back\\slash'], -1.5e300),
	(4, 0, NULL, '1999-12-31 23:59:59.999999-08', '{"emoji": "🎉", "esc": "a\"b\\c\n"}',
	 '\xdeadbeef00', NULL, '{NULL}', '{""}', 0);
INSERT INTO public.types
SELECT 100 + g, g * 1.000000000000000001, g / 3.0, timestamptz '2021-06-01 00:00:00+00' + g * interval '1 minute',
       jsonb_build_object('g', g, 's', repeat('x', g % 7)),
       decode(md5(g::text) || '00' || md5((g + 1)::text), 'hex'), md5(g::text)::uuid,
       ARRAY[g, -g, NULL], ARRAY['x' || g, NULL], g / 7.0
  FROM generate_series(1, 500) g;

CREATE TABLE public.empty (id integer PRIMARY KEY, v text);

CREATE TABLE public.nopk (a integer, b text, c numeric);
INSERT INTO public.nopk VALUES (1, 'dup', 1.5), (1, 'dup', 1.5), (1, 'dup', 1.5),
	(2, NULL, NULL), (2, NULL, NULL), (3, 'x', 0);
INSERT INTO public.nopk SELECT g % 10, 'r' || (g % 5), g % 3 FROM generate_series(1, 200) g;

CREATE TABLE "Sales"."MixedCase" (
	"Id" integer NOT NULL,
	"Amount" numeric(10,2),
	"Note Text" text,
	lower_col integer NOT NULL,
	PRIMARY KEY (lower_col, "Id")
);
INSERT INTO "Sales"."MixedCase" SELECT g, g * 10.5, 'note ' || g, g % 4 FROM generate_series(1, 100) g;

CREATE TABLE public.small (id integer PRIMARY KEY, label text);
INSERT INTO public.small SELECT g, 'small ' || g FROM generate_series(1, 300) g;
`;

/* Tables copied under their own names: [schema, table]. */
const SAME_NAME = [
	['public', 'big'], ['public', 'nulls'], ['public', 'texts'], ['public', 'types'],
	['public', 'empty'], ['public', 'nopk'], ['Sales', 'MixedCase'],
];
const SMALL_WHERE = 'id % 3 = 0';

/* Primary key columns of a table in key order, comma-separated ('' when none). */
async function primaryKey(env, db, schema, table) {
	const regclass = rel(schema, table).replace(/'/g, "''");
	return env.sql(db, `SELECT coalesce(string_agg(a.attname, ',' ORDER BY k.ord), '')
		FROM pg_constraint c
		CROSS JOIN LATERAL unnest(c.conkey) WITH ORDINALITY AS k(attnum, ord)
		JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum
		WHERE c.conrelid = '${regclass}'::regclass AND c.contype = 'p'`);
}

/* Column names and types of a table in order, one per line. */
async function columns(env, db, schema, table) {
	const regclass = rel(schema, table).replace(/'/g, "''");
	return env.sql(db, `SELECT attname || ' ' || format_type(atttypid, atttypmod) FROM pg_attribute
		WHERE attrelid = '${regclass}'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`);
}

describe('a full migration', { skip: !ferrydAvailable() && 'build/ferryd is not built' }, () => {
	let env;
	let job;
	let sourceCounts;

	before(async () => {
		env = await startEnv({ dbs: ['src', 'dst'], workers: 2 });
		await env.sql('src', SOURCE_SQL);
		sourceCounts = {};
		for (const [schema, table] of SAME_NAME)
			sourceCounts[`${schema}.${table}`] = Number(await env.sql('src', `SELECT count(*) FROM ${rel(schema, table)}`));
		sourceCounts['public.small'] = 300;
		assert.equal(sourceCounts['public.big'], BIG_ROWS);
		assert.equal(sourceCounts['public.empty'], 0);
		job = await createJob(env.api, {
			name: 'fidelity',
			source: { dsn: env.dsn('src') },
			target: { dsn: env.dsn('dst') },
			include: ['public.*', 'Sales.*'],
			tables: { 'public.small': { target: 'archive.small_copy', where: SMALL_WHERE } },
			load: { validate: 'count' },
		});
	});

	after(async () => {
		if (env)
			await env.stop();
	});

	it('stores the job with its defaults', async () => {
		const r = await env.api.get(`/api/v1/jobs/${job.id}`);
		assert.equal(r.status, 200);
		assert.deepEqual(r.json.load,
			{ mode: 'replace', create: true, parallel: 2, index_parallel: 2, validate: 'count', split_bytes: 268435456 });
		assert.deepEqual(r.json.include, ['public.*', 'Sales.*']);
		assert.deepEqual(r.json.tables['public.small'], { target: 'archive.small_copy', where: SMALL_WHERE });
		assert.equal(r.json.last_run, null);
	});

	it('plans every table with sane estimates', async () => {
		const r = await env.api.get(`/api/v1/jobs/${job.id}/plan`);
		assert.equal(r.status, 200, r.text);
		const plan = r.json;
		assert.equal(plan.job_id, job.id);
		const bySource = Object.fromEntries(plan.tables.map((t) => [t.source, t]));
		const expected = Object.keys(sourceCounts).sort();
		assert.deepEqual(Object.keys(bySource).sort(), expected);
		assert.equal(plan.totals.tables, expected.length);
		for (const [name, count] of Object.entries(sourceCounts)) {
			const t = bySource[name];
			if (count === 0) {
				assert.equal(t.rows_estimate, 0, `${name} is empty`);
			} else {
				assert.ok(t.rows_estimate >= count / 2 && t.rows_estimate <= count * 2,
					`${name}: estimate ${t.rows_estimate} for ${count} rows`);
				assert.ok(t.bytes_estimate > 0, `${name}: bytes_estimate ${t.bytes_estimate}`);
			}
			assert.equal(t.target_exists, false, `${name} has no target yet`);
		}
		assert.equal(bySource['public.small'].target, 'archive.small_copy');
		assert.equal(bySource['Sales.MixedCase'].target, 'Sales.MixedCase');
		assert.equal(bySource['public.big'].target, 'public.big');
		assert.equal(bySource['public.big'].columns, 6);
		assert.equal(bySource['Sales.MixedCase'].columns, 4);
		assert.equal(bySource['public.nopk'].has_primary_key, false);
		assert.ok(bySource['public.nopk'].warnings.some((w) => /primary key/i.test(w)),
			JSON.stringify(bySource['public.nopk'].warnings));
		assert.equal(bySource['public.big'].has_primary_key, true);
		assert.equal(bySource['Sales.MixedCase'].has_primary_key, true);
		const sum = plan.tables.reduce((a, t) => a + t.rows_estimate, 0);
		assert.equal(plan.totals.rows_estimate, sum);
		assert.deepEqual(await listTables(env, 'dst'), [], 'planning wrote nothing to the target');
	});

	describe('the run', () => {
		let run;
		let finished;
		const bigSeen = [];

		before(async () => {
			run = await triggerRun(env.api, job.id);
			assert.equal(run.job_id, job.id);
			assert.equal(run.trigger, 'api');
			assert.equal(run.tables_requested, null);
			let done = false;
			const watchTables = (async () => {
				while (!done) {
					const tables = await runTables(env.api, run.id);
					const big = tables['public.big'];
					if (big)
						bigSeen.push({ state: big.state, rows: big.rows });
					await wait(15);
				}
			})();
			try {
				finished = await waitRun(env.api, run.id, { timeoutMs: 120000, intervalMs: 100 });
			} finally {
				done = true;
				await watchTables;
			}
		});

		it('sees the big table\'s rows climbing while it loads', () => {
			const loading = bigSeen.filter((s) => s.state === 'loading' && s.rows > 0 && s.rows < BIG_ROWS)
				.map((s) => s.rows);
			const distinct = [...new Set(loading)];
			assert.ok(distinct.length >= 2,
				`want two different row counts of public.big while it loads, saw ${JSON.stringify(bigSeen.slice(-40))}`);
			for (let i = 1; i < loading.length; i++)
				assert.ok(loading[i] >= loading[i - 1], `rows went back from ${loading[i - 1]} to ${loading[i]}`);
		});

		it('succeeds with every table loaded and validated', async () => {
			assert.equal(finished.state, 'succeeded', JSON.stringify(finished));
			assert.equal(finished.error, null);
			assert.ok(FINISHED.has(finished.state));
			const n = Object.keys(sourceCounts).length;
			assert.deepEqual(finished.tables,
				{ total: n, queued: 0, loading: 0, loaded: n, errored: 0, cancelled: 0, skipped: 0 });
			assert.equal(finished.progress, 1);
			const expectedRows = Object.entries(sourceCounts)
				.reduce((a, [name, c]) => a + (name === 'public.small' ? 100 : c), 0);
			assert.equal(finished.rows, expectedRows);
			assert.ok(finished.bytes > 0);
			assert.ok(finished.elapsed_ms >= 0);
			assert.ok(Date.parse(finished.finished_at) >= Date.parse(finished.started_at));

			const tables = await runTables(env.api, run.id);
			assert.deepEqual(Object.keys(tables).sort(), Object.keys(sourceCounts).sort());
			for (const [name, count] of Object.entries(sourceCounts)) {
				const t = tables[name];
				const want = name === 'public.small' ? 100 : count;
				assert.equal(t.state, 'loaded', `${name}: ${JSON.stringify(t)}`);
				assert.equal(t.rows, want, `${name} rows`);
				assert.equal(t.error, null);
				assert.deepEqual(t.validation, { state: 'passed', source_rows: want, target_rows: want },
					`${name} validation`);
				assert.ok(t.attempts >= 1, `${name} attempts ${t.attempts}`);
				assert.ok(t.finished_at && t.started_at, `${name} has start and finish times`);
			}
			assert.equal(tables['public.small'].target, 'archive.small_copy');
		});

		it('copies every table exactly: counts, checksums, columns and keys', async () => {
			const keys = { source: {}, target: {} };
			for (const [schema, table] of SAME_NAME) {
				const name = `${schema}.${table}`;
				const [src, dst] = await Promise.all([
					tableChecksum(env, 'src', rel(schema, table)),
					tableChecksum(env, 'dst', rel(schema, table)),
				]);
				assert.equal(src.count, sourceCounts[name]);
				assert.deepEqual(dst, src, `${name} differs between source and target`);
				assert.equal(await columns(env, 'dst', schema, table), await columns(env, 'src', schema, table),
					`${name} columns`);
				keys.source[name] = await primaryKey(env, 'src', schema, table);
				keys.target[name] = await primaryKey(env, 'dst', schema, table);
			}
			assert.equal(keys.source['Sales.MixedCase'], 'lower_col,Id');
			assert.equal(keys.source['public.big'], 'id');
			assert.equal(keys.source['public.nopk'], '');
			assert.deepEqual(keys.target, keys.source, 'the target has the primary keys of the source');
			const dupes = await env.sql('dst', 'SELECT count(*) FROM public.nopk WHERE a = 1 AND b = \'dup\' AND c = 1.5');
			assert.equal(dupes, '3', 'duplicate rows of a table without primary key all arrive');
			const text = await env.sql('dst', 'SELECT body FROM public.texts WHERE id = 5');
			assert.equal(text, 'Grüße ü ß é — 日本語 日本 🚀🎉 👩‍👩‍👧');
			const zeros = await env.sql('dst', 'SELECT length(bin), encode(bin, \'hex\') FROM public.types WHERE id = 1');
			assert.equal(zeros, '5|000102ff00');
		});

		it('loads the renamed table with only the rows its where clause selects', async () => {
			const want = await tableChecksum(env, 'src', `(SELECT * FROM public.small WHERE ${SMALL_WHERE})`);
			assert.equal(want.count, 100);
			const got = await tableChecksum(env, 'dst', rel('archive', 'small_copy'));
			assert.deepEqual(got, want);
			assert.equal(await env.sql('dst', 'SELECT count(*) FROM archive.small_copy WHERE id % 3 <> 0'), '0');
			assert.equal(await countOrNull(env, 'dst', 'public', 'small'), null, 'no public.small on the target');
			assert.deepEqual(await listTables(env, 'dst'), [
				'Sales.MixedCase', 'archive.small_copy', 'public.big', 'public.empty', 'public.nopk',
				'public.nulls', 'public.texts', 'public.types',
			]);
			assert.equal(await primaryKey(env, 'dst', 'archive', 'small_copy'), 'id');
		});

		it('logs the run\'s steps as events', async () => {
			const events = await runEvents(env.api, run.id);
			const kinds = events.map((e) => e.kind);
			for (const kind of ['run_started', 'planned', 'table_loaded', 'run_finished'])
				assert.ok(kinds.includes(kind), `event ${kind} missing from ${JSON.stringify(kinds)}`);
			assert.equal(kinds[0], 'run_started');
			assert.equal(kinds[kinds.length - 1], 'run_finished');
			assert.ok(kinds.indexOf('planned') < kinds.indexOf('table_loaded'));
			const loaded = events.filter((e) => e.kind === 'table_loaded').map((e) => e.table).sort();
			assert.deepEqual(loaded, Object.keys(sourceCounts).sort());
			for (const e of events)
				assert.notEqual(e.level, 'error', `unexpected error event ${JSON.stringify(e)}`);
		});

		it('shows the run as the job\'s last run and in its history', async () => {
			const j = await env.api.get(`/api/v1/jobs/${job.name}`);
			assert.equal(j.status, 200);
			assert.deepEqual(j.json.last_run, {
				id: run.id, state: 'succeeded', created_at: finished.created_at, finished_at: finished.finished_at,
			});
			const h = await env.api.get(`/api/v1/jobs/${job.id}/runs`);
			assert.equal(h.status, 200);
			assert.equal(h.json.total, 1);
			assert.equal(h.json.items[0].id, run.id);
			assert.equal(h.json.items[0].state, 'succeeded');
		});
	});
});

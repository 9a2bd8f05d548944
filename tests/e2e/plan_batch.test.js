// tests/e2e/plan_batch.test.js: a run over hundreds of tables is planned in batches and stores for each table what planning it alone gives
'use strict';

/*
 * The planner reads the catalog for many tables at once, and falls back to
 * one table at a time when a batch cannot be read together. Run "many"
 * plans three hundred tables of five shapes (keys, serial and identity
 * columns, unique and check constraints, indexes, foreign keys, quoted
 * names), a partitioned table and two tables that cannot load; every
 * stored task must hold the copy description and steps its shape gives,
 * and every table it creates on the target the columns of its source.
 * Run "fallback" reads as a role that may not look into schema "locked",
 * so its batch fails on the table there: that table alone errors, and the
 * others, read one by one, get what run "many" stored for them. Runs are
 * cancelled once planned: what is checked is what planning stored.
 */

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { isDeepStrictEqual } = require('node:util');

const { ferrydAvailable } = require('../lib/ferryd');
const { pollUntil } = require('../lib/util');
const { startEnv, createJob, triggerRun, getRun, waitRun } = require('./helpers');

const META_DB = 'ferry_meta';
const TABLES = 300;
const SHAPES = 5;

const pad = (i) => String(i).padStart(3, '0');
const shape = (i) => (i - 1) % SHAPES;
/* Shape 4 has a quoted name and refers to the shape 0 table four before it. */
const tableName = (i) => (shape(i) === 4 ? `T ${pad(i)}` : `t${pad(i)}`);
const q = (s) => `"${s.replace(/"/g, '""')}"`;

function tableDdl(i) {
	const n = `t${pad(i)}`;
	switch (shape(i)) {
	case 0:
		return `CREATE TABLE many.${n} (id integer PRIMARY KEY, v text);`;
	case 1:
		return `CREATE TABLE many.${n} (a integer, b text); CREATE INDEX ${n}_b ON many.${n} (b);`;
	case 2:
		return `CREATE TABLE many.${n} (id bigserial PRIMARY KEY, code text UNIQUE, n numeric(10,2) CHECK (n >= 0));`;
	case 3:
		return `CREATE TABLE many.${n} (id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY, ts timestamptz NOT NULL DEFAULT now());
			CREATE INDEX ${n}_ts ON many.${n} (ts DESC);`;
	default:
		return `CREATE TABLE many."T ${pad(i)}" ("Id" integer PRIMARY KEY, "Ref" integer REFERENCES many.t${pad(i - 4)} (id));`;
	}
}

const SOURCE_SQL = `
BEGIN;
CREATE SCHEMA many;
${Array.from({ length: TABLES }, (_, k) => tableDdl(k + 1)).join('\n')}
CREATE TABLE many.parted (id integer, day date, PRIMARY KEY (id, day)) PARTITION BY RANGE (day);
CREATE TABLE many.parted_2024 PARTITION OF many.parted FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE many.parted_2025 PARTITION OF many.parted FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE many.parted_rest PARTITION OF many.parted DEFAULT;
CREATE TABLE many.broken_expr (id integer PRIMARY KEY, v text);
CREATE TABLE many.broken_target (id integer PRIMARY KEY);
CREATE SCHEMA locked;
CREATE TABLE locked.secret (id serial PRIMARY KEY, v text);
CREATE ROLE plan_reader LOGIN;
GRANT USAGE ON SCHEMA many TO plan_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA many TO plan_reader;
COMMIT;
-- planning counts the rows of a table never analyzed, which it may not read
ANALYZE locked.secret;
`;

/* The columns and partition bounds of the tables in schema many, but the broken ones, as JSON. */
const COLUMNS_SQL = `
SELECT coalesce(json_agg(x ORDER BY x.rel, x.attnum), '[]')
  FROM (SELECT c.relname AS rel, c.relkind, pg_get_expr(c.relpartbound, c.oid) AS bound, a.attnum, a.attname,
               format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull, a.attidentity,
               pg_get_expr(d.adbin, d.adrelid) AS "default"
          FROM pg_class c
          JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
          LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
         WHERE c.relnamespace = 'many'::regnamespace AND c.relkind IN ('r', 'p')
           AND c.relname NOT LIKE 'broken%') x`;

/* What planning table i alone gives: its copy description and its steps ([kind, name, sql, phase]). */
function expected(i) {
	const name = tableName(i);
	const rel = `"many".${q(name)}`;
	const base = {
		format: 'binary', created: true, relkind: 'r', mark: false, mode: 'replace', sequences: [],
	};
	const copy = (cols) => ({
		...base,
		select: `SELECT ${cols} FROM ${rel}`,
		columns: cols,
		source: `${rel} (${cols})`,
	});
	/* a primary key or unique constraint: its unique index, committed, then the constraint made of it */
	const byIndex = (kind, cname, col) => [kind === 'p' ? 'primary_key' : 'unique', cname,
		`BEGIN; CREATE UNIQUE INDEX IF NOT EXISTS ${q(cname)} ON ${rel} USING btree (${col}); COMMIT; ` +
		`ALTER TABLE ${rel} ADD CONSTRAINT ${q(cname)} ${kind === 'p' ? 'PRIMARY KEY' : 'UNIQUE'} USING INDEX ${q(cname)}`, 1];
	const pkey = (col) => byIndex('p', `${name}_pkey`, col);
	const seq = (col) => [{ source: `many.${name}_${col}_seq`, table: rel, column: col }];
	switch (shape(i)) {
	case 0:
		return { copy: copy('"id", "v"'), steps: [pkey('id')] };
	case 1:
		return {
			copy: copy('"a", "b"'),
			steps: [['index', `${name}_b`, `CREATE INDEX ${name}_b ON ${rel} USING btree (b)`, 1]],
		};
	case 2:
		return {
			copy: { ...copy('"id", "code", "n"'), sequences: seq('id') },
			steps: [
				pkey('id'),
				byIndex('u', `${name}_code_key`, 'code'),
				['check', `${name}_n_check`, `ALTER TABLE ${rel} ADD CONSTRAINT "${name}_n_check" CHECK ((n >= (0)::numeric))`, 1],
			],
		};
	case 3:
		return {
			copy: { ...copy('"id", "ts"'), sequences: seq('id') },
			steps: [pkey('id'), ['index', `${name}_ts`, `CREATE INDEX ${name}_ts ON ${rel} USING btree (ts DESC)`, 1]],
		};
	default:
		return {
			copy: copy('"Id", "Ref"'),
			steps: [
				pkey('"Id"'),
				['foreign_key', `${name}_Ref_fkey`, `ALTER TABLE ${rel} ADD CONSTRAINT ${q(`${name}_Ref_fkey`)} FOREIGN KEY ("Ref") REFERENCES "many"."t${pad(i - 4)}"(id)`, 2],
			],
		};
	}
}

/* The partitioned table: one copy task per partition, its primary key a step of phase 2. */
function expectedParted() {
	const out = {};
	for (const p of ['parted_2024', 'parted_2025', 'parted_rest']) {
		const rel = `"many"."${p}"`;
		out[`many.${p}`] = {
			parent: 'many.parted',
			copy: {
				format: 'binary', created: true, relkind: 'r', mark: false, mode: 'replace', sequences: [],
				select: `SELECT "id", "day" FROM ${rel}`, columns: '"id", "day"', source: `${rel} ("id", "day")`,
			},
			steps: [],
		};
	}
	out['many.parted'] = {
		steps: [['primary_key', 'parted_pkey', 'ALTER TABLE "many"."parted" ADD CONSTRAINT "parted_pkey" PRIMARY KEY (id, day)', 2]],
	};
	return out;
}

describe('planning many tables at once', { skip: !ferrydAvailable() && 'build/ferryd is not built' }, () => {
	let env;
	let many;
	let fallback;

	/* Resolves, once run runId is planned, to its stored tasks by source table (cancelling it). */
	async function plannedTasks(runId) {
		await pollUntil(() => getRun(env.api, runId), {
			until: (r) => r.tables.total > 0 || !['queued', 'running'].includes(r.state),
			timeoutMs: 60000, intervalMs: 50, what: `run ${runId} to be planned`,
		});
		await env.api.post(`/api/v1/runs/${runId}/cancel`);
		await waitRun(env.api, runId);
		const rows = JSON.parse(await env.sql(META_DB, `
			SELECT coalesce(json_agg(json_build_object('source', source_label, 'kind', kind, 'copy', copy,
			       'parent', parent_label, 'error', CASE WHEN state = 'errored' AND attempts = 0 THEN error END,
			       'step', json_build_array(step_kind, step_name, step_sql, phase),
			       'waits_on_copy', depends_on IS NOT NULL AND (SELECT d.kind = 'copy' AND d.source_label = t.source_label
			                                                    FROM ferry.run_tasks d WHERE d.id = t.depends_on))
			       ORDER BY seq), '[]')
			  FROM ferry.run_tasks t WHERE run_id = '${runId}'`));
		const tables = {};
		for (const r of rows) {
			const t = tables[r.source] ??= { steps: [] };
			if (r.kind === 'copy') {
				/* error: why planning failed it; a load that ran before the cancel may fail otherwise */
				Object.assign(t, { copy: r.copy, parent: r.parent, error: r.error });
			} else {
				t.steps.push(r.step);
				assert.equal(r.waits_on_copy, r.step[3] === 1, `${r.source} step ${r.step[1]} waits for its table's copy in phase 1 only`);
			}
		}
		return tables;
	}

	before(async () => {
		env = await startEnv({ dbs: ['src', 'dst_many', 'dst_fallback'], workers: 2 });
		await env.sql('src', SOURCE_SQL);
		await env.sql('dst_many', 'CREATE SCHEMA many; CREATE VIEW many.broken_target AS SELECT 1 AS id');
		const load = { mode: 'replace', create: true, parallel: 1, index_parallel: 1, validate: 'none', split_bytes: 268435456 };
		await createJob(env.api, {
			name: 'many',
			source: { dsn: env.dsn('src') },
			target: { dsn: env.dsn('dst_many') },
			include: ['many.*'],
			load,
			tables: { 'many.broken_expr': { expressions: { masked: 'no_such_function(v)' } } },
		});
		const reader = env.dsn('src').replace('postgresql://postgres@', 'postgresql://plan_reader@');
		assert.notEqual(reader, env.dsn('src'));
		await createJob(env.api, {
			name: 'fallback',
			source: { dsn: reader },
			target: { dsn: env.dsn('dst_fallback') },
			include: ['many.t00?', 'many.parted', 'locked.*'],
			load,
		});
		/* both at once, one worker each */
		const runs = await Promise.all(['many', 'fallback'].map((j) => triggerRun(env.api, j)));
		[many, fallback] = await Promise.all(runs.map((r) => plannedTasks(r.id)));
	});

	after(async () => {
		if (env)
			await env.stop();
	});

	it('stores for each of hundreds of tables the copy and steps of its shape; broken tables error alone', () => {
		const want = expectedParted();
		for (let i = 1; i <= TABLES; i++)
			want[`many.${tableName(i)}`] = expected(i);
		const problems = [];
		for (const [name, w] of Object.entries(want)) {
			const got = many[name];
			if (!got) {
				problems.push(`${name}: no task`);
				continue;
			}
			if (got.error)
				problems.push(`${name}: error ${got.error}`);
			if (w.copy && !isDeepStrictEqual(got.copy, { ...got.copy, ...w.copy }))
				problems.push(`${name}: copy ${JSON.stringify(got.copy)}, want ${JSON.stringify(w.copy)}`);
			if ((w.parent ?? null) !== (got.parent ?? null))
				problems.push(`${name}: parent ${got.parent}, want ${w.parent}`);
			if (!isDeepStrictEqual(got.steps, w.steps))
				problems.push(`${name}: steps ${JSON.stringify(got.steps)}, want ${JSON.stringify(w.steps)}`);
		}
		assert.deepEqual(problems.slice(0, 10), [], `${problems.length} tables differ`);
		assert.match(many['many.broken_expr'].error ?? '', /many\.broken_expr.*masked.*no_such_function/);
		assert.match(many['many.broken_target'].error ?? '', /many\.broken_target exists and is not a table/);
		assert.deepEqual(Object.keys(many).sort(), [...Object.keys(want), 'many.broken_expr', 'many.broken_target'].sort());
	});

	it('created every target table with the columns, defaults, identities and bounds of its source', async () => {
		const src = JSON.parse(await env.sql('src', COLUMNS_SQL));
		const dst = JSON.parse(await env.sql('dst_many', COLUMNS_SQL));
		assert.equal(src.length, TABLES / SHAPES * 11 + 8);
		const differ = src.filter((c, k) => !isDeepStrictEqual(c, dst[k]));
		assert.deepEqual(differ.slice(0, 5), [], `${differ.length} columns differ; target has ${dst.length} of ${src.length}`);
		assert.equal(dst.length, src.length);
	});

	it('falls back to one table at a time when a batch cannot be read, and only the table at fault errors', () => {
		const got = { ...fallback };
		assert.match(got['locked.secret'].error ?? '', /permission denied for schema locked/);
		delete got['locked.secret'];
		assert.deepEqual(Object.keys(got).sort(), ['many.parted', 'many.parted_2024', 'many.parted_2025', 'many.parted_rest',
			'many.t001', 'many.t002', 'many.t003', 'many.t004', 'many.t006', 'many.t007', 'many.t008', 'many.t009']);
		for (const [name, t] of Object.entries(got))
			assert.deepEqual(t, many[name], `${name} is planned alone as in the batch`);
	});
});

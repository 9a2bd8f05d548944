// tests/e2e/objects.test.js: a whole database with every kind of object (tests/fixtures/rental.sql):
// sequences that no column owns, shared by several tables; "objects": "all" giving a target whose
// pg_dump --schema-only is the source's; a job that renames, drops columns and maps a schema, whose
// dependent objects are skipped by name; roles the target lacks
'use strict';

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { execFile } = require('node:child_process');
const { promisify } = require('node:util');

const { ferrydAvailable } = require('../lib/ferryd');
const { startCluster, bindir } = require('../lib/cluster');
const { startEnv, createJob, runToEnd, runEvents, rel, tableChecksum } = require('./helpers');

const execFileP = promisify(execFile);

const FIXTURE = fs.readFileSync(path.join(__dirname, '..', 'fixtures', 'rental.sql'), 'utf8');
const ROLES = 'CREATE ROLE rental_owner; CREATE ROLE rental_reader;';
/* The fixture's tables that hold rows: [schema, table]. */
const TABLES = [
	['public', 'actor'], ['public', 'film'], ['public', 'film_actor'], ['public', 'store'],
	['public', 'staff'], ['public', 'customer'], ['public', 'a_payment_2022'], ['public', 'payment_2023'],
	['public', 'rental'], ['shop', 'audit'], ['shop', 'scratch'],
];
const RUN_TIMEOUT_MS = 120000;

/* pg_dump --schema-only of one database, without the lines that differ on every call. */
async function schemaDump(dsn) {
	const { stdout } = await execFileP(path.join(bindir(), 'pg_dump'), ['--schema-only', '-d', dsn],
		{ maxBuffer: 64 << 20 });
	return stdout.split('\n').filter((l) => !/^\\(un)?restrict /.test(l)).join('\n');
}

/* The first line where two dumps differ, for a readable failure. */
function firstDifference(a, b) {
	const la = a.split('\n');
	const lb = b.split('\n');
	for (let i = 0; i < Math.max(la.length, lb.length); i++)
		if (la[i] !== lb[i])
			return `line ${i + 1}: source ${JSON.stringify(la[i])} vs target ${JSON.stringify(lb[i])}`;
	return null;
}

/* Every sequence of a database: its definition and value. */
async function sequences(env, db) {
	return JSON.parse(await env.sql(db, `SELECT coalesce(json_object_agg(schemaname || '.' || sequencename,
		json_build_array(data_type::text, start_value, min_value, max_value, increment_by, cycle, cache_size,
			last_value) ORDER BY schemaname, sequencename), '{}') FROM pg_sequences`));
}

/* Events of a run whose message mentions text. */
function eventsWith(events, text) {
	return events.filter((e) => e.message.includes(text));
}

describe('a whole database with all its objects', { skip: !ferrydAvailable() }, () => {
	let env;

	before(async () => {
		env = await startEnv({ dbs: ['src', 'tables_only', 'whole', 'reshaped'] });
		await env.sql('postgres', ROLES);
		await env.sql('src', FIXTURE);
	});

	after(async () => {
		if (env)
			await env.stop();
	});

	it('loads every table whose defaults call sequences no column owns, and carries each sequence', async () => {
		// film's generated column calls a function, which only "objects": "all" brings; a column type
		// is a domain over citext, an extension the target must have
		await env.sql('tables_only', 'CREATE EXTENSION citext');
		const job = await createJob(env.api, {
			name: 'rental-tables', source: { dsn: env.dsn('src') }, target: { dsn: env.dsn('tables_only') },
			include: ['public.*', 'shop.*'], exclude: ['public.film', 'public.film_actor'],
			load: { mode: 'drop', validate: 'checksum' },
		});
		assert.equal(job.objects, 'tables', 'objects defaults to tables');
		const run = await runToEnd(env.api, job.id, undefined, { timeoutMs: RUN_TIMEOUT_MS });
		assert.equal(run.state, 'succeeded', `run: ${run.error}`);
		for (const [s, t] of TABLES.filter(([, t]) => !t.startsWith('film'))) {
			assert.deepEqual(await tableChecksum(env, 'tables_only', rel(s, t)),
				await tableChecksum(env, 'src', rel(s, t)), `${s}.${t}`);
		}
		const src = await sequences(env, 'src');
		const dst = await sequences(env, 'tables_only');
		for (const seq of ['public.actor_actor_id_seq', 'public.shared_id_seq',
			'shop.ticket_seq', 'public.payment_payment_id_seq', 'public.customer_customer_id_seq'])
			assert.deepEqual(dst[seq], src[seq], `sequence ${seq}: definition and value`);
		// a table's next row on the target continues after the source's, also through a shared sequence
		const next = await env.sql('tables_only', `INSERT INTO public.store (name) VALUES ('west') RETURNING store_id;
			INSERT INTO shop.audit (what) VALUES ('x') RETURNING id`);
		const [storeId, auditId] = next.split('\n').filter(Boolean).map(Number);
		assert.equal(storeId, Number(src['public.shared_id_seq'][7]) + 1);
		assert.equal(auditId, storeId + 1, 'both tables draw from the one shared sequence');
		// a descending smallint sequence with its own bounds keeps them
		assert.deepEqual(dst['shop.ticket_seq'].slice(0, 7), ['smallint', 30000, -32768, 30000, -1, false, 1]);
		assert.equal(dst['public.film_film_id_seq'], undefined, 'the sequence of a table not in the run is not created');
		// the plan of such a job tells that film's generated column needs a function it does not bring
		const withFilm = await createJob(env.api, {
			name: 'rental-film', source: { dsn: env.dsn('src') }, target: { dsn: env.dsn('tables_only') },
			include: ['public.film'], load: { mode: 'drop' },
		});
		const plan = await env.api.get(`/api/v1/jobs/${withFilm.id}/plan`);
		assert.equal(plan.status, 200, plan.text);
		assert.ok(plan.json.tables[0].warnings.some((w) => w.includes('call function public.price_with_tax(p numeric, rate numeric)') &&
			w.includes('set objects to "all"')), JSON.stringify(plan.json.tables[0].warnings));
		// with "tables", no view, function or trigger is created
		assert.equal(await env.sql('tables_only', `SELECT count(*) FROM pg_views WHERE schemaname = 'public'`), '0');
		assert.equal(await env.sql('tables_only', `SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal`), '0');
	});

	it('plans every object by kind: what pg_dump creates, what ferry creates, what is skipped and why', async () => {
		const job = await createJob(env.api, {
			name: 'rental-plan', source: { dsn: env.dsn('src') }, target: { dsn: env.dsn('whole') },
			include: ['public.*', 'shop.*'], exclude: ['shop.scratch'], objects: 'all', load: { mode: 'drop' },
		});
		const r = await env.api.get(`/api/v1/jobs/${job.id}/plan`);
		assert.equal(r.status, 200, r.text);
		const kinds = Object.fromEntries(r.json.objects.map((k) => [k.kind, k]));
		assert.deepEqual(kinds.VIEW.create.sort(), ['public.actor_info', 'public.customer_names', 'public.top_films']);
		assert.deepEqual(kinds['MATERIALIZED VIEW'].create, ['public.rental_totals']);
		assert.deepEqual(kinds['MATERIALIZED VIEW DATA'].create, ['public.rental_totals']);
		assert.ok(kinds.FUNCTION.create.includes('public.films_of(integer)'));
		assert.deepEqual(kinds.AGGREGATE.create, ['public.sum_sq(numeric)']);
		assert.deepEqual(kinds.PROCEDURE.create, ['shop.log(text)']);
		assert.deepEqual(kinds.EXTENSION.create, ['citext']);
		assert.deepEqual(kinds.TRIGGER.create.length, 3);
		assert.deepEqual(kinds.PUBLICATION.create, ['rental_pub']);
		assert.ok(kinds.TABLE.by_ferry.includes('public.actor'));
		assert.deepEqual(kinds.TABLE.skip, [{ name: 'shop.scratch',
			reason: "the job's include and exclude do not select this table" }]);
		assert.deepEqual(kinds.DOMAIN.create.sort(), ['public.year', 'shop.email']);
		assert.deepEqual(r.json.warnings, [], 'the target has every role and extension');
	});

	it('brings every object: the target\'s pg_dump --schema-only is the source\'s, every table\'s rows match', async () => {
		const job = await createJob(env.api, {
			name: 'rental-all', source: { dsn: env.dsn('src') }, target: { dsn: env.dsn('whole') },
			include: ['public.*', 'shop.*'], objects: 'all', load: { mode: 'drop', validate: 'checksum' },
		});
		const run = await runToEnd(env.api, job.id, undefined, { timeoutMs: RUN_TIMEOUT_MS });
		const events = await runEvents(env.api, run.id);
		assert.equal(run.state, 'succeeded', `run: ${run.error}\n${events.filter((e) => e.level !== 'info')
			.map((e) => e.message).join('\n')}`);
		const [a, b] = await Promise.all([schemaDump(env.dsn('src')), schemaDump(env.dsn('whole'))]);
		assert.ok(a.includes('CREATE MATERIALIZED VIEW public.rental_totals'), 'fixture: the dump holds the objects');
		assert.equal(firstDifference(a, b), null);
		for (const [s, t] of TABLES) {
			assert.deepEqual(await tableChecksum(env, 'whole', rel(s, t)),
				await tableChecksum(env, 'src', rel(s, t)), `${s}.${t}`);
		}
		// the materialized view was refreshed after the data, the view over it reads it
		for (const v of ['public.rental_totals', 'public.actor_info'])
			assert.deepEqual(await tableChecksum(env, 'whole', v), await tableChecksum(env, 'src', v), v);
		assert.deepEqual(await sequences(env, 'whole'), await sequences(env, 'src'), 'sequences and their values');
		// triggers came after the data: the loaded rows kept their last_update; now they fire
		const fired = await env.sql('whole', `UPDATE public.actor SET first_name = 'Zed' WHERE actor_id = 1;
			SELECT last_update > now() - interval '1 minute' FROM public.actor WHERE actor_id = 1`);
		assert.equal(fired, 't', 'the last_updated trigger fires on the target');
		assert.equal(await env.sql('whole', `SELECT max(last_update) < now() - interval '1 second' FROM public.film`),
			't', 'no trigger fired while the rows were loaded');
		const created = eventsWith(events, 'created TRIGGER public.actor last_updated');
		assert.equal(created.length, 1, 'the trigger\'s creation is an event');
		// a second run finds the objects there and keeps them
		// and the tables it drops take their dependent views along, to be created again
		const again = await runToEnd(env.api, job.id, undefined, { timeoutMs: RUN_TIMEOUT_MS });
		const events2 = await runEvents(env.api, again.id);
		assert.equal(again.state, 'succeeded', `second run: ${again.error}`);
		assert.ok(eventsWith(events2, 'FUNCTION public.last_updated() is already on the target and is kept').length === 1,
			'objects already there are kept, and said so');
		assert.ok(eventsWith(events2, 'dropping public.actor also dropped').some((e) => e.message.includes('view public.actor_info')),
			'what a dropped table took with it is said');
		assert.equal(firstDifference(a, await schemaDump(env.dsn('whole'))), null, 'after the second run');
	});

	it('skips, by name and with the reason, the objects that depend on renamed, reshaped or unselected tables', async () => {
		const job = await createJob(env.api, {
			name: 'rental-reshaped', source: { dsn: env.dsn('src') }, target: { dsn: env.dsn('reshaped') },
			include: ['public.*', 'shop.*'], exclude: ['shop.audit'], objects: 'all', load: { mode: 'drop' },
			tables: {
				'public.actor': { target: 'archive.actor' },
				'public.film': { columns: { title: 'film_title' } },
				'public.customer': { drop_columns: ['email'] },
			},
		});
		const plan = await env.api.get(`/api/v1/jobs/${job.id}/plan`);
		assert.equal(plan.status, 200, plan.text);
		const skipped = Object.fromEntries(plan.json.objects.flatMap((k) => k.skip.map((s) => [`${k.kind} ${s.name}`, s.reason])));
		const expect = {
			'VIEW public.actor_info': 'public.actor, which the job loads as archive.actor',
			'TRIGGER public.actor last_updated': 'public.actor, which the job loads as archive.actor',
			'TRIGGER public.film last_updated': 'public.film, which the job loads as public.film with other columns',
			'FUNCTION public.films_of(integer)': 'public.film, which the job loads as public.film with other columns',
			'MATERIALIZED VIEW public.rental_totals': 'public.film',
			'VIEW public.top_films': 'public.rental_totals, which is not created',
			'VIEW public.customer_names': 'public.customer, which the job loads as public.customer with other columns',
			'TRIGGER public.customer customer_audit': 'public.customer',
			'PUBLICATION TABLE public.rental_pub actor': 'public.actor',
			'ACL TABLE actor_info in schema public': 'public.actor_info',
			'COMMENT TABLE actor in schema public': 'public.actor, which the job loads as archive.actor',
			'TABLE shop.audit': 'do not select this table',
		};
		for (const [name, why] of Object.entries(expect)) {
			assert.ok(skipped[name] !== undefined, `${name} is listed as skipped (skipped: ${Object.keys(skipped).join(', ')})`);
			assert.ok(skipped[name].includes(why), `${name}: ${skipped[name]}`);
		}
		const run = await runToEnd(env.api, job.id, undefined, { timeoutMs: RUN_TIMEOUT_MS });
		const events = await runEvents(env.api, run.id);
		assert.equal(run.state, 'succeeded', `run: ${run.error}`);
		for (const name of Object.keys(expect))
			assert.equal(eventsWith(events, `skipped ${name}:`).length, 1, `an event names ${name}`);
		// what does not depend on them is there
		const have = await env.sql('reshaped', `SELECT string_agg(x, ',' ORDER BY x) FROM (
			SELECT 'rule ' || rulename FROM pg_rules WHERE schemaname = 'public'
			UNION ALL SELECT 'policy ' || policyname FROM pg_policies
			UNION ALL SELECT 'function ' || proname FROM pg_proc WHERE pronamespace = 'public'::regnamespace
				AND proname IN ('price_with_tax', 'last_updated', 'sum_sq')) s(x)`);
		assert.equal(have, 'function last_updated,function price_with_tax,function sum_sq,policy staff_active,rule no_delete_store');
		assert.equal(await env.sql('reshaped', `SELECT count(*) FROM archive.actor`), '200');
		assert.equal(await env.sql('reshaped', `SELECT to_regclass('public.actor_info') IS NULL`), 't');
	});

	it('warns of roles the target lacks and leaves out their ownership and grants', async () => {
		const other = await startCluster();
		try {
			await other.createDb('dst');
			const job = await createJob(env.api, {
				name: 'rental-roles', source: { dsn: env.dsn('src') }, target: { dsn: other.dsn('dst') },
				include: ['public.*'], objects: 'all', load: { mode: 'drop' },
			});
			const plan = await env.api.get(`/api/v1/jobs/${job.id}/plan`);
			assert.equal(plan.status, 200, plan.text);
			for (const role of ['rental_owner', 'rental_reader'])
				assert.ok(plan.json.warnings.some((w) => w.includes(`role "${role}" does not exist on the target`)),
					`warning for ${role}: ${JSON.stringify(plan.json.warnings)}`);
			const run = await runToEnd(env.api, job.id, undefined, { timeoutMs: RUN_TIMEOUT_MS });
			const events = await runEvents(env.api, run.id);
			// the policy names rental_reader: it cannot be created, and the run says which object failed
			assert.equal(run.state, 'failed');
			assert.match(run.error, /POLICY public\.staff staff_active/);
			assert.ok(eventsWith(events, 'role "rental_reader" does not exist').length > 0);
			// the view rental_owner owns is there, owned by the user ferry connects as
			assert.equal(await other.psql(`SELECT viewowner FROM pg_views WHERE viewname = 'top_films'`, { db: 'dst' }),
				'postgres');
			assert.equal(await other.psql(`SELECT count(*) FROM public.rental_totals`, { db: 'dst' }),
				await env.sql('src', `SELECT count(*) FROM public.rental_totals`));
		} finally {
			await other.stop();
		}
	});
});

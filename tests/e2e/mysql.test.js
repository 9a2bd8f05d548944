// tests/e2e/mysql.test.js: MySQL and MariaDB as a source, against a throwaway MariaDB server: a Sakila
// subset arrives with its NOT NULLs, defaults, index names, foreign keys and sequences; every column type
// arrives as the README's cast table promises, value by value; values PostgreSQL cannot hold fail or are
// converted as the job says; the checksum validation works across the two engines; incremental and upsert
// loads; every load mode, a backfill, cancel and a schedule; the plan's assessment; bad connection strings
// and servers; a SIGKILL of ferryd and a restart of MariaDB in the middle of a copy
'use strict';

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');

const { ferrydAvailable } = require('../lib/ferryd');
const { startMariadb, mariadbAvailable } = require('../lib/mariadb');
const { pollUntil } = require('../lib/util');
const {
	startEnv, createJob, triggerRun, waitRun, runToEnd, runEvents, runTables, waitTables, rel, holdWrites,
} = require('./helpers');

const FIXTURES = path.join(__dirname, '..', 'fixtures');
const RUN_TIMEOUT_MS = 120000;
const skip = !ferrydAvailable() ? 'build/ferryd is not built'
	: !mariadbAvailable() ? 'mariadbd is not installed (tests/deps.sh test)' : false;

/* The lines of psql's output, each split at '|'. */
function rows(text) {
	return text.split('\n').filter((l) => l.length).map((l) => l.split('|'));
}

describe('MySQL and MariaDB sources', { skip }, () => {
	let env;
	let my;

	/* A run of job that must succeed; its events, for a readable failure. */
	async function succeed(job, body) {
		const run = await runToEnd(env.api, job.id, body, { timeoutMs: RUN_TIMEOUT_MS });
		const events = await runEvents(env.api, run.id);
		assert.equal(run.state, 'succeeded', `${job.name}: ${run.error}\n${events
			.filter((e) => e.level !== 'info').map((e) => `${e.table ?? ''} ${e.message}`).join('\n')}`);
		return { run, events };
	}

	before(async () => {
		[env, my] = await Promise.all([
			startEnv({ dbs: ['sakila', 'types', 'strict', 'tampered', 'inc', 'crash', 'restart', 'mapped', 'split', 'opts', 'modes'] }),
			startMariadb(),
		]);
		await my.sqlFile(path.join(FIXTURES, 'sakila_mini.sql'));
		await my.sqlFile(path.join(FIXTURES, 'mysql_types.sql'));
	});

	after(async () => {
		await Promise.all([env?.stop(), my?.stop()]);
	});

	it('carries a Sakila subset faithfully: NOT NULL, defaults, enum and set types, index names, foreign keys, sequences, values', async () => {
		const job = await createJob(env.api, {
			name: 'sakila', source: { dsn: my.dsn('sakila') }, target: { dsn: env.dsn('sakila') },
			include: ['sakila.*'], load: { mode: 'drop', validate: 'checksum' },
		});
		const { events } = await succeed(job);
		const point = events.find((e) => e.kind === 'snapshot' && e.message.includes('binlog_file'));
		assert.ok(point, 'the run records its consistent point');
		const info = JSON.parse(point.message.slice(point.message.indexOf('{')));
		assert.match(info.binlog_file, /^binlog\.\d+$/);
		assert.match(info.gtid, /^\d+-\d+-\d+$/);
		assert.equal(info.consistent, true, 'taken under FLUSH TABLES WITH READ LOCK');

		// what pgloader drops: NOT NULL and DEFAULT CURRENT_TIMESTAMP of every last_update
		const lastUpdate = rows(await env.sql('sakila', `SELECT table_name, is_nullable, column_default, data_type
			FROM information_schema.columns WHERE table_schema = 'sakila' AND column_name = 'last_update' ORDER BY 1`));
		assert.equal(lastUpdate.length, 6);
		for (const [table, nullable, def, type] of lastUpdate) {
			assert.equal(nullable, 'NO', `${table}.last_update keeps NOT NULL`);
			assert.equal(def, 'now()', `${table}.last_update keeps its default`);
			assert.equal(type, 'timestamp with time zone');
		}
		const film = Object.fromEntries(rows(await env.sql('sakila', `SELECT column_name, format_type(atttypid, atttypmod),
			attnotnull, coalesce(pg_get_expr(d.adbin, d.adrelid), ''), attidentity
			FROM pg_attribute a JOIN information_schema.columns c ON c.table_schema = 'sakila' AND c.table_name = 'film'
			AND c.column_name = a.attname LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
			WHERE a.attrelid = 'sakila.film'::regclass AND a.attnum > 0 ORDER BY a.attnum`)).map((r) => [r[0], r.slice(1)]));
		assert.deepEqual(Object.keys(film), ['film_id', 'title', 'description', 'release_year', 'language_id',
			'original_language_id', 'rental_duration', 'rental_rate', 'length', 'replacement_cost', 'rating',
			'special_features', 'last_update'], 'column order');
		assert.deepEqual(film.film_id, ['integer', 't', '', 'd'], 'SMALLINT UNSIGNED AUTO_INCREMENT: an identity');
		assert.deepEqual(film.title, ['character varying(128)', 't', '', '']);
		assert.deepEqual(film.rental_rate, ['numeric(4,2)', 't', '4.99', '']);
		assert.deepEqual(film.rental_duration, ['smallint', 't', '3', '']);
		assert.deepEqual(film.rating, ['sakila.film_rating', 'f', "'G'::sakila.film_rating", '']);
		assert.deepEqual(film.special_features, ['text[]', 'f', '', '']);
		assert.equal(await env.sql('sakila', `SELECT string_agg(enumlabel, ',' ORDER BY enumsortorder) FROM pg_enum
			WHERE enumtypid = 'sakila.film_rating'::regtype`), 'G,PG,PG-13,R,NC-17');

		// indexes under their own names (pgloader renames them idx_<oid>_…), keys and foreign keys with their actions
		assert.deepEqual(rows(await env.sql('sakila', `SELECT indexname FROM pg_indexes WHERE schemaname = 'sakila' ORDER BY 1`)).flat(), [
			'actor_pkey', 'category_pkey', 'film_actor_pkey', 'film_category_pkey', 'film_pkey',
			// the index InnoDB made for a foreign key without one, under the name it gave it
			'fk_film_category_category', 'idx_actor_last_name', 'idx_fk_film_id', 'idx_fk_language_id', 'idx_fk_original_language_id', 'idx_title',
			'language_pkey']);
		const fks = rows(await env.sql('sakila', `SELECT conrelid::regclass, conname, pg_get_constraintdef(oid) FROM pg_constraint
			WHERE connamespace = 'sakila'::regnamespace AND contype = 'f' ORDER BY 2`));
		assert.deepEqual(fks.map((f) => f[1]), ['fk_film_actor_actor', 'fk_film_actor_film', 'fk_film_category_category',
			'fk_film_category_film', 'fk_film_language', 'fk_film_language_original']);
		assert.equal(fks[4][2], 'FOREIGN KEY (language_id) REFERENCES sakila.language(language_id) ON UPDATE CASCADE ON DELETE RESTRICT');

		// values: every row of every table, as both servers print them
		for (const [table, cols] of [['actor', 'actor_id, first_name, last_name'], ['film_actor', 'actor_id, film_id'],
			['film', 'film_id, title, coalesce(description, \'-\'), coalesce(release_year, 0), rental_rate, rating']]) {
			const src = (await my.query(`SELECT ${cols} FROM ${table} ORDER BY 1, 2`, { db: 'sakila' })).map((r) => r.join('|'));
			const dst = (await env.sql('sakila', `SELECT ${cols} FROM sakila.${table} ORDER BY 1, 2`)).split('\n');
			assert.deepEqual(dst, src, table);
		}
		const stamps = await my.query(`SELECT DATE_FORMAT(MIN(last_update), '%Y-%m-%d %H:%i:%s'), COUNT(*) FROM film`, { db: 'sakila' });
		assert.equal(await env.sql('sakila', `SELECT to_char(min(last_update) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') || '|' || count(*) FROM sakila.film`),
			stamps[0].join('|'), 'TIMESTAMP values, in UTC');

		// the identity sequences continue after the largest id; the defaults fill a new row
		const next = rows(await env.sql('sakila', `INSERT INTO sakila.actor (first_name, last_name) VALUES ('NEW', 'ACTOR')
			RETURNING actor_id, last_update > now() - interval '1 minute'`))[0];
		assert.deepEqual(next, [String(Number((await my.query('SELECT MAX(actor_id) FROM actor', { db: 'sakila' }))[0][0]) + 1), 't']);
	});

	it('plans the assessment: what does not carry over, lossy casts, views, triggers, and the job\'s schema map', async () => {
		const job = await createJob(env.api, {
			name: 'types-plan', source: { dsn: my.dsn('ferry_types') }, target: { dsn: env.dsn('mapped') },
			include: ['ferry_types.*'], schemas: { ferry_types: 'app' },
		});
		const r = await env.api.get(`/api/v1/jobs/${job.id}/plan`);
		assert.equal(r.status, 200, r.text);
		const byTable = Object.fromEntries(r.json.tables.map((t) => [t.source, t]));
		assert.equal(byTable['ferry_types.order'].target, 'app.order', 'the schema map');
		const w = (t) => byTable[`ferry_types.${t}`].warnings.join('\n');
		assert.match(w('indexed'), /FULLTEXT index "ft_indexed_body" is not carried over/);
		assert.match(w('indexed'), /index "idx_indexed_title_prefix" covers a prefix/);
		assert.match(w('child'), /trigger "trg_child_note" is not carried over/);
		assert.match(w('all_types'), /column "c_timestamp" is ON UPDATE CURRENT_TIMESTAMP/);
		assert.match(w('all_types'), /column "c_float" \(float → real\): float is single precision/);
		assert.match(w('all_types'), /column "c_time" \(time → time\(0\)\): .*cast to interval/);
		assert.match(w('all_types'), /column "c_geometry" .*WKT/);
		assert.match(w('no_pk'), /no primary key/);
		assert.ok(r.json.warnings.some((x) => x.includes('ferry_types.v_parent_children (VIEW)')), JSON.stringify(r.json.warnings));
		assert.ok(!r.json.warnings.some((x) => x.includes('RELOAD')), 'ferry has the RELOAD privilege');

		// a user without RELOAD is told that tables are not read at one point
		const limited = await my.createUser('reader', 'reader-pw', ['SELECT ON ferry_types.*']);
		const lj = await createJob(env.api, {
			name: 'types-limited', source: { dsn: limited.dsn('ferry_types') }, target: { dsn: env.dsn('mapped') },
			include: ['ferry_types.order_line'],
		});
		const lp = await env.api.get(`/api/v1/jobs/${lj.id}/plan`);
		assert.equal(lp.status, 200, lp.text);
		assert.ok(lp.json.warnings.some((x) => x.includes('lacks the RELOAD privilege')), JSON.stringify(lp.json.warnings));
		const { events } = await succeed(lj);
		assert.ok(events.some((e) => e.level === 'warning' && e.message.includes('without one consistent point')),
			'the run says the tables were not read at one point');
		assert.equal(await env.sql('mapped', 'SELECT count(*) FROM ferry_types.order_line'), '6');
		assert.ok(!JSON.stringify(await runEvents(env.api, (await env.api.get(`/api/v1/jobs/${lj.id}`)).json.last_run.id)).includes('reader-pw'));
	});

	it('brings every column type as the cast table says, value by value, with comments and hostile names', async () => {
		const job = await createJob(env.api, {
			name: 'types', source: { dsn: my.dsn('ferry_types') }, target: { dsn: env.dsn('types') },
			include: ['ferry_types.*'], exclude: ['ferry_types.v_*'],
			values: { zero_dates: 'null', nul_characters: 'strip' },
			tables: { 'ferry_types.all_types': { casts: { c_time: 'interval', c_time3: 'interval' } } },
			load: { mode: 'drop', validate: 'checksum' },
		});
		const { events } = await succeed(job);
		const converted = events.find((e) => e.table === 'ferry_types.all_types' && e.kind === 'values');
		assert.ok(converted, 'the conversions are counted in the events');
		assert.match(converted.message, /8 zero dates \(or empty ENUM values\) read as NULL, 2 values with NUL characters removed/);

		const types = Object.fromEntries(rows(await env.sql('types', `SELECT attname, format_type(atttypid, atttypmod)
			FROM pg_attribute WHERE attrelid = 'ferry_types.all_types'::regclass AND attnum > 0`)));
		assert.deepEqual(types, {
			id: 'bigint', c_tinyint: 'smallint', c_tinyint_u: 'smallint', c_bool: 'boolean', c_smallint: 'smallint',
			c_smallint_u: 'integer', c_mediumint: 'integer', c_mediumint_u: 'integer', c_int: 'integer', c_int_u: 'bigint',
			c_bigint: 'bigint', c_bigint_u: 'numeric(20,0)', c_bit1: 'bit(1)', c_bit10: 'bit(10)',
			c_decimal: 'numeric(10,2)', c_decimal_max: 'numeric(65,30)', c_float: 'real', c_double: 'double precision',
			c_char: 'character(10)', c_varchar: 'character varying(255)', c_varchar_latin1: 'character varying(50)',
			c_tinytext: 'text', c_text: 'text', c_mediumtext: 'text', c_longtext: 'text', c_binary: 'bytea',
			c_varbinary: 'bytea', c_tinyblob: 'bytea', c_blob: 'bytea', c_mediumblob: 'bytea', c_longblob: 'bytea',
			c_date: 'date', c_datetime: 'timestamp(0) without time zone', c_datetime6: 'timestamp(6) without time zone',
			c_timestamp: 'timestamp(0) with time zone', c_time: 'interval', c_time3: 'interval', c_year: 'smallint',
			c_enum: 'ferry_types.all_types_c_enum', c_set: 'text[]', c_json: 'jsonb', c_geometry: 'text',
			c_point: 'point', c_default: 'character varying(10)',
		});

		// [column, MySQL expression, PostgreSQL expression]: each prints the value the same way on both sides
		const cols = [
			['c_tinyint', 'c_tinyint', 'c_tinyint'], ['c_tinyint_u', 'c_tinyint_u', 'c_tinyint_u'],
			['c_bool', 'c_bool', 'c_bool::int'], ['c_smallint_u', 'c_smallint_u', 'c_smallint_u'],
			['c_mediumint', 'c_mediumint', 'c_mediumint'], ['c_int_u', 'c_int_u', 'c_int_u'],
			['c_bigint', 'c_bigint', 'c_bigint'], ['c_bigint_u', 'c_bigint_u', 'c_bigint_u'],
			['c_bit10', 'LPAD(BIN(c_bit10), 10, \'0\')', 'c_bit10'], ['c_decimal', 'c_decimal', 'c_decimal'],
			['c_decimal_max', 'c_decimal_max', 'c_decimal_max'],
			['c_float', 'CAST(c_float AS CHAR)', 'c_float'], ['c_double', 'CAST(c_double AS CHAR)', 'c_double'],
			['c_char', 'c_char', 'rtrim(c_char)'], ['c_varchar', 'c_varchar', 'c_varchar'],
			['c_varchar_latin1', 'c_varchar_latin1', 'c_varchar_latin1'],
			['c_tinytext', 'REPLACE(c_tinytext, CHAR(0), \'\')', 'c_tinytext'],
			['c_text', 'MD5(c_text)', 'md5(c_text)'], ['c_longtext', 'MD5(c_longtext)', 'md5(c_longtext)'],
			['c_binary', 'HEX(c_binary)', 'upper(encode(c_binary, \'hex\'))'],
			['c_varbinary', 'HEX(c_varbinary)', 'upper(encode(c_varbinary, \'hex\'))'],
			['c_blob', 'MD5(c_blob)', 'md5(c_blob)'], ['c_longblob', 'MD5(c_longblob)', 'md5(c_longblob)'],
			['c_date', 'IF(MONTH(c_date) = 0 OR DAY(c_date) = 0, NULL, c_date)', 'c_date'],
			['c_datetime6', 'IF(MONTH(c_datetime6) = 0 OR DAY(c_datetime6) = 0, NULL, DATE_FORMAT(c_datetime6, \'%Y-%m-%d %H:%i:%s.%f\'))',
				'to_char(c_datetime6, \'YYYY-MM-DD HH24:MI:SS.US\')'],
			['c_timestamp', 'IF(c_timestamp = 0, NULL, DATE_FORMAT(c_timestamp, \'%Y-%m-%d %H:%i:%s\'))',
				'to_char(c_timestamp AT TIME ZONE \'UTC\', \'YYYY-MM-DD HH24:MI:SS\')'],
			['c_time3', 'c_time3', 'c_time3'],
			['c_year', 'c_year + 0', 'c_year'], ['c_enum', 'NULLIF(c_enum, \'\')', 'c_enum'],
			['c_set', 'c_set', 'array_to_string(c_set, \',\')'],
			['c_geometry', 'ST_AsText(c_geometry)', 'c_geometry'],
			['c_point', 'CONCAT(ST_X(c_point), \' \', ST_Y(c_point))', 'c_point[0] || \' \' || c_point[1]'],
			['c_default', 'c_default', 'c_default'],
		];
		const srcRows = await my.query(`SELECT id, ${cols.map((c) => c[1]).join(', ')} FROM all_types ORDER BY id`, { db: 'ferry_types' });
		const dstRows = rows(await env.sql('types', `SELECT id, ${cols.map((c) => `coalesce((${c[2]})::text, 'NULL')`).join(', ')}
			FROM ferry_types.all_types ORDER BY id`));
		assert.equal(dstRows.length, srcRows.length);
		for (let r = 0; r < srcRows.length; r++) {
			for (let c = 0; c < cols.length; c++) {
				let want = srcRows[r][c + 1] ?? 'NULL';
				if (cols[c][0] === 'c_time3')
					want = want.replace(/\.000$/, ''); // an interval prints no zero fraction
				if (want !== 'NULL' && cols[c][0] === 'c_float') { // the same single-precision number
					assert.equal(Math.fround(Number(dstRows[r][c + 1])), Math.fround(Number(want)), `row ${srcRows[r][0]}, c_float`);
					continue;
				}
				if (want !== 'NULL' && cols[c][0] === 'c_double') {
					assert.equal(Number(dstRows[r][c + 1]), Number(want), `row ${srcRows[r][0]}, c_double`);
					continue;
				}
				assert.equal(dstRows[r][c + 1], want, `row ${srcRows[r][0]}, column ${cols[c][0]}`);
			}
		}
		// JSON arrives as the same document (jsonb orders the keys its own way)
		const srcJson = await my.query('SELECT id, c_json FROM all_types WHERE c_json IS NOT NULL ORDER BY id', { db: 'ferry_types' });
		for (const [id, doc] of srcJson) {
			const dst = await env.sql('types', `SELECT c_json FROM ferry_types.all_types WHERE id = ${id}`);
			const want = JSON.parse(doc.replace(/\\u0000/g, ''));
			assert.deepEqual(JSON.parse(dst), want, `row ${id}, c_json`);
		}
		// comments, keys, names that need quoting
		assert.equal(await env.sql('types', `SELECT col_description('ferry_types.all_types'::regclass, 1)`), 'row number, see the inserts');
		assert.equal(await env.sql('types', `SELECT obj_description('ferry_types.all_types'::regclass, 'pg_class')`), 'one column per type');
		assert.deepEqual(rows(await env.sql('types', `SELECT "Id", "a\`b", "q""uote", "select", "with space", "MixedCol"
			FROM ferry_types."Mixed Case" ORDER BY 1`)), [['1', 'tick', 'quote', '10', 'space', '100'], ['2', '', '"', '', ' ', '-1']]);
		assert.equal(await env.sql('types', `SELECT count(*) || '/' || count(DISTINCT (a, b)) FROM ferry_types.no_pk`), '7/4', 'every duplicate row kept');
		assert.equal(await env.sql('types', `SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'fk_child_parent'`),
			'FOREIGN KEY (parent_id) REFERENCES ferry_types.parent(id) ON UPDATE SET NULL ON DELETE CASCADE');
		assert.equal(await env.sql('types', `SELECT indexdef FROM pg_indexes WHERE indexname = 'idx_indexed_title_prefix'`),
			'CREATE INDEX idx_indexed_title_prefix ON ferry_types.indexed USING btree ("left"((title)::text, 10))');
		assert.equal(await env.sql('types', `SELECT indexdef FROM pg_indexes WHERE indexname = 'uq_indexed_email'`),
			'CREATE UNIQUE INDEX uq_indexed_email ON ferry_types.indexed USING btree (email)');
		assert.equal(await env.sql('types', `SELECT count(*) FROM pg_indexes WHERE indexname = 'ft_indexed_body'`), '0');
		assert.equal(await env.sql('types', `SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'order_line_pkey'`),
			'PRIMARY KEY (order_id, line_no)');
	});

	it('fails a table on a value PostgreSQL cannot hold, naming the column and the row, and leaves its target empty', async () => {
		const job = await createJob(env.api, {
			name: 'strict', source: { dsn: my.dsn('ferry_types') }, target: { dsn: env.dsn('strict') },
			include: ['ferry_types.all_types', 'ferry_types.order'], load: { mode: 'drop' },
			tables: { 'ferry_types.all_types': { casts: { c_time: 'interval', c_time3: 'interval' } } },
			values: { zero_dates: 'fail' },
		});
		const run = await runToEnd(env.api, job.id, undefined, { timeoutMs: RUN_TIMEOUT_MS });
		assert.equal(run.state, 'failed');
		const tables = await runTables(env.api, run.id);
		assert.equal(tables['ferry_types.order'].state, 'loaded');
		assert.equal(tables['ferry_types.all_types'].state, 'errored');
		assert.match(tables['ferry_types.all_types'].error, /row \d+, column "c_tinytext": NUL character/);
		assert.equal(await env.sql('strict', 'SELECT count(*) FROM ferry_types.all_types'), '0');

		// without the casts, MySQL's TIME beyond a day fails in PostgreSQL's time, naming the column
		const nocast = await createJob(env.api, {
			name: 'strict-time', source: { dsn: my.dsn('ferry_types') }, target: { dsn: env.dsn('strict') },
			include: ['ferry_types.all_types'], load: { mode: 'drop' }, values: { nul_characters: 'strip' },
		});
		const r2 = await runToEnd(env.api, nocast.id, undefined, { timeoutMs: RUN_TIMEOUT_MS });
		assert.equal(r2.state, 'failed');
		const t2 = (await runTables(env.api, r2.id))['ferry_types.all_types'];
		assert.match(t2.error, /invalid input syntax for type time: "-01:02:03\.456" \(COPY all_types, line \d+, column c_time3?: /);
	});

	it('validates with a checksum both engines agree on, and a changed value fails it', async () => {
		// the target table exists, and a trigger there changes one value on its way in
		await env.sql('tampered', `CREATE SCHEMA sakila; CREATE TABLE sakila.category (category_id smallint PRIMARY KEY,
			name varchar(25) NOT NULL, last_update timestamptz NOT NULL);
			CREATE FUNCTION tamper() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
				IF NEW.category_id = 7 THEN NEW.name := NEW.name || '!'; END IF; RETURN NEW; END $$;
			CREATE TRIGGER tamper BEFORE INSERT ON sakila.category FOR EACH ROW EXECUTE FUNCTION tamper();`);
		const job = await createJob(env.api, {
			name: 'tampered', source: { dsn: my.dsn('sakila') }, target: { dsn: env.dsn('tampered') },
			include: ['sakila.category'], load: { mode: 'append', validate: 'checksum' },
		});
		const run = await runToEnd(env.api, job.id, undefined, { timeoutMs: RUN_TIMEOUT_MS });
		assert.equal(run.state, 'failed');
		const t = (await runTables(env.api, run.id))['sakila.category'];
		assert.match(t.error, /16 rows on each side, but their checksums differ/);
		assert.equal(await env.sql('tampered', 'SELECT count(*) FROM sakila.category'), '0', 'rolled back');
		// the same load with the trigger gone passes, on top of rows already there (append)
		await env.sql('tampered', `DROP TRIGGER tamper ON sakila.category;
			INSERT INTO sakila.category VALUES (100, 'Earlier', now())`);
		await succeed(job);
		assert.equal(await env.sql('tampered', 'SELECT count(*) FROM sakila.category'), '17');
	});

	it('loads incrementally by a MySQL cursor column, and upserts by the primary key', async () => {
		await my.sql(`CREATE DATABASE shop; USE shop;
			CREATE TABLE orders (id INT PRIMARY KEY, amount DECIMAL(8,2), updated DATETIME(3) NOT NULL);
			INSERT INTO orders VALUES (1, 10.00, '2024-01-01 10:00:00'), (2, 20.00, '2024-01-02 10:00:00'),
				(3, 30.00, '2024-01-03 10:00:00.5');`);
		const job = await createJob(env.api, {
			name: 'inc', source: { dsn: my.dsn('shop') }, target: { dsn: env.dsn('inc') },
			include: ['shop.orders'], load: { mode: 'incremental', validate: 'count' },
			tables: { 'shop.orders': { cursor: 'updated', key: ['id'] } },
		});
		await succeed(job);
		assert.equal(await env.sql('inc', 'SELECT count(*) FROM shop.orders'), '3');
		const marks = await env.api.get(`/api/v1/jobs/${job.id}/marks`);
		assert.equal(marks.status, 200, marks.text);
		assert.equal(marks.json.items[0].value, '2024-01-03 10:00:00.500000');
		// a change and a new row after the mark; an old row changed without moving its cursor is not read
		await my.sql(`UPDATE orders SET amount = 33.00, updated = '2024-01-04 00:00:00' WHERE id = 3;
			INSERT INTO orders VALUES (4, 40.00, '2024-01-05 00:00:00'); UPDATE orders SET amount = 11.00 WHERE id = 1;`, { db: 'shop' });
		await succeed(job);
		assert.deepEqual(rows(await env.sql('inc', 'SELECT id, amount FROM shop.orders ORDER BY id')),
			[['1', '10.00'], ['2', '20.00'], ['3', '33.00'], ['4', '40.00']]);
		// upsert: every row again, merged by the key
		const up = await createJob(env.api, {
			name: 'upsert', source: { dsn: my.dsn('shop') }, target: { dsn: env.dsn('inc') },
			include: ['shop.orders'], load: { mode: 'upsert', validate: 'count' },
		});
		await succeed(up);
		assert.deepEqual(rows(await env.sql('inc', 'SELECT id, amount FROM shop.orders ORDER BY id')),
			[['1', '11.00'], ['2', '20.00'], ['3', '33.00'], ['4', '40.00']]);
	});

	it('reads a big table with an integer primary key in key ranges by several connections at once', async () => {
		// dense keys split evenly; keys at both ends of BIGINT and BIGINT UNSIGNED; a composite key is read whole
		await my.sql(`CREATE DATABASE splitsrc; USE splitsrc;
			CREATE TABLE big (id INT PRIMARY KEY, v VARCHAR(200) NOT NULL, d DECIMAL(12,3), t DATETIME);
			INSERT INTO big SELECT seq, REPEAT(MD5(seq), 3), seq / 7, '2024-01-01' + INTERVAL seq MINUTE FROM seq_1_to_30000;
			CREATE TABLE signed_keys (id BIGINT PRIMARY KEY, v VARCHAR(200) NOT NULL);
			INSERT INTO signed_keys SELECT seq, REPEAT(MD5(seq), 3) FROM seq_1_to_8000;
			INSERT INTO signed_keys VALUES (-9223372036854775808, 'min'), (-5, 'minus five'), (0, 'zero'),
				(9223372036854775807, 'max');
			CREATE TABLE unsigned_keys (id BIGINT UNSIGNED PRIMARY KEY, v VARCHAR(200) NOT NULL);
			INSERT INTO unsigned_keys SELECT seq, REPEAT(MD5(seq), 3) FROM seq_1_to_8000;
			INSERT INTO unsigned_keys VALUES (0, 'zero'), (18446744073709551615, 'max'), (18446744073709551614, 'max - 1');
			CREATE TABLE pairs (a INT, b INT, v VARCHAR(200), PRIMARY KEY (a, b));
			INSERT INTO pairs SELECT seq % 100, seq, REPEAT(MD5(seq), 3) FROM seq_1_to_8000;
			ANALYZE TABLE big, signed_keys, unsigned_keys, pairs;`);
		const job = await createJob(env.api, {
			name: 'split', source: { dsn: my.dsn('splitsrc') }, target: { dsn: env.dsn('split') },
			include: ['splitsrc.*'], load: { mode: 'drop', validate: 'checksum', parallel: 2, split_bytes: 65536 },
		});
		const plan = await env.api.get(`/api/v1/jobs/${job.id}/plan`);
		assert.equal(plan.status, 200, plan.text);
		const { run } = await succeed(job);
		const tables = await runTables(env.api, run.id);
		for (const [t, n] of [['big', 30000], ['signed_keys', 8004], ['unsigned_keys', 8003], ['pairs', 8000]]) {
			assert.equal(tables[`splitsrc.${t}`].state, 'loaded', t);
			assert.equal(String(tables[`splitsrc.${t}`].rows), String(n), `${t}: rows counted`);
		}
		// each part appends in a transaction of its own: the rows of a split table carry one xmin a part
		const writers = async (t) => Number(await env.sql('split', `SELECT count(DISTINCT xmin::text) FROM splitsrc.${t}`));
		assert.equal(await writers('big'), 2, 'big is read in two key ranges at once (load.parallel 2)');
		assert.equal(await writers('pairs'), 1, 'a composite key is read whole');
		// every row, value by value, in both engines' words
		for (const [t, cols] of [['big', "id, v, d, DATE_FORMAT(t, '%Y-%m-%d %H:%i:%s')"], ['signed_keys', 'id, v'],
			['unsigned_keys', 'id, v'], ['pairs', 'a, b, v']]) {
			const src = (await my.query(`SELECT ${cols} FROM ${t} ORDER BY 1, 2`, { db: 'splitsrc' })).map((r) => r.join('|'));
			const pgCols = cols.replace("DATE_FORMAT(t, '%Y-%m-%d %H:%i:%s')", "to_char(t, 'YYYY-MM-DD HH24:MI:SS')");
			const dst = (await env.sql('split', `SELECT ${pgCols} FROM splitsrc.${t} ORDER BY 1, 2`)).split('\n');
			assert.equal(dst.length, src.length, `${t}: rows`);
			assert.deepEqual(dst, src, t);
		}
		const events = await runEvents(env.api, run.id);
		assert.ok(!events.some((e) => e.level === 'error'), 'no errors');
	});

	it('applies every per-table option in MySQL\'s SQL: target, where, columns, drop_columns, expressions, casts, and a delete flag', async () => {
		await my.sql(`CREATE DATABASE opts; USE opts;
			CREATE TABLE people (id INT PRIMARY KEY, first VARCHAR(40) NOT NULL, last VARCHAR(40) NOT NULL,
				email VARCHAR(100), secret VARCHAR(40), age INT NOT NULL, deleted TINYINT(1) NOT NULL DEFAULT 0);
			INSERT INTO people VALUES (1, 'Ann', 'Lee', 'ann@x.org', 's1', 30, 0), (2, 'Bob', 'Ng', 'bob@x.org', 's2', 17, 0),
				(3, 'Cy', 'Oh', 'cy@x.org', 's3', 45, 1), (4, 'Di', 'Pe', NULL, 's4', 52, 0);`);
		const shaped = await createJob(env.api, {
			name: 'opts-shaped', source: { dsn: my.dsn('opts') }, target: { dsn: env.dsn('opts') },
			include: ['opts.people'], load: { mode: 'drop', validate: 'count' },
			tables: {
				'opts.people': {
					target: 'crm.adults', where: 'age >= 18 AND last <> _utf8mb4\'Oh\'', columns: { first: 'given_name' },
					drop_columns: ['secret', 'deleted'], casts: { age: 'bigint' },
					expressions: { email: "CONCAT(LEFT(email, 1), '***')", full_name: "CONCAT(first, ' ', last)" },
				},
			},
		});
		await succeed(shaped);
		const cols = rows(await env.sql('opts', `SELECT column_name, data_type FROM information_schema.columns
			WHERE table_schema = 'crm' AND table_name = 'adults' ORDER BY ordinal_position`));
		assert.deepEqual(cols.map((c) => c[0]), ['id', 'given_name', 'last', 'email', 'age', 'full_name'],
			'renamed, dropped, replaced and added columns, in order');
		assert.deepEqual(cols.slice(0, 5).map((c) => c[1]), ['integer', 'character varying', 'character varying', 'text', 'bigint'],
			'a cast column gets its type');
		assert.deepEqual(rows(await env.sql('opts', `SELECT id, given_name, email, age, full_name FROM crm.adults ORDER BY id`)),
			[['1', 'Ann', 'a***', '30', 'Ann Lee'], ['4', 'Di', '', '52', 'Di Pe']], 'where, renames, masks, computed columns');

		// upsert with a delete flag: flagged rows are deleted from the target, the others merged by the key
		const flagged = await createJob(env.api, {
			name: 'opts-flagged', source: { dsn: my.dsn('opts') }, target: { dsn: env.dsn('opts') },
			include: ['opts.people'], load: { mode: 'upsert', validate: 'count' },
			tables: { 'opts.people': { target: 'crm.people', delete_flag: 'deleted', drop_columns: ['secret'] } },
		});
		await succeed(flagged);
		const live = async () => rows(await env.sql('opts', 'SELECT id, first FROM crm.people ORDER BY id'));
		assert.deepEqual(await live(), [['1', 'Ann'], ['2', 'Bob'], ['4', 'Di']]);
		await my.sql(`UPDATE people SET deleted = 1 WHERE id = 1; UPDATE people SET first = 'Robert' WHERE id = 2;
			INSERT INTO people VALUES (5, 'Ed', 'Qu', NULL, 's5', 23, 0);`, { db: 'opts' });
		await succeed(flagged);
		assert.deepEqual(await live(), [['2', 'Robert'], ['4', 'Di'], ['5', 'Ed']]);
	});

	it('loads in every mode, backfills a window and cancels a copy with a MySQL source', async () => {
		await my.sql(`CREATE DATABASE modes; USE modes;
			CREATE TABLE m (id INT PRIMARY KEY, v VARCHAR(40) NOT NULL, KEY m_v (v));
			INSERT INTO m SELECT seq, CONCAT('v', seq) FROM seq_1_to_100;
			CREATE TABLE ev (id INT PRIMARY KEY, at DATETIME NOT NULL, note VARCHAR(40));
			INSERT INTO ev SELECT seq, '2026-01-01 00:00:00' + INTERVAL seq MINUTE, CONCAT('e', seq) FROM seq_1_to_180;`);
		const spec = (name, table, load, extra = {}) => ({
			name, source: { dsn: my.dsn('modes') }, target: { dsn: env.dsn('modes') },
			include: [`modes.${table}`], load: { validate: 'checksum', ...load }, ...extra,
		});
		const count = async (t) => Number(await env.sql('modes', `SELECT count(*) FROM modes.${t}`));
		const job = await createJob(env.api, spec('modes', 'm', { mode: 'drop' }));
		await succeed(job);
		assert.equal(await count('m'), 100);
		const put = (load) => env.api.put(`/api/v1/jobs/${job.id}`, spec('modes', 'm', load));

		// fail: the table holds rows, so it fails and keeps them
		assert.equal((await put({ mode: 'fail' })).status, 200);
		const failed = await runToEnd(env.api, job.id, undefined, { timeoutMs: RUN_TIMEOUT_MS });
		assert.equal(failed.state, 'failed');
		assert.match((await runTables(env.api, failed.id))['modes.m'].error, /holds 100 rows and load\.mode is fail/);
		// replace: what the source holds now
		await my.sql('DELETE FROM m WHERE id > 90', { db: 'modes' });
		assert.equal((await put({ mode: 'replace' })).status, 200);
		await succeed(job);
		assert.equal(await count('m'), 90);
		// swap: a new copy swapped in, the table's index kept
		await my.sql("UPDATE m SET v = 'swapped' WHERE id = 1", { db: 'modes' });
		assert.equal((await put({ mode: 'swap' })).status, 200);
		await succeed(job);
		assert.equal(await env.sql('modes', 'SELECT v FROM modes.m WHERE id = 1'), 'swapped');
		assert.match(await env.sql('modes', "SELECT string_agg(indexname, ',') FROM pg_indexes WHERE tablename = 'm'"), /m_v/);
		// append: new rows only, chosen by the job's where
		await my.sql("INSERT INTO m SELECT seq, 'appended' FROM seq_1001_to_1005", { db: 'modes' });
		await env.api.put(`/api/v1/jobs/${job.id}`, spec('modes', 'm', { mode: 'append' }, { tables: { 'modes.m': { where: 'id > 1000' } } }));
		await succeed(job);
		assert.equal(await count('m'), 95);

		// a backfill replaces just its window of an incremental table
		const inc = await createJob(env.api, spec('modes-inc', 'ev', { mode: 'incremental' }, { tables: { 'modes.ev': { cursor: 'at' } } }));
		await succeed(inc);
		assert.equal(await count('ev'), 180);
		await my.sql("DELETE FROM ev WHERE id = 70; UPDATE ev SET note = 'fixed' WHERE id = 71; UPDATE ev SET note = 'outside' WHERE id = 150",
			{ db: 'modes' });
		const window = { from: '2026-01-01 01:00:00', to: '2026-01-01 02:00:00' };
		const { run: bf } = await succeed(inc, { params: window });
		assert.deepEqual(bf.params, window);
		assert.deepEqual(rows(await env.sql('modes', 'SELECT count(*), min(note) FILTER (WHERE id = 71), min(note) FILTER (WHERE id = 150) FROM modes.ev')),
			[['179', 'fixed', 'e150']], 'the window follows the source; rows outside it are untouched');

		// cancel: the copy waits for a lock on the target; the cancelled run leaves the target as it was
		const hold = await holdWrites(env.cluster, 'modes', 'modes.m');
		let run;
		try {
			await env.api.put(`/api/v1/jobs/${job.id}`, spec('modes', 'm', { mode: 'replace' }));
			run = await triggerRun(env.api, job.id);
			await waitTables(env.api, run.id, (t) => t['modes.m']?.state === 'loading', 'the copy of modes.m under way');
			const r = await env.api.post(`/api/v1/runs/${run.id}/cancel`);
			assert.equal(r.status, 202, r.text);
			const done = await waitRun(env.api, run.id, { timeoutMs: 30000 });
			assert.equal(done.state, 'cancelled');
		} finally {
			await hold.release();
		}
		assert.equal(await count('m'), 95, 'the cancelled replace rolled back');

		// cancel while the source is slow to send rows: the read itself is stopped, long before it would end
		const slow = await createJob(env.api, spec('modes-slow', 'm', { mode: 'replace' }, {
			tables: { 'modes.m': { where: 'SLEEP(0.3) = 0' } },
		}));
		const slowRun = await triggerRun(env.api, slow.id);
		await waitTables(env.api, slowRun.id, (t) => t['modes.m']?.state === 'loading', 'the slow read of modes.m under way');
		assert.equal((await env.api.post(`/api/v1/runs/${slowRun.id}/cancel`)).status, 202);
		/* the read takes 95 × 0.3 s = 28.5 s; the run must end well before */
		const slowDone = await waitRun(env.api, slowRun.id, { timeoutMs: 10000 });
		assert.equal(slowDone.state, 'cancelled');
		assert.equal(await count('m'), 95, 'the cancelled slow replace rolled back');
		// and the next run reads the source again, on connections the cancelled one gave back
		await succeed(job);
		assert.equal(await count('m'), 95);

		// a schedule: an @once job runs by itself soon after it is stored, validated by checksum
		await my.sql("UPDATE m SET v = 'scheduled' WHERE id = 2", { db: 'modes' });
		const once = await createJob(env.api, spec('modes-once', 'm', { mode: 'replace' }, { schedule: '@once' }));
		const runs = await pollUntil(async () => (await env.api.get(`/api/v1/jobs/${once.id}/runs`)).json.items, {
			until: (items) => items.length === 1 && ['succeeded', 'failed'].includes(items[0].state),
			timeoutMs: 30000, what: 'the @once run of a MySQL job to end',
		});
		assert.equal(runs[0].state, 'succeeded', runs[0].error);
		assert.equal(runs[0].trigger, 'schedule');
		assert.equal(await env.sql('modes', 'SELECT v FROM modes.m WHERE id = 2'), 'scheduled');
		assert.equal(await count('m'), 95);
	});

	it('answers connection tests and refuses bad connection strings without showing their passwords', async () => {
		const ok = await env.api.post('/api/v1/connections/test', { dsn: my.dsn('sakila') });
		assert.equal(ok.status, 200, ok.text);
		assert.equal(ok.json.reachable, true);
		assert.equal(ok.json.kind, 'mariadb');
		assert.match(ok.json.server_version, /MariaDB/);
		assert.equal(ok.json.dsn, my.dsn('sakila').replace(':ferry-secret@', ':***@'));
		const bad = await env.api.post('/api/v1/connections/test', { dsn: my.dsn('sakila').replace('ferry-secret', 'wrong-pw') });
		assert.equal(bad.json.reachable, false);
		assert.match(bad.json.error, /Access denied/);
		assert.ok(!bad.text.includes('wrong-pw'));
		const nodb = await env.api.post('/api/v1/connections/test', { dsn: my.dsn('no_such_db') });
		assert.equal(nodb.json.reachable, false);
		assert.match(nodb.json.error, /Unknown database 'no_such_db'/);
		const down = await env.api.post('/api/v1/connections/test', { dsn: 'mysql://u:closed-pw@127.0.0.1:1/x' });
		assert.equal(down.json.reachable, false);
		assert.ok(!down.text.includes('closed-pw'));
		// a mistyped scheme, and a MySQL URI without its database: 400, the password hidden, what is wrong said
		const typo = await env.api.post('/api/v1/connections/test', { dsn: 'postgresq://app:secret@db1/x' });
		assert.equal(typo.status, 400);
		assert.ok(!typo.text.includes('secret'), typo.text);
		assert.match(typo.json.error.message, /unknown scheme "postgresq"/);
		const nodbUri = await env.api.post('/api/v1/connections/test', { dsn: 'mysql://app:secret@db1:3306' });
		assert.equal(nodbUri.status, 400);
		assert.ok(!nodbUri.text.includes('secret'), nodbUri.text);
		assert.match(nodbUri.json.error.message, /the database is missing/);
		// a job's target must be PostgreSQL
		const job = await env.api.post('/api/v1/jobs', {
			name: 'mysql-target', source: { dsn: env.dsn('sakila') }, target: { dsn: my.dsn('sakila') }, include: ['x.*'],
		});
		assert.equal(job.status, 400);
		assert.equal(job.json.error.field, 'target.dsn');
		assert.ok(!job.text.includes('ferry-secret'));
		// a job's source password never shows: not in the job, the plan, the run or its events
		const j = await createJob(env.api, {
			name: 'sakila-secret', source: { dsn: my.dsn('sakila') }, target: { dsn: env.dsn('mapped') }, include: ['sakila.language'],
			schemas: { sakila: 'secret_check' },
		});
		await succeed(j);
		for (const r of env.seen)
			assert.ok(!r.text.includes('ferry-secret'), `${r.method} ${r.path} shows the password`);
	});

	it('resumes a run after a SIGKILL of ferryd and retries a copy cut by a MariaDB restart, nothing lost or doubled', async () => {
		await my.sql(`CREATE DATABASE slow; USE slow;
			CREATE TABLE t1 (id INT PRIMARY KEY, v VARCHAR(40));
			INSERT INTO t1 SELECT seq, MD5(seq) FROM seq_1_to_60000;
			CREATE TABLE t2 (id INT PRIMARY KEY, v VARCHAR(40));
			INSERT INTO t2 SELECT seq, SHA1(seq) FROM seq_1_to_60000;`);
		// each table takes about two seconds to read: SLEEP every 5,000 rows
		const where = 'id % 5000 <> 0 OR SLEEP(0.15) = 0';
		const spec = (name, db) => ({
			name, source: { dsn: my.dsn('slow') }, target: { dsn: env.dsn(db) }, include: ['slow.*'],
			tables: { 'slow.t1': { where }, 'slow.t2': { where } },
			// a restart of a busy server takes seconds: 1, 2, 4, 8 s between attempts
			load: { mode: 'replace', validate: 'checksum' }, retry: { attempts: 5, delay_s: 1 },
		});
		const want = [['slow.t1', '60000'], ['slow.t2', '60000']];
		const counts = async (db) => rows(await env.sql(db, `SELECT 'slow.t1', count(DISTINCT id) FROM slow.t1
			UNION ALL SELECT 'slow.t2', count(*) FROM slow.t2 ORDER BY 1`));

		// ferryd killed while both tables stream
		const job = await createJob(env.api, spec('crash', 'crash'));
		const run = await triggerRun(env.api, job.id);
		await waitTables(env.api, run.id, (t) => Object.values(t).some((x) => x.state === 'loading' && x.rows > 1000),
			'a table loading', 60000);
		const r = await env.srv.kill9();
		assert.equal(r.signal, 'SIGKILL');
		await env.restart();
		const done = await waitRun(env.api, run.id, { timeoutMs: RUN_TIMEOUT_MS });
		const events = await runEvents(env.api, run.id);
		assert.equal(done.state, 'succeeded', `${done.error}\n${events.map((e) => e.message).join('\n')}`);
		assert.ok(events.some((e) => e.kind === 'run_resumed'), 'the run was taken over');
		assert.deepEqual(await counts('crash'), want);

		// MariaDB restarted while a table streams: the copy fails, is retried at a new consistent point
		const job2 = await createJob(env.api, spec('restart', 'restart'));
		const run2 = await triggerRun(env.api, job2.id);
		await waitTables(env.api, run2.id, (t) => Object.values(t).some((x) => x.state === 'loading' && x.rows > 1000),
			'a table loading', 60000);
		await my.restart();
		const done2 = await waitRun(env.api, run2.id, { timeoutMs: RUN_TIMEOUT_MS });
		const events2 = await runEvents(env.api, run2.id);
		assert.equal(done2.state, 'succeeded', `${done2.error}\n${events2.map((e) => e.message).join('\n')}`);
		const said = events2.map((e) => `${e.kind} ${e.message}`).join('\n');
		assert.ok(events2.some((e) => e.kind === 'table_retry' && /MySQL error 2013/.test(e.message)), `a copy was retried:\n${said}`);
		assert.equal(events2.filter((e) => e.kind === 'snapshot' && e.message.includes('was lost')).length, 1,
			`one new consistent point, said so:\n${said}`);
		assert.deepEqual(await counts('restart'), want);
	});
});

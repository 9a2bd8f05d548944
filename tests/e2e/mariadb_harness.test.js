// tests/e2e/mariadb_harness.test.js: the MariaDB side of the harness (tests/lib/mariadb.js) and its
// fixtures (tests/fixtures/mysql_types.sql, sakila_mini.sql) load and read back as they should
'use strict';

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');

const { startMariadb, mariadbAvailable } = require('../lib/mariadb');

const FIXTURES = path.join(__dirname, '..', 'fixtures');

/* Row counts of every table of both fixtures. */
const COUNTS = {
	'ferry_types.all_types': 9, 'ferry_types.`Mixed Case`': 2, 'ferry_types.`order`': 3,
	'ferry_types.order_line': 6, 'ferry_types.no_pk': 7, 'ferry_types.indexed': 4,
	'ferry_types.parent': 3, 'ferry_types.child': 4,
	'sakila.language': 6, 'sakila.category': 16, 'sakila.actor': 200, 'sakila.film': 101,
	'sakila.film_actor': 353, 'sakila.film_category': 101,
};

async function counts(m) {
	const names = Object.keys(COUNTS);
	const rows = await m.query(names.map((t) => `SELECT COUNT(*) FROM ${t};`).join('\n'));
	return Object.fromEntries(names.map((t, i) => [t, Number(rows[i][0])]));
}

describe('MariaDB harness', { skip: !mariadbAvailable() && 'mariadbd is not installed (tests/deps.sh test)' }, () => {
	let m;
	let startMs;

	before(async () => {
		const t0 = Date.now();
		m = await startMariadb();
		startMs = Date.now() - t0;
		await m.sqlFile(path.join(FIXTURES, 'mysql_types.sql'));
		await m.sqlFile(path.join(FIXTURES, 'sakila_mini.sql'));
	});

	after(async () => {
		if (m) {
			await m.stop();
			assert.equal(fs.existsSync(m.dir), false, `stop() left "${m.dir}" behind`);
		}
	});

	it('answers ferry over TCP with the binary log on, and lets it take a read lock', async (t) => {
		t.diagnostic(`server started in ${startMs} ms on port ${m.port}`);
		assert.match(m.dsn('sakila'), new RegExp(`^mysql://ferry:ferry-secret@127\\.0\\.0\\.1:${m.port}/sakila$`));
		assert.equal(m.dsn('x', { user: 'root' }), `mysql://root@127.0.0.1:${m.port}/x`);
		const as = { user: m.user, password: m.password };
		const [[logBin, format, serverId, packet, charset]] = await m.query(
			'SELECT @@log_bin, @@binlog_format, @@server_id, @@max_allowed_packet, @@character_set_server', as);
		assert.deepEqual([logBin, format, serverId, packet, charset], ['1', 'ROW', '1', String(64 << 20), 'utf8mb4']);
		const rows = await m.query('FLUSH TABLES WITH READ LOCK; SHOW MASTER STATUS; ' +
			'SELECT @@gtid_binlog_pos; UNLOCK TABLES', as);
		assert.match(rows[0][0], /^binlog\.\d{6}$/);
		assert.ok(Number(rows[0][1]) > 16 << 20, `binlog position ${rows[0][1]} is past the 16 MiB rows`);
		assert.match(rows[1][0], /^0-1-\d+$/);
	});

	it('holds the types fixture with its extreme values', async () => {
		assert.deepEqual(await counts(m), COUNTS);
		const q = (sql) => m.query(sql, { db: 'ferry_types' });
		assert.deepEqual(await q('SELECT c_bigint_u, c_tinyint, c_bigint, c_decimal, c_time, c_year, c_datetime6 ' +
			'FROM all_types WHERE id IN (3, 4) ORDER BY id'), [
			['0', '-128', '-9223372036854775808', '-99999999.99', '-838:59:59', '1901', '1000-01-01 00:00:00.000000'],
			['18446744073709551615', '127', '9223372036854775807', '99999999.99', '838:59:59', '2155',
				'9999-12-31 23:59:59.999999'],
		]);
		// text comes back byte for byte: NUL, tab, newline, CR, backslash, emoji; CHAR drops trailing spaces
		assert.deepEqual(await q('SELECT c_tinytext, HEX(c_tinytext), c_text, c_varchar, c_char, c_varchar_latin1, ' +
			'QUOTE(c_mediumtext), c_longtext FROM all_types WHERE id = 5'), [[
			'nul\0byte', '6E756C0062797465', 'back\\slash\ttab\nnewline\r\ncrlf \'single\' "double" `tick`',
			'emoji 🚀🎉 👩‍👩‍👧 日本語 🐘', 'trail', 'trail  ', "'NULL'", '\\N',
		]]);
		// empty strings and NULLs are told apart
		assert.deepEqual(await q('SELECT id, c_varchar, c_blob IS NULL, c_default FROM all_types ' +
			'WHERE id IN (2, 3) ORDER BY id'), [['2', null, '1', 'x'], ['3', '', '0', '']]);
		assert.deepEqual(await q('SELECT c_date, c_datetime, c_timestamp, c_year, c_enum FROM all_types ' +
			'WHERE id = 6'), [['0000-00-00', '0000-00-00 00:00:00', '0000-00-00 00:00:00', '0000', '']]);
		assert.deepEqual(await q('SELECT LENGTH(c_longblob), MD5(c_longblob) = MD5(REPEAT(0x00FF10EF, 4194304)), ' +
			'CHAR_LENGTH(c_longtext) FROM all_types WHERE id = 8'), [['16777216', '1', String(8 * 1864136)]]);
		assert.deepEqual(await q("SELECT c_float, c_double, HEX(c_bit10), ST_AsText(c_point), " +
			"JSON_VALUE(c_json, '$.nested.arr[1]') FROM all_types WHERE id = 1"),
		[['3.25', '2.718281828459045', '2AA', 'POINT(13.4 52.52)', '2.5']]);
	});

	it('holds hostile names, keys, indexes, the foreign key, the view and the trigger', async () => {
		const q = (sql) => m.query(sql, { db: 'information_schema' });
		assert.deepEqual(await q("SELECT COLUMN_NAME FROM COLUMNS WHERE TABLE_SCHEMA = 'ferry_types' " +
			"AND TABLE_NAME = 'Mixed Case' ORDER BY ORDINAL_POSITION"),
		[['Id'], ['a`b'], ['q"uote'], ['select'], ['with space'], ['MixedCol']]);
		assert.deepEqual(await m.query('SELECT `a``b`, `q"uote`, `select`, `with space` FROM `Mixed Case` ' +
			'WHERE `Id` = 2', { db: 'ferry_types' }), [[null, '"', null, ' ']]);
		assert.deepEqual(await q("SELECT INDEX_NAME, NON_UNIQUE, INDEX_TYPE, GROUP_CONCAT(COLUMN_NAME, " +
			"IFNULL(CONCAT('(', SUB_PART, ')'), '') ORDER BY SEQ_IN_INDEX) FROM STATISTICS " +
			"WHERE TABLE_SCHEMA = 'ferry_types' AND TABLE_NAME = 'indexed' GROUP BY 1, 2, 3 ORDER BY 1"), [
			['ft_indexed_body', '1', 'FULLTEXT', 'body'],
			['idx_indexed_code', '1', 'BTREE', 'code'],
			['idx_indexed_name', '1', 'BTREE', 'last_name,first_name'],
			['idx_indexed_title_prefix', '1', 'BTREE', 'title(10)'],
			['PRIMARY', '0', 'BTREE', 'id'],
			['uq_indexed_email', '0', 'BTREE', 'email'],
		]);
		assert.deepEqual(await q("SELECT GROUP_CONCAT(COLUMN_NAME ORDER BY SEQ_IN_INDEX) FROM STATISTICS " +
			"WHERE TABLE_SCHEMA = 'ferry_types' AND TABLE_NAME = 'order_line' AND INDEX_NAME = 'PRIMARY'"),
		[['order_id,line_no']]);
		assert.deepEqual(await q("SELECT COUNT(*) FROM STATISTICS WHERE TABLE_SCHEMA = 'ferry_types' " +
			"AND TABLE_NAME = 'no_pk'"), [['0']]);
		assert.deepEqual(await q("SELECT CONSTRAINT_NAME, TABLE_NAME, REFERENCED_TABLE_NAME, DELETE_RULE, " +
			"UPDATE_RULE FROM REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = 'ferry_types'"),
		[['fk_child_parent', 'child', 'parent', 'CASCADE', 'SET NULL']]);
		assert.deepEqual(await q("SELECT TABLE_NAME FROM VIEWS WHERE TABLE_SCHEMA = 'ferry_types'"),
			[['v_parent_children']]);
		assert.deepEqual(await q("SELECT TRIGGER_NAME, EVENT_MANIPULATION, ACTION_TIMING FROM TRIGGERS " +
			"WHERE TRIGGER_SCHEMA = 'ferry_types'"), [['trg_child_note', 'INSERT', 'BEFORE']]);
		assert.deepEqual(await m.query('SELECT id, note FROM child ORDER BY id; ' +
			'SELECT id, children FROM v_parent_children ORDER BY id', { db: 'ferry_types' }), [
			['1', 'given'], ['2', 'child of 1'], ['3', 'child of 2'], ['4', 'orphan'],
			['1', '2'], ['2', '1'], ['3', '0'],
		]);
	});

	it('holds the Sakila subset with its keys and defaults', async () => {
		const q = (sql) => m.query(sql, { db: 'information_schema' });
		assert.deepEqual(await q("SELECT CONSTRAINT_NAME, DELETE_RULE, UPDATE_RULE FROM REFERENTIAL_CONSTRAINTS " +
			"WHERE CONSTRAINT_SCHEMA = 'sakila' ORDER BY 1"), [
			['fk_film_actor_actor', 'RESTRICT', 'CASCADE'], ['fk_film_actor_film', 'RESTRICT', 'CASCADE'],
			['fk_film_category_category', 'RESTRICT', 'CASCADE'], ['fk_film_category_film', 'RESTRICT', 'CASCADE'],
			['fk_film_language', 'RESTRICT', 'CASCADE'], ['fk_film_language_original', 'RESTRICT', 'CASCADE'],
		]);
		assert.deepEqual(await q("SELECT DISTINCT INDEX_NAME FROM STATISTICS WHERE TABLE_SCHEMA = 'sakila' " +
			"AND INDEX_NAME LIKE 'idx%' ORDER BY 1"), [
			['idx_actor_last_name'], ['idx_fk_film_id'], ['idx_fk_language_id'], ['idx_fk_original_language_id'],
			['idx_title'],
		]);
		assert.deepEqual(await m.query('SELECT title, release_year, rental_duration, rental_rate, replacement_cost, ' +
			'rating, special_features, last_update FROM film WHERE film_id = 101', { db: 'sakila' }),
		[['ZORRO DEFAULTS', null, '3', '4.99', '19.99', 'G', null, '2006-02-15 04:34:33']]);
		assert.deepEqual(await m.query('SELECT COUNT(DISTINCT rating), COUNT(original_language_id), ' +
			'MIN(release_year), MAX(release_year) FROM film', { db: 'sakila' }), [['5', '10', '1990', '2019']]);
	});

	it('creates a user with only the privileges given', async () => {
		const reader = await m.createUser('reader', 'r-secret', ['SELECT ON sakila.*']);
		assert.equal(reader.dsn('sakila'), `mysql://reader:r-secret@127.0.0.1:${m.port}/sakila`);
		const as = { user: 'reader', password: 'r-secret' };
		assert.deepEqual(await m.query('SELECT COUNT(*) FROM sakila.actor', as), [['200']]);
		await assert.rejects(m.query('SELECT COUNT(*) FROM ferry_types.parent', as), /denied/);
		await assert.rejects(m.query('FLUSH TABLES WITH READ LOCK', as), /denied/);
		await assert.rejects(m.query('SELECT 1', { user: 'reader', password: 'wrong' }), /Access denied/);
	});

	it('restarts gracefully on the same port and data, and recovers after kill()', async () => {
		const port = m.port;
		const before = await counts(m);
		const [[binlogBefore]] = await m.query('SHOW MASTER STATUS');

		await m.restart();
		assert.equal(m.port, port);
		assert.deepEqual(await counts(m), before);
		const [[binlogAfter]] = await m.query('SHOW MASTER STATUS', { user: m.user, password: m.password });
		assert.ok(binlogAfter > binlogBefore, `a restart starts a new binary log (${binlogBefore}, ${binlogAfter})`);

		await m.sql('INSERT INTO parent VALUES (4, \'committed before the kill\')', { db: 'ferry_types' });
		const pid = m.pid;
		await m.kill();
		assert.equal(m.running(), false);
		assert.throws(() => process.kill(pid, 0), /ESRCH/);
		await assert.rejects(m.sql('SELECT 1'), /Can't connect/);

		await m.restart();
		assert.deepEqual(await m.query('SELECT name FROM parent WHERE id = 4', { db: 'ferry_types' }),
			[['committed before the kill']]);
		assert.equal(Number((await m.query('SELECT COUNT(*) FROM sakila.film_actor'))[0][0]), 353);
	});
});

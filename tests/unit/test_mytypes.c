/* tests/unit/test_mytypes.c: MySQL and MariaDB types, defaults and values as PostgreSQL sees them (mytypes.h) */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mytypes.h"
#include "util.h"

/* A column as information_schema would describe it, unknown fields -1. */
static struct my_column col(const char *data_type, const char *column_type)
{
	struct my_column c;
	memset(&c, 0, sizeof(c));
	str_copy(c.name, sizeof(c.name), "c");
	str_copy(c.data_type, sizeof(c.data_type), data_type);
	str_copy(c.column_type, sizeof(c.column_type), column_type);
	c.nullable = true;
	c.char_length = -1;
	c.precision = -1;
	c.scale = -1;
	c.datetime_precision = -1;
	return c;
}

/* ---- the cast table ---- */

struct cast_case {
	const char *data_type;
	const char *column_type;
	long long char_length;
	int precision, scale, datetime_precision;
	bool json;
	const char *pgtype;
	enum my_conv conv;
	const char *warn; /* a part of the warning, NULL when there is none */
};

static const struct cast_case casts[] = {
	{ "tinyint", "tinyint(4)", -1, 3, 0, -1, false, "smallint", MC_TEXT, NULL },
	{ "tinyint", "tinyint", -1, 3, 0, -1, false, "smallint", MC_TEXT, NULL },
	{ "tinyint", "tinyint(3) unsigned", -1, 3, 0, -1, false, "smallint", MC_TEXT, NULL },
	{ "tinyint", "tinyint(1)", -1, 3, 0, -1, false, "boolean", MC_BOOL, NULL },
	{ "tinyint", "tinyint(1) unsigned", -1, 3, 0, -1, false, "smallint", MC_TEXT, NULL },
	{ "tinyint", "tinyint(1) zerofill", -1, 3, 0, -1, false, "smallint", MC_TEXT, NULL },
	{ "smallint", "smallint(6)", -1, 5, 0, -1, false, "smallint", MC_TEXT, NULL },
	{ "smallint", "smallint(5) unsigned", -1, 5, 0, -1, false, "integer", MC_TEXT, NULL },
	{ "mediumint", "mediumint(9)", -1, 7, 0, -1, false, "integer", MC_TEXT, NULL },
	{ "mediumint", "mediumint(8) unsigned", -1, 7, 0, -1, false, "integer", MC_TEXT, NULL },
	{ "int", "int(11)", -1, 10, 0, -1, false, "integer", MC_TEXT, NULL },
	{ "integer", "int", -1, 10, 0, -1, false, "integer", MC_TEXT, NULL },
	{ "int", "int(10) unsigned", -1, 10, 0, -1, false, "bigint", MC_TEXT, NULL },
	{ "int", "int(10) unsigned zerofill", -1, 10, 0, -1, false, "bigint", MC_TEXT, NULL },
	{ "bigint", "bigint(20)", -1, 19, 0, -1, false, "bigint", MC_TEXT, NULL },
	{ "bigint", "bigint(20) unsigned", -1, 20, 0, -1, false, "numeric(20,0)", MC_TEXT, NULL },
	{ "decimal", "decimal(10,2)", -1, 10, 2, -1, false, "numeric(10,2)", MC_TEXT, NULL },
	{ "decimal", "decimal(65,30)", -1, -1, -1, -1, false, "numeric(65,30)", MC_TEXT, NULL },
	{ "decimal", "decimal(5,0) unsigned", -1, 5, 0, -1, false, "numeric(5,0)", MC_TEXT, NULL },
	{ "numeric", "numeric(7,3)", -1, 7, 3, -1, false, "numeric(7,3)", MC_TEXT, NULL },
	{ "float", "float", -1, 12, -1, -1, false, "real", MC_TEXT, "single precision" },
	{ "float", "float(7,4) unsigned", -1, 7, 4, -1, false, "real", MC_TEXT, "about 6 digits" },
	{ "double", "double", -1, 22, -1, -1, false, "double precision", MC_TEXT, NULL },
	{ "double", "double(10,2)", -1, 10, 2, -1, false, "double precision", MC_TEXT, NULL },
	{ "real", "double", -1, 22, -1, -1, false, "double precision", MC_TEXT, NULL },
	{ "bit", "bit(1)", -1, 1, -1, -1, false, "bit(1)", MC_BIT, NULL },
	{ "bit", "bit(64)", -1, 64, -1, -1, false, "bit(64)", MC_BIT, NULL },
	{ "bit", "bit(5)", -1, -1, -1, -1, false, "bit(5)", MC_BIT, NULL },
	{ "char", "char(10)", 10, -1, -1, -1, false, "char(10)", MC_TEXT, NULL },
	{ "char", "char(3)", -1, -1, -1, -1, false, "char(3)", MC_TEXT, NULL },
	{ "char", "char(0)", 0, -1, -1, -1, false, "varchar(1)", MC_TEXT, NULL },
	{ "varchar", "varchar(255)", 255, -1, -1, -1, false, "varchar(255)", MC_TEXT, NULL },
	{ "varchar", "varchar(0)", 0, -1, -1, -1, false, "varchar(1)", MC_TEXT, NULL },
	{ "tinytext", "tinytext", 255, -1, -1, -1, false, "text", MC_TEXT, NULL },
	{ "text", "text", 65535, -1, -1, -1, false, "text", MC_TEXT, NULL },
	{ "mediumtext", "mediumtext", 16777215, -1, -1, -1, false, "text", MC_TEXT, NULL },
	{ "longtext", "longtext", 4294967295LL, -1, -1, -1, false, "text", MC_TEXT, NULL },
	{ "longtext", "longtext", 4294967295LL, -1, -1, -1, true, "jsonb", MC_JSON, NULL },
	{ "json", "json", -1, -1, -1, -1, false, "jsonb", MC_JSON, NULL },
	{ "json", "json", -1, -1, -1, -1, true, "jsonb", MC_JSON, NULL },
	{ "binary", "binary(16)", 16, -1, -1, -1, false, "bytea", MC_BYTEA, NULL },
	{ "varbinary", "varbinary(255)", 255, -1, -1, -1, false, "bytea", MC_BYTEA, NULL },
	{ "tinyblob", "tinyblob", 255, -1, -1, -1, false, "bytea", MC_BYTEA, NULL },
	{ "blob", "blob", 65535, -1, -1, -1, false, "bytea", MC_BYTEA, NULL },
	{ "mediumblob", "mediumblob", 16777215, -1, -1, -1, false, "bytea", MC_BYTEA, NULL },
	{ "longblob", "longblob", 4294967295LL, -1, -1, -1, false, "bytea", MC_BYTEA, NULL },
	{ "date", "date", -1, -1, -1, -1, false, "date", MC_DATE, NULL },
	{ "datetime", "datetime", -1, -1, -1, 0, false, "timestamp(0) without time zone", MC_DATETIME, NULL },
	{ "datetime", "datetime(6)", -1, -1, -1, 6, false, "timestamp(6) without time zone", MC_DATETIME, NULL },
	{ "datetime", "datetime(3)", -1, -1, -1, -1, false, "timestamp(3) without time zone", MC_DATETIME, NULL },
	{ "datetime", "datetime", -1, -1, -1, -1, false, "timestamp(0) without time zone", MC_DATETIME, NULL },
	{ "timestamp", "timestamp", -1, -1, -1, 0, false, "timestamp(0) with time zone", MC_DATETIME, NULL },
	{ "timestamp", "timestamp(6)", -1, -1, -1, 6, false, "timestamp(6) with time zone", MC_DATETIME, NULL },
	{ "time", "time", -1, -1, -1, 0, false, "time(0)", MC_TEXT, "-838:59:59..838:59:59" },
	{ "time", "time(3)", -1, -1, -1, 3, false, "time(3)", MC_TEXT, "cast to interval" },
	{ "year", "year(4)", -1, -1, -1, -1, false, "smallint", MC_TEXT, NULL },
	{ "year", "year", -1, -1, -1, -1, false, "smallint", MC_TEXT, NULL },
	{ "set", "set('a','b','c d')", 9, -1, -1, -1, false, "text[]", MC_SET, NULL },
	{ "point", "point", -1, -1, -1, -1, false, "point", MC_POINT, NULL },
	{ "geometry", "geometry", -1, -1, -1, -1, false, "text", MC_GEOMETRY, "geometry is stored as WKT text" },
	{ "linestring", "linestring", -1, -1, -1, -1, false, "text", MC_GEOMETRY, "linestring is stored as WKT" },
	{ "polygon", "polygon", -1, -1, -1, -1, false, "text", MC_GEOMETRY, "polygon is stored as WKT" },
	{ "multipoint", "multipoint", -1, -1, -1, -1, false, "text", MC_GEOMETRY, "WKT" },
	{ "multilinestring", "multilinestring", -1, -1, -1, -1, false, "text", MC_GEOMETRY, "WKT" },
	{ "multipolygon", "multipolygon", -1, -1, -1, -1, false, "text", MC_GEOMETRY, "WKT" },
	{ "geometrycollection", "geometrycollection", -1, -1, -1, -1, false, "text", MC_GEOMETRY, "WKT" },
	{ "geomcollection", "geomcollection", -1, -1, -1, -1, false, "text", MC_GEOMETRY, "WKT" },
	{ "inet6", "inet6", -1, -1, -1, -1, false, "text", MC_TEXT, "\"inet6\" is not known" },
	{ "vector", "vector(3)", -1, -1, -1, -1, false, "text", MC_TEXT, "vector(3)" },
};

static void test_cast_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(casts) / sizeof(casts[0]); i++) {
		const struct cast_case *k = &casts[i];
		struct my_column c = col(k->data_type, k->column_type);
		char pgtype[128], enum_type[64], warn[256];
		enum my_conv conv = (enum my_conv)-1;

		c.char_length = k->char_length;
		c.precision = k->precision;
		c.scale = k->scale;
		c.datetime_precision = k->datetime_precision;
		c.json = k->json;
		my_map_type(&c, "t", pgtype, sizeof(pgtype), &conv, enum_type, sizeof(enum_type),
			    warn, sizeof(warn));
		assert_string_equal(pgtype, k->pgtype);
		assert_int_equal(conv, k->conv);
		assert_string_equal(enum_type, "");
		if (k->warn) {
			assert_non_null(strstr(warn, k->warn));
			assert_null(strchr(warn, '\n'));
		} else {
			assert_string_equal(warn, "");
		}
	}
}

static void map_enum(const char *table, const char *column, char *pgtype, char *enum_type)
{
	struct my_column c = col("enum", "enum('a','b')");
	enum my_conv conv = MC_BYTEA;
	char warn[64] = "stale";

	str_copy(c.name, sizeof(c.name), column);
	my_map_type(&c, table, pgtype, 128, &conv, enum_type, 64, warn, sizeof(warn));
	assert_int_equal(conv, MC_ENUM);
	assert_string_equal(warn, "");
}

static void test_enum_type_name(void **state)
{
	(void)state;
	char pgtype[128], enum_type[64], table[128], column[64];

	map_enum("orders", "Status", pgtype, enum_type);
	assert_string_equal(pgtype, "orders_Status");
	assert_string_equal(enum_type, "orders_Status");

	/* 40 + 1 + 40 bytes: cut to 63 */
	memset(table, 't', 40);
	table[40] = '\0';
	memset(column, 'c', 40);
	column[40] = '\0';
	map_enum(table, column, pgtype, enum_type);
	assert_int_equal(strlen(enum_type), 63);
	assert_string_equal(pgtype, enum_type);
	assert_memory_equal(enum_type + 40, "_ccc", 4);

	/* a two-byte character over byte 63 goes whole */
	memset(table, 'a', 61);
	table[61] = '\0';
	map_enum(table, "\xc3\xa9", pgtype, enum_type);
	assert_int_equal(strlen(enum_type), 62);
	assert_int_equal(enum_type[61], '_');

	/* one that ends at byte 63 stays */
	table[60] = '\0';
	map_enum(table, "\xc3\xa9", pgtype, enum_type);
	assert_int_equal(strlen(enum_type), 63);
	assert_string_equal(enum_type + 61, "\xc3\xa9");
}

/* The warning and enum name outputs may be left out. */
static void test_map_type_without_outputs(void **state)
{
	(void)state;
	struct my_column c = col("float", "float");
	char pgtype[32];
	enum my_conv conv;
	my_map_type(&c, "t", pgtype, sizeof(pgtype), &conv, NULL, 0, NULL, 0);
	assert_string_equal(pgtype, "real");
}

/* ---- enum labels ---- */

static void test_enum_labels(void **state)
{
	(void)state;
	struct sb sb;
	sb_init(&sb);

	assert_true(my_enum_labels("enum('a','b''c','x\\\\y','d\"e')", &sb));
	assert_string_equal(sb.buf, "'a', 'b''c', 'x\\y', 'd\"e'");

	/* escapes MariaDB and MySQL print: \n \r \t \' and a comma or paren inside a label */
	sb_reset(&sb);
	assert_true(my_enum_labels("enum('l1\\nl2','it\\'s','a,b)','')", &sb));
	assert_string_equal(sb.buf, "'l1\nl2', 'it''s', 'a,b)', ''");

	/* appended after what out holds */
	sb_reset(&sb);
	sb_adds(&sb, "AS ENUM (");
	assert_true(my_enum_labels("ENUM('x')", &sb));
	assert_string_equal(sb.buf, "AS ENUM ('x'");

	/* not an enum, or not one MySQL would print: false, out as it was */
	sb_reset(&sb);
	sb_adds(&sb, "keep");
	assert_false(my_enum_labels("set('a','b')", &sb));
	assert_false(my_enum_labels("varchar(3)", &sb));
	assert_false(my_enum_labels("enum('a','b'", &sb));
	assert_false(my_enum_labels("enum('a',b)", &sb));
	assert_false(my_enum_labels("enum()", &sb));
	assert_false(my_enum_labels("enum('a') x", &sb));
	assert_string_equal(sb.buf, "keep");
	assert_int_equal(sb.len, 4);
	sb_release(&sb);
}

/* ---- defaults ---- */

static void check_default(bool mariadb, const char *extra, const char *dflt, const char *pgtype,
			  enum my_conv conv, const char *want, const char *warn_part)
{
	struct my_column c = col("x", "x");
	char warn[256] = "stale";
	char *got;

	c.mariadb = mariadb;
	c.default_value = dflt;
	str_copy(c.extra, sizeof(c.extra), extra);
	got = my_default_expr(&c, pgtype, conv, warn, sizeof(warn));
	if (want) {
		assert_non_null(got);
		assert_string_equal(got, want);
	} else {
		assert_null(got);
	}
	if (warn_part) {
		assert_non_null(strstr(warn, warn_part));
		assert_null(strchr(warn, '\n'));
	} else {
		assert_string_equal(warn, "");
	}
	free(got);
}

/* As MariaDB 10.11 prints COLUMN_DEFAULT (checked against a server). */
static void test_defaults_mariadb(void **state)
{
	(void)state;
	const bool M = true;

	check_default(M, "", NULL, "varchar(20)", MC_TEXT, NULL, NULL);
	check_default(M, "", "NULL", "varchar(20)", MC_TEXT, NULL, NULL);
	check_default(M, "", "'NULL'", "varchar(20)", MC_TEXT, "'NULL'", NULL);
	check_default(M, "", "''", "varchar(5)", MC_TEXT, "''", NULL);
	check_default(M, "", "'it''s'", "varchar(20)", MC_TEXT, "'it''s'", NULL);
	check_default(M, "", "'a\\\\b'", "varchar(20)", MC_TEXT, "'a\\b'", NULL);
	check_default(M, "", "'l1\\nl2'", "text", MC_TEXT, "'l1\nl2'", NULL);
	check_default(M, "", "'x\\0y'", "varchar(20)", MC_TEXT, NULL, "not carried over");
	check_default(M, "", "5", "integer", MC_TEXT, "5", NULL);
	check_default(M, "", "-1.50", "numeric(6,2)", MC_TEXT, "-1.50", NULL);
	check_default(M, "", "1e20", "real", MC_TEXT, "1e20", NULL);
	check_default(M, "", "0", "double precision", MC_TEXT, "0", NULL);
	check_default(M, "", "2020", "smallint", MC_TEXT, "2020", NULL);
	check_default(M, "", "18446744073709551615", "numeric(20,0)", MC_TEXT, "18446744073709551615", NULL);
	check_default(M, "", "5", "varchar(3)", MC_TEXT, "'5'", NULL);
	check_default(M, "", "1", "boolean", MC_BOOL, "true", NULL);
	check_default(M, "", "0", "boolean", MC_BOOL, "false", NULL);
	check_default(M, "", "2", "boolean", MC_BOOL, NULL, "default 2 is not carried over");
	check_default(M, "", "b'101'", "bit(3)", MC_BIT, "B'101'", NULL);
	check_default(M, "", "b'1'", "bit(8)", MC_BIT, "B'00000001'", NULL);
	check_default(M, "", "b'0'", "bit(1)", MC_BIT, "B'0'", NULL);
	check_default(M, "", "b'1111'", "bit(3)", MC_BIT, NULL, "not carried over");
	check_default(M, "", "current_timestamp(3)", "timestamp(3) without time zone", MC_DATETIME,
		      "now()", NULL);
	check_default(M, "on update current_timestamp()", "current_timestamp()",
		      "timestamp(0) with time zone", MC_DATETIME, "now()", NULL);
	check_default(M, "", "now()", "timestamp(0) without time zone", MC_DATETIME, "now()", NULL);
	check_default(M, "", "localtimestamp()", "timestamp(6) without time zone", MC_DATETIME, "now()",
		      NULL);
	check_default(M, "", "curdate()", "date", MC_DATE, "CURRENT_DATE", NULL);
	check_default(M, "", "current_timestamp()", "date", MC_DATE, "CURRENT_DATE", NULL);
	check_default(M, "", "curdate()", "timestamp(0) without time zone", MC_DATETIME, "CURRENT_DATE",
		      NULL);
	check_default(M, "", "current_timestamp()", "varchar(30)", MC_TEXT, NULL,
		      "default current_timestamp() is not carried over");
	check_default(M, "", "uuid()", "char(36)", MC_TEXT, NULL, "default uuid() is not carried over");
	check_default(M, "", "1+1", "integer", MC_TEXT, NULL, "default 1+1 is not carried over");
	check_default(M, "", "'b''c'", "t_p", MC_TEXT, "'b''c'", NULL);
	/* an enum named like a built-in type is still an enum */
	check_default(M, "", "'5'", "numeric_things_kind", MC_TEXT, "'5'", NULL);
	check_default(M, "", "'a,b'", "text[]", MC_SET, "'{a,b}'", NULL);
	check_default(M, "", "'c d,it''s'", "text[]", MC_SET, "'{\"c d\",it''s}'", NULL);
	check_default(M, "", "''", "text[]", MC_SET, "'{}'", NULL);
	check_default(M, "", "'0000-00-00'", "date", MC_DATE, NULL, "zero date");
	check_default(M, "", "'0000-00-00 00:00:00'", "timestamp(0) without time zone", MC_DATETIME,
		      NULL, "default '0000-00-00 00:00:00' is a zero date");
	check_default(M, "", "'2020-00-10'", "date", MC_DATE, NULL, "zero date");
	check_default(M, "", "'2020-01-02'", "date", MC_DATE, "'2020-01-02'", NULL);
	check_default(M, "", "'2020-01-01 00:00:00'", "timestamp(0) with time zone", MC_DATETIME,
		      "'2020-01-01 00:00:00+00'", NULL);
	check_default(M, "", "'2020-01-01 00:00:00.123'", "timestamp(3) without time zone", MC_DATETIME,
		      "'2020-01-01 00:00:00.123'", NULL);
	check_default(M, "", "'12:30:00'", "time(0)", MC_TEXT, "'12:30:00'", NULL);
	check_default(M, "", "'24:00:00.00'", "time(2)", MC_TEXT, "'24:00:00.00'", NULL);
	check_default(M, "", "'-838:59:59.00'", "time(2)", MC_TEXT, NULL, "outside a day");
	check_default(M, "", "'25:00:00'", "time(0)", MC_TEXT, NULL, "outside a day");
	check_default(M, "", "'[]'", "jsonb", MC_TEXT, "'[]'", NULL);
	check_default(M, "", "'ab'", "bytea", MC_BYTEA, "'\\x6162'", NULL);
	check_default(M, "", "'a\\0\\0'", "bytea", MC_BYTEA, "'\\x610000'", NULL);
	check_default(M, "", "'a' || 'b'", "text", MC_TEXT, NULL, "not carried over");
}

/* As MySQL 5.7 and 8.0 print COLUMN_DEFAULT: literals bare, expressions flagged in EXTRA. */
static void test_defaults_mysql(void **state)
{
	(void)state;
	const bool Y = false;
	const char *gen = "DEFAULT_GENERATED";

	check_default(Y, "", NULL, "varchar(20)", MC_TEXT, NULL, NULL);
	check_default(Y, "", "it's", "varchar(20)", MC_TEXT, "'it''s'", NULL);
	check_default(Y, "", "a\\b", "varchar(20)", MC_TEXT, "'a\\b'", NULL);
	check_default(Y, "", "NULL", "varchar(20)", MC_TEXT, "'NULL'", NULL);
	check_default(Y, "", "", "varchar(20)", MC_TEXT, "''", NULL);
	check_default(Y, "", "5", "integer", MC_TEXT, "5", NULL);
	check_default(Y, "", "-2.5e-3", "double precision", MC_TEXT, "-2.5e-3", NULL);
	check_default(Y, "", "abc", "integer", MC_TEXT, NULL, "default abc is not carried over");
	check_default(Y, "", "1", "boolean", MC_BOOL, "true", NULL);
	check_default(Y, "", "0", "boolean", MC_BOOL, "false", NULL);
	check_default(Y, "", "b'101'", "bit(3)", MC_BIT, "B'101'", NULL);
	check_default(Y, "", "b'0'", "bit(1)", MC_BIT, "B'0'", NULL);
	check_default(Y, "", "5", "bit(4)", MC_BIT, "B'0101'", NULL);
	check_default(Y, gen, "CURRENT_TIMESTAMP", "timestamp(0) with time zone", MC_DATETIME, "now()",
		      NULL);
	check_default(Y, "DEFAULT_GENERATED on update CURRENT_TIMESTAMP(6)", "CURRENT_TIMESTAMP(6)",
		      "timestamp(6) without time zone", MC_DATETIME, "now()", NULL);
	/* 5.7: no DEFAULT_GENERATED */
	check_default(Y, "on update CURRENT_TIMESTAMP", "CURRENT_TIMESTAMP", "timestamp(0) with time zone",
		      MC_DATETIME, "now()", NULL);
	check_default(Y, gen, "curdate()", "date", MC_DATE, "CURRENT_DATE", NULL);
	check_default(Y, gen, "(curdate())", "date", MC_DATE, "CURRENT_DATE", NULL);
	check_default(Y, gen, "(now())", "timestamp(0) without time zone", MC_DATETIME, "now()", NULL);
	check_default(Y, gen, "uuid()", "char(36)", MC_TEXT, NULL, "default uuid() is not carried over");
	check_default(Y, gen, "(rand() * rand())", "double precision", MC_TEXT, NULL, "not carried over");
	check_default(Y, gen, "_utf8mb4\\'[]\\'", "jsonb", MC_TEXT, NULL, "not carried over");
	/* without the flag, on a text column, it is the string */
	check_default(Y, "", "CURRENT_TIMESTAMP", "varchar(20)", MC_TEXT, "'CURRENT_TIMESTAMP'", NULL);
	check_default(Y, "", "a,b", "text[]", MC_SET, "'{a,b}'", NULL);
	check_default(Y, "", "NULL", "text[]", MC_SET, "'{\"NULL\"}'", NULL);
	check_default(Y, "", "b", "t_p", MC_TEXT, "'b'", NULL);
	check_default(Y, "", "0000-00-00 00:00:00", "timestamp(0) without time zone", MC_DATETIME, NULL,
		      "zero date");
	check_default(Y, "", "0000-00-00", "date", MC_DATE, NULL, "zero date");
	check_default(Y, "", "2021-06-01 10:00:00", "timestamp(0) with time zone", MC_DATETIME,
		      "'2021-06-01 10:00:00+00'", NULL);
	check_default(Y, "", "0x616263", "bytea", MC_BYTEA, "'\\x616263'", NULL);
	check_default(Y, "", "0x0AFF", "bytea", MC_BYTEA, "'\\x0aff'", NULL);
	check_default(Y, "", "10:00:00", "time(0)", MC_TEXT, "'10:00:00'", NULL);
	check_default(Y, "", "2020", "smallint", MC_TEXT, "2020", NULL);
}

/* ---- select expressions and conversion names ---- */

static void test_select_expr(void **state)
{
	(void)state;
	struct sb sb;
	sb_init(&sb);
	my_select_expr("`b`", MC_BIT, 5, &sb);
	assert_string_equal(sb.buf, "LPAD(BIN(`b`), 5, '0')");
	sb_reset(&sb);
	my_select_expr("`p`", MC_POINT, 0, &sb);
	assert_string_equal(sb.buf, "CONCAT('(', ST_X(`p`), ',', ST_Y(`p`), ')')");
	sb_reset(&sb);
	my_select_expr("`g`", MC_GEOMETRY, 0, &sb);
	assert_string_equal(sb.buf, "ST_AsText(`g`)");
	for (int conv = MC_TEXT; conv <= MC_GEOMETRY; conv++) {
		if (conv == MC_BIT || conv == MC_POINT || conv == MC_GEOMETRY)
			continue;
		sb_reset(&sb);
		my_select_expr("`a``b`", (enum my_conv)conv, 0, &sb);
		assert_string_equal(sb.buf, "`a``b`");
	}
	sb_release(&sb);
}

static void test_conv_names(void **state)
{
	(void)state;
	static const char *const names[] = {
		"text", "bytea", "bit", "bool", "set", "date", "datetime", "point", "geometry",
	};
	for (int conv = MC_TEXT; conv <= MC_GEOMETRY; conv++) {
		assert_string_equal(my_conv_name((enum my_conv)conv), names[conv]);
		assert_int_equal(my_conv_parse(names[conv]), conv);
	}
	assert_int_equal(my_conv_parse("nonsense"), MC_TEXT);
	assert_int_equal(my_conv_parse(""), MC_TEXT);
}

/* ---- values ---- */

static const struct my_value_rules strict = { false, false };
static const struct my_value_rules lenient = { true, true };

/* Encode and compare; counts and why are checked by the callers that care. */
static void check_encode(const char *val, size_t len, enum my_conv conv, const char *want, size_t want_len)
{
	struct sb sb;
	struct my_value_counts counts = { 0, 0 };
	char why[128] = "stale";

	sb_init(&sb);
	assert_true(my_encode_value(&sb, val, len, conv, &strict, &counts, why, sizeof(why)));
	assert_int_equal(sb.len, want_len);
	assert_memory_equal(sb.buf, want, want_len);
	assert_int_equal(sb.buf[sb.len], '\0');
	assert_string_equal(why, "");
	assert_int_equal(counts.zero_dates, 0);
	assert_int_equal(counts.nuls, 0);
	sb_release(&sb);
}

#define ENC(val, conv, want) check_encode(val, sizeof(val) - 1, conv, want, sizeof(want) - 1)

static void test_encode_null(void **state)
{
	(void)state;
	for (int conv = MC_TEXT; conv <= MC_GEOMETRY; conv++)
		check_encode(NULL, 0, (enum my_conv)conv, "\\N", 2);
}

static void test_encode_text_escapes(void **state)
{
	(void)state;
	ENC("abc", MC_TEXT, "abc");
	ENC("", MC_TEXT, "");
	ENC("a\\b\tc\nd\re", MC_TEXT, "a\\\\b\\tc\\nd\\re");
	ENC("\\\\", MC_TEXT, "\\\\\\\\");
	ENC("\t", MC_TEXT, "\\t");
	ENC("\\N", MC_TEXT, "\\\\N");
	ENC("\\.", MC_TEXT, "\\\\.");
	/* other bytes as they are */
	ENC("\x01\x1a\x7f\b\f\v\"'\xc3\xa9", MC_TEXT, "\x01\x1a\x7f\b\f\v\"'\xc3\xa9");
	/* the other text-like conversions escape alike */
	ENC("0101", MC_BIT, "0101");
	ENC("(1.5,-2)", MC_POINT, "(1.5,-2)");
	ENC("POLYGON((0 0,1 0,1 1,0 0))", MC_GEOMETRY, "POLYGON((0 0,1 0,1 1,0 0))");
	ENC("12:00:00", MC_TEXT, "12:00:00");
}

/* The same rules written plainly, to compare long values with. */
static void reference_text(struct sb *out, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		switch (s[i]) {
		case '\\': sb_adds(out, "\\\\"); break;
		case '\t': sb_adds(out, "\\t"); break;
		case '\n': sb_adds(out, "\\n"); break;
		case '\r': sb_adds(out, "\\r"); break;
		default: sb_addc(out, s[i]); break;
		}
	}
}

static void test_encode_long_values(void **state)
{
	(void)state;
	size_t n = 100003;
	char *val = malloc(n);
	struct sb got, want;

	assert_non_null(val);
	srand(7);
	for (size_t i = 0; i < n; i++) {
		int r = rand() % 100;
		val[i] = r < 3 ? "\\\t\n\r"[r] : (char)(1 + rand() % 255);
	}
	sb_init(&got);
	sb_init(&want);
	sb_adds(&got, "x\t");
	sb_adds(&want, "x\t");
	assert_true(my_encode_value(&got, val, n, MC_TEXT, &strict, NULL, NULL, 0));
	reference_text(&want, val, n);
	assert_int_equal(got.len, want.len);
	assert_memory_equal(got.buf, want.buf, want.len);

	/* bytea over several internal chunks */
	sb_reset(&got);
	sb_reset(&want);
	assert_true(my_encode_value(&got, val, n, MC_BYTEA, &strict, NULL, NULL, 0));
	sb_adds(&want, "\\\\x");
	for (size_t i = 0; i < n; i++)
		sb_addf(&want, "%02x", (unsigned char)val[i]);
	assert_int_equal(got.len, 3 + 2 * n);
	assert_memory_equal(got.buf, want.buf, want.len);
	sb_release(&got);
	sb_release(&want);
	free(val);
}

static void test_encode_bytea(void **state)
{
	(void)state;
	ENC("\n\xff", MC_BYTEA, "\\\\x0aff");
	ENC("", MC_BYTEA, "\\\\x");
	ENC("AZ\\", MC_BYTEA, "\\\\x415a5c");
	/* NUL is a byte like any other: allowed and not counted even under strict rules */
	ENC("\0a\0", MC_BYTEA, "\\\\x006100");
}

static void test_encode_bool(void **state)
{
	(void)state;
	struct sb sb;
	char why[128];

	ENC("0", MC_BOOL, "f");
	ENC("1", MC_BOOL, "t");
	sb_init(&sb);
	assert_false(my_encode_value(&sb, "2", 1, MC_BOOL, &strict, NULL, why, sizeof(why)));
	assert_string_equal(why, "value 2 out of range for boolean (tinyint(1))");
	assert_false(my_encode_value(&sb, "-1", 2, MC_BOOL, &lenient, NULL, why, sizeof(why)));
	assert_string_equal(why, "value -1 out of range for boolean (tinyint(1))");
	assert_false(my_encode_value(&sb, "10", 2, MC_BOOL, &strict, NULL, why, sizeof(why)));
	assert_false(my_encode_value(&sb, "", 0, MC_BOOL, &strict, NULL, why, sizeof(why)));
	assert_int_equal(sb.len, 0);
	sb_release(&sb);
}

static void test_encode_set(void **state)
{
	(void)state;
	ENC("", MC_SET, "{}");
	ENC("a", MC_SET, "{a}");
	ENC("a,b", MC_SET, "{a,b}");
	ENC("c d,a", MC_SET, "{\"c d\",a}");
	/* " is \" in the array literal; that backslash is \\ in COPY text */
	ENC("x\"y", MC_SET, "{\"x\\\\\"y\"}");
	/* \ is \\ in the array literal and \\\\ in COPY text */
	ENC("a\\b", MC_SET, "{\"a\\\\\\\\b\"}");
	/* a tab is quoted for the array and escaped for COPY */
	ENC("a\tb", MC_SET, "{\"a\\tb\"}");
	ENC("l1\nl2", MC_SET, "{\"l1\\nl2\"}");
	ENC("{x},y", MC_SET, "{\"{x}\",y}");
	ENC("NULL,null,Null2", MC_SET, "{\"NULL\",\"null\",Null2}");
	/* an empty member */
	ENC("a,", MC_SET, "{a,\"\"}");
	ENC("\xc3\xa9t\xc3\xa9", MC_SET, "{\xc3\xa9t\xc3\xa9}");
}

static void test_encode_dates(void **state)
{
	(void)state;
	static const char *const zero[] = {
		"0000-00-00", "0000-00-00 00:00:00", "0000-00-00 00:00:00.000000",
		"2020-00-15", "2020-05-00", "0000-01-01", "2020-00-00 12:00:00",
	};
	struct sb sb;
	char why[128];

	ENC("2020-01-15", MC_DATE, "2020-01-15");
	ENC("2020-01-15 10:20:30.123456", MC_DATETIME, "2020-01-15 10:20:30.123456");
	ENC("1000-01-01 00:00:00", MC_DATETIME, "1000-01-01 00:00:00");
	/* a zero date in a text column is text */
	ENC("0000-00-00", MC_TEXT, "0000-00-00");

	sb_init(&sb);
	for (size_t i = 0; i < sizeof(zero) / sizeof(zero[0]); i++) {
		struct my_value_counts counts = { 0, 0 };
		enum my_conv conv = strlen(zero[i]) > 10 ? MC_DATETIME : MC_DATE;

		sb_reset(&sb);
		assert_true(my_encode_value(&sb, zero[i], strlen(zero[i]), conv, &lenient, &counts,
					    why, sizeof(why)));
		assert_string_equal(sb.buf, "\\N");
		assert_int_equal(counts.zero_dates, 1);
		assert_int_equal(counts.nuls, 0);

		sb_reset(&sb);
		counts.zero_dates = 0;
		assert_false(my_encode_value(&sb, zero[i], strlen(zero[i]), conv, &strict, &counts,
					     why, sizeof(why)));
		assert_true(!strncmp(why, "zero date ", 10));
		assert_string_equal(why + 10, zero[i]);
		assert_int_equal(sb.len, 0);
		assert_int_equal(counts.zero_dates, 0);
	}
	sb_release(&sb);
}

static void test_encode_nul(void **state)
{
	(void)state;
	struct sb sb;
	struct my_value_counts counts = { 0, 0 };
	char why[128];

	sb_init(&sb);
	assert_true(my_encode_value(&sb, "a\0b", 3, MC_TEXT, &lenient, &counts, why, sizeof(why)));
	assert_int_equal(sb.len, 2);
	assert_string_equal(sb.buf, "ab");
	assert_int_equal(counts.nuls, 1);

	/* counted once per value, however many there are */
	sb_reset(&sb);
	assert_true(my_encode_value(&sb, "\0\\\0\t\0", 5, MC_TEXT, &lenient, &counts, why, sizeof(why)));
	assert_string_equal(sb.buf, "\\\\\\t");
	assert_int_equal(counts.nuls, 2);

	sb_reset(&sb);
	assert_true(my_encode_value(&sb, "a\0,b", 4, MC_SET, &lenient, &counts, why, sizeof(why)));
	assert_string_equal(sb.buf, "{a,b}");
	assert_int_equal(counts.nuls, 3);
	assert_int_equal(counts.zero_dates, 0);

	sb_reset(&sb);
	assert_false(my_encode_value(&sb, "a\0b", 3, MC_TEXT, &strict, &counts, why, sizeof(why)));
	assert_string_equal(why, "NUL character");
	assert_int_equal(counts.nuls, 3);
	assert_false(my_encode_value(&sb, "\0", 1, MC_GEOMETRY, &strict, &counts, why, sizeof(why)));
	assert_false(my_encode_value(&sb, "a,\0", 3, MC_SET, &strict, &counts, why, sizeof(why)));
	assert_false(my_encode_value(&sb, "a\0b", 3, MC_TEXT, NULL, NULL, why, sizeof(why)));
	assert_int_equal(sb.len, 0);
	sb_release(&sb);
}

/* An ENUM's '' error value goes as the zero dates do; JSON's \u0000 as NUL characters do. */
static void test_encode_enum_and_json(void **state)
{
	(void)state;
	struct sb sb;
	struct my_value_counts counts = { 0, 0 };
	char why[128];

	sb_init(&sb);
	assert_true(my_encode_value(&sb, "large", 5, MC_ENUM, &strict, &counts, why, sizeof(why)));
	assert_string_equal(sb.buf, "large");
	sb_reset(&sb);
	assert_false(my_encode_value(&sb, "", 0, MC_ENUM, &strict, &counts, why, sizeof(why)));
	assert_string_equal(why, "the empty error value '' of an ENUM");
	assert_int_equal(sb.len, 0);
	assert_true(my_encode_value(&sb, "", 0, MC_ENUM, &lenient, &counts, why, sizeof(why)));
	assert_string_equal(sb.buf, "\\N");
	assert_int_equal(counts.zero_dates, 1);

	/* an escaped backslash before u0000 is text, not a NUL */
	sb_reset(&sb);
	const char *fine = "{\"a\": \"x\\\\u0000\"}";
	assert_true(my_encode_value(&sb, fine, strlen(fine), MC_JSON, &strict, &counts, why, sizeof(why)));
	assert_int_equal(counts.nuls, 0);
	sb_reset(&sb);
	const char *nul = "{\"a\": \"x\\u0000y\\u0000\"}";
	assert_false(my_encode_value(&sb, nul, strlen(nul), MC_JSON, &strict, &counts, why, sizeof(why)));
	assert_non_null(strstr(why, "NUL character"));
	assert_int_equal(sb.len, 0);
	assert_true(my_encode_value(&sb, nul, strlen(nul), MC_JSON, &lenient, &counts, why, sizeof(why)));
	/* both escapes gone; the COPY text doubles the remaining backslashes */
	assert_string_equal(sb.buf, "{\"a\": \"xy\"}");
	assert_int_equal(counts.nuls, 1);
	sb_release(&sb);
}

/* A value that cannot be written leaves out (and the counts) as they were. */
static void test_encode_failure_leaves_out(void **state)
{
	(void)state;
	struct {
		const char *val;
		size_t len;
		enum my_conv conv;
		const char *why;
	} fails[] = {
		{ "2", 1, MC_BOOL, "value 2 out of range for boolean (tinyint(1))" },
		{ "0000-00-00", 10, MC_DATE, "zero date 0000-00-00" },
		{ "2020-00-00 00:00:00", 19, MC_DATETIME, "zero date 2020-00-00 00:00:00" },
		{ "long\\\t\ntext\0", 12, MC_TEXT, "NUL character" },
		{ "a,\"b\0\"", 6, MC_SET, "NUL character" },
	};
	struct sb sb;
	struct my_value_counts counts = { 5, 6 };
	char why[128];

	sb_init(&sb);
	sb_adds(&sb, "1\tabc\t");
	for (size_t i = 0; i < sizeof(fails) / sizeof(fails[0]); i++) {
		char *buf = sb.buf;
		size_t alloc = sb.alloc;

		assert_false(my_encode_value(&sb, fails[i].val, fails[i].len, fails[i].conv, &strict,
					     &counts, why, sizeof(why)));
		assert_string_equal(why, fails[i].why);
		assert_int_equal(sb.len, 6);
		assert_string_equal(sb.buf, "1\tabc\t");
		assert_ptr_equal(sb.buf, buf);
		assert_int_equal(sb.alloc, alloc);
		assert_int_equal(counts.zero_dates, 5);
		assert_int_equal(counts.nuls, 6);
	}
	/* and the next value goes on after it */
	assert_true(my_encode_value(&sb, "ok", 2, MC_TEXT, &strict, &counts, why, sizeof(why)));
	assert_string_equal(sb.buf, "1\tabc\tok");
	/* a small why buffer is cut, not overrun; none at all is allowed */
	assert_false(my_encode_value(&sb, "7", 1, MC_BOOL, &strict, &counts, why, 6));
	assert_string_equal(why, "value");
	assert_false(my_encode_value(&sb, "7", 1, MC_BOOL, &strict, &counts, NULL, 0));
	assert_string_equal(sb.buf, "1\tabc\tok");
	sb_release(&sb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cast_table),
		cmocka_unit_test(test_enum_type_name),
		cmocka_unit_test(test_map_type_without_outputs),
		cmocka_unit_test(test_enum_labels),
		cmocka_unit_test(test_defaults_mariadb),
		cmocka_unit_test(test_defaults_mysql),
		cmocka_unit_test(test_select_expr),
		cmocka_unit_test(test_conv_names),
		cmocka_unit_test(test_encode_null),
		cmocka_unit_test(test_encode_text_escapes),
		cmocka_unit_test(test_encode_long_values),
		cmocka_unit_test(test_encode_bytea),
		cmocka_unit_test(test_encode_bool),
		cmocka_unit_test(test_encode_set),
		cmocka_unit_test(test_encode_dates),
		cmocka_unit_test(test_encode_nul),
		cmocka_unit_test(test_encode_enum_and_json),
		cmocka_unit_test(test_encode_failure_leaves_out),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

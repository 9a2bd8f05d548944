/* core/connectors/mysql/mytypes.c: MySQL and MariaDB column types as PostgreSQL types, their defaults, and their values as COPY text */
#include "mytypes.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util.h"
#include "banned.h"

/* PostgreSQL identifiers (and so enum type names) hold at most NAMEDATALEN - 1 bytes. */
#define PG_NAME_MAX 63

static void put(char *dst, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* printf into a caller's fixed buffer; a NULL or empty buffer is skipped. */
static void put(char *dst, size_t n, const char *fmt, ...)
{
	va_list ap;
	if (!dst || !n)
		return;
	va_start(ap, fmt);
	vsnprintf(dst, n, fmt, ap);
	va_end(ap);
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* ---- types ---- */

enum type_kind {
	TK_FIXED,     /* pg (or pg_unsigned when COLUMN_TYPE says unsigned) */
	TK_DECIMAL,   /* numeric(p,s) */
	TK_BIT,       /* bit(n) */
	TK_CHAR,      /* pg(n); a zero length becomes varchar(1) */
	TK_TEXT,      /* text, or jsonb for a column flagged json */
	TK_PRECISION, /* pg(p) then suffix: the fractional digits are always written */
	TK_ENUM,      /* a created enum type named after the table and column */
	TK_GEOMETRY,  /* text holding WKT */
};

struct type_map {
	const char *mysql; /* DATA_TYPE */
	enum type_kind kind;
	const char *pg;
	const char *pg_unsigned; /* TK_FIXED: the type for unsigned columns; NULL: pg */
	const char *suffix;      /* TK_PRECISION: written after "(p)" */
	enum my_conv conv;
	const char *warn;
};

static const char warn_float[] = "float is single precision: real keeps about 6 digits";
static const char warn_time[] = "time ranges over -838:59:59..838:59:59: values outside a day fail; "
				"cast to interval to keep them";

/* The cast table; tinyint(1) is picked out before it is read (see my_map_type). */
static const struct type_map type_maps[] = {
	{ "tinyint", TK_FIXED, "smallint", NULL, NULL, MC_TEXT, NULL },
	{ "smallint", TK_FIXED, "smallint", "integer", NULL, MC_TEXT, NULL },
	{ "mediumint", TK_FIXED, "integer", NULL, NULL, MC_TEXT, NULL },
	{ "int", TK_FIXED, "integer", "bigint", NULL, MC_TEXT, NULL },
	{ "integer", TK_FIXED, "integer", "bigint", NULL, MC_TEXT, NULL },
	{ "bigint", TK_FIXED, "bigint", "numeric(20,0)", NULL, MC_TEXT, NULL },
	{ "decimal", TK_DECIMAL, "numeric", NULL, NULL, MC_TEXT, NULL },
	{ "numeric", TK_DECIMAL, "numeric", NULL, NULL, MC_TEXT, NULL },
	{ "float", TK_FIXED, "real", NULL, NULL, MC_TEXT, warn_float },
	{ "double", TK_FIXED, "double precision", NULL, NULL, MC_TEXT, NULL },
	{ "double precision", TK_FIXED, "double precision", NULL, NULL, MC_TEXT, NULL },
	{ "real", TK_FIXED, "double precision", NULL, NULL, MC_TEXT, NULL },
	{ "bit", TK_BIT, "bit", NULL, NULL, MC_BIT, NULL },
	{ "char", TK_CHAR, "char", NULL, NULL, MC_TEXT, NULL },
	{ "varchar", TK_CHAR, "varchar", NULL, NULL, MC_TEXT, NULL },
	{ "tinytext", TK_TEXT, "text", NULL, NULL, MC_TEXT, NULL },
	{ "text", TK_TEXT, "text", NULL, NULL, MC_TEXT, NULL },
	{ "mediumtext", TK_TEXT, "text", NULL, NULL, MC_TEXT, NULL },
	{ "longtext", TK_TEXT, "text", NULL, NULL, MC_TEXT, NULL },
	{ "json", TK_FIXED, "jsonb", NULL, NULL, MC_JSON, NULL },
	{ "binary", TK_FIXED, "bytea", NULL, NULL, MC_BYTEA, NULL },
	{ "varbinary", TK_FIXED, "bytea", NULL, NULL, MC_BYTEA, NULL },
	{ "tinyblob", TK_FIXED, "bytea", NULL, NULL, MC_BYTEA, NULL },
	{ "blob", TK_FIXED, "bytea", NULL, NULL, MC_BYTEA, NULL },
	{ "mediumblob", TK_FIXED, "bytea", NULL, NULL, MC_BYTEA, NULL },
	{ "longblob", TK_FIXED, "bytea", NULL, NULL, MC_BYTEA, NULL },
	{ "date", TK_FIXED, "date", NULL, NULL, MC_DATE, NULL },
	{ "datetime", TK_PRECISION, "timestamp", NULL, " without time zone", MC_DATETIME, NULL },
	/* the connection runs with time_zone '+00:00', so values are UTC */
	{ "timestamp", TK_PRECISION, "timestamp", NULL, " with time zone", MC_DATETIME, NULL },
	{ "time", TK_PRECISION, "time", NULL, "", MC_TEXT, warn_time },
	{ "year", TK_FIXED, "smallint", NULL, NULL, MC_TEXT, NULL },
	{ "enum", TK_ENUM, NULL, NULL, NULL, MC_TEXT, NULL },
	{ "set", TK_FIXED, "text[]", NULL, NULL, MC_SET, NULL },
	{ "point", TK_FIXED, "point", NULL, NULL, MC_POINT, NULL },
	{ "geometry", TK_GEOMETRY, "text", NULL, NULL, MC_GEOMETRY, NULL },
	{ "linestring", TK_GEOMETRY, "text", NULL, NULL, MC_GEOMETRY, NULL },
	{ "polygon", TK_GEOMETRY, "text", NULL, NULL, MC_GEOMETRY, NULL },
	{ "multipoint", TK_GEOMETRY, "text", NULL, NULL, MC_GEOMETRY, NULL },
	{ "multilinestring", TK_GEOMETRY, "text", NULL, NULL, MC_GEOMETRY, NULL },
	{ "multipolygon", TK_GEOMETRY, "text", NULL, NULL, MC_GEOMETRY, NULL },
	{ "geometrycollection", TK_GEOMETRY, "text", NULL, NULL, MC_GEOMETRY, NULL },
	{ "geomcollection", TK_GEOMETRY, "text", NULL, NULL, MC_GEOMETRY, NULL }, /* MySQL 8 spelling */
};

static const struct type_map *type_map_find(const char *data_type)
{
	for (size_t i = 0; i < sizeof(type_maps) / sizeof(type_maps[0]); i++)
		if (!strcasecmp(type_maps[i].mysql, data_type))
			return &type_maps[i];
	return NULL;
}

/*
 * The numbers in the first parentheses of a COLUMN_TYPE: "decimal(10,2)"
 * gives 10 and 2. Returns how many were read (0, 1 or 2).
 */
static int type_args(const char *column_type, long *a, long *b)
{
	const char *p = strchr(column_type, '(');
	char *end;
	if (!p || !is_digit(p[1]))
		return 0;
	*a = strtol(p + 1, &end, 10);
	if (*end != ',' || !is_digit(end[1]))
		return 1;
	*b = strtol(end + 1, &end, 10);
	return 2;
}

/* A field of information_schema when it is known, else the first argument of COLUMN_TYPE, else dflt. */
static long type_arg(long field, const char *column_type, long dflt)
{
	long a, b;
	if (field >= 0)
		return field;
	if (type_args(column_type, &a, &b) >= 1)
		return a;
	return dflt;
}

/*
 * "<table>_<column>" cut to PG_NAME_MAX bytes at a character boundary (as
 * PostgreSQL itself cuts a long multibyte identifier), so that the name the
 * caller creates is the name PostgreSQL keeps.
 */
static void enum_type_name(const char *table, const char *column, char *out, size_t n)
{
	char *name = xasprintf("%s_%s", table, column);
	size_t len = strlen(name);
	if (len > PG_NAME_MAX) {
		len = PG_NAME_MAX;
		while (len > 0 && ((unsigned char)name[len] & 0xC0) == 0x80)
			len--;
		name[len] = '\0';
	}
	put(out, n, "%s", name);
	free(name);
}

void my_map_type(const struct my_column *c, const char *table, char *pgtype, size_t n,
		 enum my_conv *conv, char *enum_type, size_t en, char *warn, size_t wn)
{
	const struct type_map *m = type_map_find(c->data_type);
	bool is_unsigned = strcasestr(c->column_type, "unsigned") != NULL;
	long a, b;

	put(enum_type, en, "%s", "");
	put(warn, wn, "%s", "");
	if (!strcasecmp(c->data_type, "tinyint") && !strcasecmp(c->column_type, "tinyint(1)")) {
		put(pgtype, n, "boolean");
		*conv = MC_BOOL;
		return;
	}
	if (!m) {
		put(pgtype, n, "text");
		*conv = MC_TEXT;
		put(warn, wn, "type \"%s\" is not known: stored as text",
		    *c->column_type ? c->column_type : c->data_type);
		return;
	}
	*conv = m->conv;
	if (m->warn)
		put(warn, wn, "%s", m->warn);
	switch (m->kind) {
	case TK_FIXED:
		put(pgtype, n, "%s", is_unsigned && m->pg_unsigned ? m->pg_unsigned : m->pg);
		break;
	case TK_DECIMAL:
		if (c->precision >= 0)
			put(pgtype, n, "numeric(%d,%d)", c->precision, c->scale >= 0 ? c->scale : 0);
		else if (type_args(c->column_type, &a, &b) == 2)
			put(pgtype, n, "numeric(%ld,%ld)", a, b);
		else if (type_args(c->column_type, &a, &b) == 1)
			put(pgtype, n, "numeric(%ld,0)", a);
		else
			put(pgtype, n, "numeric");
		break;
	case TK_BIT:
		/* COLUMN_TYPE first: NUMERIC_PRECISION holds the width too, but not on every server */
		if (type_args(c->column_type, &a, &b) < 1 || a < 1)
			a = c->precision > 0 ? c->precision : 1;
		put(pgtype, n, "bit(%ld)", a);
		break;
	case TK_CHAR:
		a = (long)c->char_length;
		if (a < 0 && type_args(c->column_type, &a, &b) < 1)
			a = -1;
		if (a < 0)
			put(pgtype, n, "text");
		else if (a == 0) /* char(0) holds '' or NULL; PostgreSQL has no zero length */
			put(pgtype, n, "varchar(1)");
		else
			put(pgtype, n, "%s(%ld)", m->pg, a);
		break;
	case TK_TEXT:
		put(pgtype, n, "%s", c->json ? "jsonb" : "text");
		if (c->json)
			*conv = MC_JSON;
		break;
	case TK_PRECISION:
		a = type_arg(c->datetime_precision, c->column_type, 0);
		put(pgtype, n, "%s(%ld)%s", m->pg, a, m->suffix);
		break;
	case TK_ENUM: {
		char name[PG_NAME_MAX + 1];
		enum_type_name(table, c->name, name, sizeof(name));
		put(pgtype, n, "%s", name);
		put(enum_type, en, "%s", name);
		*conv = MC_ENUM;
		break;
	}
	case TK_GEOMETRY:
		put(pgtype, n, "text");
		put(warn, wn, "%s is stored as WKT text", m->mysql);
		break;
	}
}

/* ---- MySQL string literals ---- */

/*
 * Read the quoted MySQL string at p (p[0] is a quote) as the server reads
 * it: '' and backslash escapes, which both servers print in COLUMN_TYPE and
 * MariaDB prints in COLUMN_DEFAULT ('a\\b', 'l1\nl2', 'a\0'). The value is
 * appended to out; returns the byte after the closing quote, or NULL when
 * the string does not end.
 */
static const char *mysql_unquote(const char *p, struct sb *out)
{
	for (p++; *p; p++) {
		if (*p == '\'') {
			if (p[1] != '\'')
				return p + 1;
			sb_addc(out, '\'');
			p++;
		} else if (*p == '\\' && p[1]) {
			p++;
			switch (*p) {
			case '0': sb_addc(out, '\0'); break;
			case 'n': sb_addc(out, '\n'); break;
			case 'r': sb_addc(out, '\r'); break;
			case 't': sb_addc(out, '\t'); break;
			case 'b': sb_addc(out, '\b'); break;
			case 'Z': sb_addc(out, '\032'); break;
			case '%':
			case '_': /* kept with their backslash, as MySQL does */
				sb_addc(out, '\\');
				sb_addc(out, *p);
				break;
			default: sb_addc(out, *p); break;
			}
		} else {
			sb_addc(out, *p);
		}
	}
	return NULL;
}

/*
 * Append s as a PostgreSQL standard string literal: quotes doubled,
 * backslashes as they are. A NUL cannot be in a PostgreSQL string and is
 * left out.
 */
static void pg_quote(struct sb *out, const char *s, size_t n)
{
	size_t run = 0;
	sb_addc(out, '\'');
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '\'' && s[i] != '\0')
			continue;
		sb_add(out, s + run, i - run);
		if (s[i] == '\'')
			sb_add(out, "''", 2);
		run = i + 1;
	}
	sb_add(out, s + run, n - run);
	sb_addc(out, '\'');
}

bool my_enum_labels(const char *column_type, struct sb *out)
{
	size_t start = out->len;
	struct sb label;
	const char *p;

	if (strncasecmp(column_type, "enum(", 5))
		return false;
	sb_init(&label);
	for (p = column_type + 5; *p == '\''; p++) {
		sb_reset(&label);
		p = mysql_unquote(p, &label);
		if (!p)
			break;
		if (out->len > start)
			sb_add(out, ", ", 2);
		pg_quote(out, label.buf, label.len);
		if (*p == ')' && !p[1]) {
			sb_release(&label);
			return true;
		}
		if (*p != ',')
			break;
	}
	/* not the list MySQL prints: leave out as it was */
	sb_release(&label);
	out->len = start;
	if (out->alloc)
		out->buf[start] = '\0';
	return false;
}

/* ---- COPY text ---- */

/* After a backslash in COPY text: the escape letter; 1 marks a NUL (dropped); 0 copies the byte. */
static const unsigned char copy_escape[256] = {
	['\0'] = 1, ['\t'] = 't', ['\n'] = 'n', ['\r'] = 'r', ['\\'] = '\\',
};

/* Append s in COPY text format, NUL bytes left out (the caller has decided they may go). */
static void copy_text(struct sb *out, const char *s, size_t n)
{
	size_t run = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char e = copy_escape[(unsigned char)s[i]];
		if (!e)
			continue;
		sb_add(out, s + run, i - run);
		if (e != 1) {
			char esc[2] = { '\\', (char)e };
			sb_add(out, esc, 2);
		}
		run = i + 1;
	}
	sb_add(out, s + run, n - run);
}

/* Two lower-case hex digits a byte. */
static void add_hex(struct sb *out, const unsigned char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	char chunk[4096];
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		chunk[k++] = hex[s[i] >> 4];
		chunk[k++] = hex[s[i] & 15];
		if (k == sizeof(chunk)) {
			sb_add(out, chunk, k);
			k = 0;
		}
	}
	sb_add(out, chunk, k);
}

/* bytea hex format with its backslash escaped for COPY: \\x then the digits. */
static void copy_bytea(struct sb *out, const unsigned char *s, size_t n)
{
	sb_add(out, "\\\\x", 3);
	add_hex(out, s, n);
}

/* Bytes that make an array member need double quotes (array_in's delimiters and spaces). */
static const unsigned char array_special[256] = {
	['{'] = 1, ['}'] = 1, ['"'] = 1, [','] = 1, ['\\'] = 1,
	[' '] = 1, ['\t'] = 1, ['\n'] = 1, ['\r'] = 1, ['\v'] = 1, ['\f'] = 1,
};

static bool member_needs_quotes(const char *s, size_t n)
{
	if (n == 0 || (n == 4 && !strncasecmp(s, "NULL", 4)))
		return true;
	for (size_t i = 0; i < n; i++)
		if (array_special[(unsigned char)s[i]])
			return true;
	return false;
}

static void add_piece(struct sb *out, const char *s, size_t n, bool copy)
{
	if (copy)
		copy_text(out, s, n);
	else
		sb_add(out, s, n);
}

/* One array member, double-quoted with \ and " escaped when it needs it. */
static void add_set_member(struct sb *out, const char *s, size_t n, bool copy)
{
	size_t run = 0;
	if (!member_needs_quotes(s, n)) {
		add_piece(out, s, n, copy);
		return;
	}
	add_piece(out, "\"", 1, copy);
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '\\' && s[i] != '"')
			continue;
		add_piece(out, s + run, i - run, copy);
		add_piece(out, "\\", 1, copy);
		run = i; /* the byte itself starts the next run */
	}
	add_piece(out, s + run, n - run, copy);
	add_piece(out, "\"", 1, copy);
}

/*
 * A SET value "a,b" as the array literal {a,b}; with copy, COPY escaping
 * is applied on top (a backslash of the literal becomes \\).
 */
static void set_literal(struct sb *out, const char *s, size_t n, bool copy)
{
	size_t from = 0;
	sb_addc(out, '{');
	if (n) {
		for (size_t i = 0; i <= n; i++) {
			if (i < n && s[i] != ',')
				continue;
			if (from)
				sb_addc(out, ',');
			add_set_member(out, s + from, i - from, copy);
			from = i + 1;
		}
	}
	sb_addc(out, '}');
}

/* A date (or the date part of a datetime) with a zero year, month or day: PostgreSQL has none of them. */
static bool is_zero_date(const char *s, size_t n)
{
	if (n < 10 || s[4] != '-' || s[7] != '-')
		return false;
	return !memcmp(s, "0000", 4) || !memcmp(s + 5, "00", 2) || !memcmp(s + 8, "00", 2);
}

/* How much of a value a reason quotes. */
static int shown(size_t len)
{
	return len > 40 ? 40 : (int)len;
}

/* Where the JSON text s[0..n) holds the escape \u0000 (not an escaped backslash before "u0000"), or NULL. */
static const char *json_nul(const char *s, size_t n)
{
	for (size_t i = 0; i + 1 < n; i++) {
		if (s[i] != '\\')
			continue;
		if (s[i + 1] == 'u' && i + 6 <= n && !memcmp(s + i + 2, "0000", 4))
			return s + i;
		i++; /* the escaped character */
	}
	return NULL;
}

bool my_encode_value(struct sb *out, const char *val, size_t len, enum my_conv conv,
		     const struct my_value_rules *rules, struct my_value_counts *counts,
		     char *why, size_t wn)
{
	bool has_nul;

	if (why && wn)
		why[0] = '\0'; /* not put(): this runs for every value */
	if (!val) {
		sb_add(out, "\\N", 2);
		return true;
	}
	if (conv == MC_BYTEA) {
		copy_bytea(out, (const unsigned char *)val, len);
		return true;
	}

	/* every check that can fail comes before the first byte is written, so out stays as it was */
	has_nul = memchr(val, '\0', len) != NULL;
	if (has_nul && !(rules && rules->nul_strip)) {
		put(why, wn, "NUL character");
		return false;
	}
	switch (conv) {
	case MC_BOOL:
		if (len != 1 || (val[0] != '0' && val[0] != '1')) {
			put(why, wn, "value %.*s out of range for boolean (tinyint(1))", shown(len), val);
			return false;
		}
		sb_addc(out, val[0] == '1' ? 't' : 'f');
		return true;
	case MC_ENUM:
		if (len)
			break;
		if (!(rules && rules->zero_dates_null)) {
			put(why, wn, "the empty error value '' of an ENUM");
			return false;
		}
		if (counts)
			counts->zero_dates++;
		sb_add(out, "\\N", 2);
		return true;
	case MC_JSON: {
		const char *nul = json_nul(val, len);
		if (!nul)
			break;
		if (!(rules && rules->nul_strip)) {
			put(why, wn, "NUL character (\\u0000 in JSON, which jsonb cannot hold)");
			return false;
		}
		if (counts)
			counts->nuls++;
		size_t at = 0;
		while (nul) {
			copy_text(out, val + at, (size_t)(nul - (val + at)));
			at = (size_t)(nul - val) + 6;
			nul = json_nul(val + at, len - at);
		}
		copy_text(out, val + at, len - at);
		return true;
	}
	case MC_DATE:
	case MC_DATETIME:
		if (!is_zero_date(val, len))
			break;
		if (!(rules && rules->zero_dates_null)) {
			put(why, wn, "zero date %.*s", shown(len), val);
			return false;
		}
		if (counts)
			counts->zero_dates++;
		sb_add(out, "\\N", 2);
		return true;
	default:
		break;
	}
	if (has_nul && counts)
		counts->nuls++;
	if (conv == MC_SET)
		set_literal(out, val, len, true);
	else
		copy_text(out, val, len);
	return true;
}

/* ---- select expressions and conversion names ---- */

void my_select_expr(const char *quoted, enum my_conv conv, int bit_width, struct sb *out)
{
	switch (conv) {
	case MC_BIT:
		sb_addf(out, "LPAD(BIN(%s), %d, '0')", quoted, bit_width > 0 ? bit_width : 1);
		break;
	case MC_POINT:
		sb_addf(out, "CONCAT('(', ST_X(%s), ',', ST_Y(%s), ')')", quoted, quoted);
		break;
	case MC_GEOMETRY:
		sb_addf(out, "ST_AsText(%s)", quoted);
		break;
	default:
		sb_adds(out, quoted);
		break;
	}
}

static const char *const conv_names[] = {
	[MC_TEXT] = "text",
	[MC_BYTEA] = "bytea",
	[MC_BIT] = "bit",
	[MC_BOOL] = "bool",
	[MC_SET] = "set",
	[MC_DATE] = "date",
	[MC_DATETIME] = "datetime",
	[MC_POINT] = "point",
	[MC_GEOMETRY] = "geometry",
	[MC_ENUM] = "enum",
	[MC_JSON] = "json",
};

const char *my_conv_name(enum my_conv conv)
{
	if ((size_t)conv >= sizeof(conv_names) / sizeof(conv_names[0]))
		return "text";
	return conv_names[conv];
}

enum my_conv my_conv_parse(const char *name)
{
	for (size_t i = 0; i < sizeof(conv_names) / sizeof(conv_names[0]); i++)
		if (name && !strcmp(conv_names[i], name))
			return (enum my_conv)i;
	return MC_TEXT;
}

/* ---- defaults ---- */

/* A number as both servers print one: -1.50, 1e20, 0. */
static bool is_number(const char *s)
{
	bool digits = false;
	if (*s == '-' || *s == '+')
		s++;
	for (; is_digit(*s); s++)
		digits = true;
	if (*s == '.')
		for (s++; is_digit(*s); s++)
			digits = true;
	if (!digits)
		return false;
	if (*s == 'e' || *s == 'E') {
		s++;
		if (*s == '-' || *s == '+')
			s++;
		if (!is_digit(*s))
			return false;
		while (is_digit(*s))
			s++;
	}
	return *s == '\0';
}

/* s is name, name() or name(digits), case-insensitively. */
static bool is_call(const char *s, const char *name)
{
	size_t n = strlen(name);
	if (strncasecmp(s, name, n))
		return false;
	s += n;
	if (!*s)
		return true;
	if (*s++ != '(')
		return false;
	while (is_digit(*s))
		s++;
	return s[0] == ')' && !s[1];
}

static bool is_now(const char *e)
{
	return is_call(e, "current_timestamp") || is_call(e, "now") ||
	       is_call(e, "localtimestamp") || is_call(e, "localtime");
}

static bool is_curdate(const char *e)
{
	return !strcasecmp(e, "curdate()") || !strcasecmp(e, "current_date") ||
	       !strcasecmp(e, "current_date()");
}

/*
 * pgtype is the built-in type base, with or without a modifier: "numeric",
 * "numeric(10,2)". A created enum's name ("numeric_things_kind") is not.
 */
static bool type_is(const char *pgtype, const char *base)
{
	size_t n = strlen(base);
	return !strncmp(pgtype, base, n) && (pgtype[n] == '\0' || pgtype[n] == '(');
}

static bool is_numeric_type(const char *pgtype)
{
	return type_is(pgtype, "smallint") || type_is(pgtype, "integer") ||
	       type_is(pgtype, "bigint") || type_is(pgtype, "numeric") ||
	       type_is(pgtype, "real") || type_is(pgtype, "double precision");
}

/* A time PostgreSQL's time holds: 00:00:00 up to 24:00:00 (MySQL's reach -838:59:59..838:59:59). */
static bool time_in_day(const char *s)
{
	char *end;
	long h;
	if (!is_digit(*s))
		return false;
	h = strtol(s, &end, 10);
	if (h < 24)
		return true;
	if (h > 24)
		return false;
	for (; *end; end++)
		if (is_digit(*end) && *end != '0')
			return false;
	return true;
}

/*
 * The digits of a bit default (b'101', B'101' or a decimal number) into
 * out, zero-padded to width (0: as they are; PostgreSQL's bit(n) wants
 * exactly n digits, MySQL prints b'1' for a bit(8)). False when it is
 * neither or is wider than width.
 */
static bool bit_digits(const char *s, long width, struct sb *out)
{
	char tmp[72];
	size_t n = 0;

	if ((s[0] == 'b' || s[0] == 'B') && s[1] == '\'') {
		for (s += 2; *s == '0' || *s == '1'; s++) {
			if (n == 0 && *s == '0')
				continue; /* leading zeros: the width puts them back */
			if (n == sizeof(tmp))
				return false;
			tmp[n++] = *s;
		}
		if (s[0] != '\'' || s[1])
			return false;
	} else if (is_digit(*s)) {
		char *end;
		unsigned long long v = strtoull(s, &end, 10);
		if (*end)
			return false;
		for (int i = 63; i >= 0; i--)
			if (n || (v >> i & 1))
				tmp[n++] = (char)('0' + (v >> i & 1));
	} else {
		return false;
	}
	if (width > 0 && (long)n > width)
		return false;
	for (long i = (long)n; i < width || (i == 0 && !n); i++)
		sb_addc(out, '0');
	sb_add(out, tmp, n);
	return true;
}

/* An expression default: the current time and date are carried, nothing else. */
static char *default_of_expr(const char *d, const char *pgtype, enum my_conv conv, char *warn, size_t wn)
{
	size_t n = strlen(d);
	/* MySQL 8 may print an expression default in parentheses: (now()) */
	char *e = n >= 2 && d[0] == '(' && d[n - 1] == ')' ? xstrndup(d + 1, n - 2) : xstrdup(d);
	bool is_ts = conv == MC_DATETIME || type_is(pgtype, "timestamp");
	bool is_date = conv == MC_DATE || type_is(pgtype, "date");
	const char *pg = NULL;

	if (is_now(e) && is_ts)
		pg = "now()";
	else if ((is_now(e) || is_curdate(e)) && (is_date || is_ts))
		pg = "CURRENT_DATE";
	free(e);
	if (pg)
		return xstrdup(pg);
	put(warn, wn, "default %s is not carried over", d);
	return NULL;
}

/*
 * The default of the literal value v (n bytes, unquoted already) as
 * printed by the server in d. bare: it was printed without quotes (a
 * MariaDB number or bit literal, or any MySQL literal).
 */
static char *default_of_value(const char *d, const char *v, size_t n, bool bare,
			      const char *pgtype, enum my_conv conv, char *warn, size_t wn)
{
	struct sb out;
	const char *open;

	sb_init(&out);
	/* MariaDB's \0: only bytea holds it; no PostgreSQL string does */
	if (conv != MC_BYTEA && memchr(v, '\0', n))
		goto no;
	switch (conv) {
	case MC_BOOL:
		if (strcmp(v, "0") && strcmp(v, "1"))
			goto no;
		return xstrdup(v[0] == '1' ? "true" : "false");
	case MC_BIT:
		open = strchr(pgtype, '(');
		sb_add(&out, "B'", 2);
		if (!bit_digits(v, open ? strtol(open + 1, NULL, 10) : 0, &out))
			goto no;
		sb_addc(&out, '\'');
		return sb_detach(&out);
	case MC_SET: {
		struct sb lit;
		sb_init(&lit);
		set_literal(&lit, v, n, false);
		pg_quote(&out, lit.buf, lit.len);
		sb_release(&lit);
		return sb_detach(&out);
	}
	case MC_BYTEA:
		sb_add(&out, "'\\x", 3);
		/* MySQL 8 prints a binary default as 0x and hex digits */
		if (bare && n > 2 && v[0] == '0' && (v[1] == 'x' || v[1] == 'X') &&
		    strspn(v + 2, "0123456789abcdefABCDEF") == n - 2) {
			for (size_t i = 2; i < n; i++)
				sb_addc(&out, (char)(v[i] >= 'A' && v[i] <= 'F' ? v[i] + 'a' - 'A' : v[i]));
		} else {
			add_hex(&out, (const unsigned char *)v, n);
		}
		sb_addc(&out, '\'');
		return sb_detach(&out);
	case MC_DATE:
	case MC_DATETIME:
		if (is_zero_date(v, n)) {
			put(warn, wn, "default %s is a zero date: not carried over", d);
			return NULL;
		}
		pg_quote(&out, v, n);
		if (strstr(pgtype, "with time zone")) {
			/* printed in the connection's time zone, +00:00 */
			out.len--;
			sb_add(&out, "+00'", 4);
		}
		return sb_detach(&out);
	default:
		break;
	}
	if (is_numeric_type(pgtype)) {
		if (!is_number(v))
			goto no;
		return xstrdup(v);
	}
	if (type_is(pgtype, "time") && !time_in_day(v)) {
		put(warn, wn, "default %s is outside a day: not carried over", d);
		return NULL;
	}
	pg_quote(&out, v, n);
	return sb_detach(&out);
no:
	sb_release(&out);
	put(warn, wn, "default %s is not carried over", d);
	return NULL;
}

/*
 * MariaDB (10.2.7 on) prints literals quoted as MySQL writes them ('it''s',
 * 'a\\b'), NULL as the word, numbers and bit literals bare, and
 * expressions as written (current_timestamp(), uuid()).
 */
static char *mariadb_default(const char *d, const char *pgtype, enum my_conv conv, char *warn, size_t wn)
{
	struct sb v;
	const char *end;
	char *ret;

	if (!strcasecmp(d, "NULL"))
		return NULL;
	if (d[0] != '\'') {
		if (is_number(d) || (conv == MC_BIT && (d[0] == 'b' || d[0] == 'B') && d[1] == '\'') ||
		    (conv == MC_BYTEA && d[0] == '0' && (d[1] == 'x' || d[1] == 'X')))
			return default_of_value(d, d, strlen(d), true, pgtype, conv, warn, wn);
		return default_of_expr(d, pgtype, conv, warn, wn);
	}
	sb_init(&v);
	end = mysql_unquote(d, &v);
	if (end && !*end)
		ret = default_of_value(d, v.buf, v.len, false, pgtype, conv, warn, wn);
	else /* 'a' || 'b' and the like */
		ret = default_of_expr(d, pgtype, conv, warn, wn);
	sb_release(&v);
	return ret;
}

char *my_default_expr(const struct my_column *c, const char *pgtype, enum my_conv conv,
		      char *warn, size_t wn)
{
	const char *d = c->default_value;

	put(warn, wn, "%s", "");
	if (!d)
		return NULL;
	if (c->mariadb)
		return mariadb_default(d, pgtype, conv, warn, wn);
	/*
	 * MySQL prints literals bare and flags expressions DEFAULT_GENERATED
	 * in EXTRA (8.0); before 8.0, CURRENT_TIMESTAMP on a datetime or
	 * timestamp is the only expression and carries no flag.
	 */
	if (strcasestr(c->extra, "DEFAULT_GENERATED") ||
	    ((conv == MC_DATE || conv == MC_DATETIME) && (is_now(d) || is_curdate(d))))
		return default_of_expr(d, pgtype, conv, warn, wn);
	return default_of_value(d, d, strlen(d), true, pgtype, conv, warn, wn);
}

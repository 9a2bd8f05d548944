/* core/connectors/mysql/plan.c: MySQL and MariaDB tables described into ferry's table model: columns, keys, indexes, foreign keys, enum types, warnings */
#include "mysource.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "job.h"
#include "model.h"
#include "planner.h"
#include "strategy.h"
#include "util.h"
#include "banned.h"

#define MY(s) ((struct my_source *)(s))
#define PG_NAME_MAX 63

/* A PostgreSQL identifier, double-quoted (new string). */
static char *pq(const char *name)
{
	struct sb out;
	sb_init(&out);
	sb_addc(&out, '"');
	for (const char *p = name; *p; p++) {
		if (*p == '"')
			sb_addc(&out, '"');
		sb_addc(&out, *p);
	}
	sb_addc(&out, '"');
	return sb_detach(&out);
}

static char *pq2(const char *schema, const char *name)
{
	char *a = pq(schema), *b = pq(name);
	char *out = xasprintf("%s.%s", a, b);
	free(a);
	free(b);
	return out;
}

/* A PostgreSQL string literal (new string). */
static char *pl(const char *value)
{
	struct sb out;
	sb_init(&out);
	sb_addc(&out, '\'');
	for (const char *p = value; *p; p++) {
		if (*p == '\'')
			sb_addc(&out, '\'');
		sb_addc(&out, *p);
	}
	sb_addc(&out, '\'');
	return sb_detach(&out);
}

static void warn_table(struct my_source *s, const char *label, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Keep a warning about one table for the plan's assessment. */
static void warn_table(struct my_source *s, const char *label, const char *fmt, ...)
{
	char buf[1200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (!s->warnings)
		s->warnings = json_object();
	json_t *arr = json_object_get(s->warnings, label);
	if (!arr) {
		arr = json_array();
		json_object_set_new(s->warnings, label, arr);
	}
	json_array_append_new(arr, json_string(buf));
}

static void warn_plan(struct plan *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void warn_plan(struct plan *p, const char *fmt, ...)
{
	char buf[1200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (!p->warnings)
		p->warnings = json_array();
	json_array_append_new(p->warnings, json_string(buf));
}

bool my_plan_begin(struct source *src, struct err *e)
{
	MYSQL *m = my_conn(src, e);
	return m && my_exec(m, "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY", e);
}

/* The plan's schemas as a list of literals for IN (…). */
static char *schema_list(struct source *src, const struct plan *p)
{
	struct sb out;
	sb_init(&out);
	for (int i = 0; i < p->n; i++) {
		bool seen = false;
		for (int k = 0; k < i && !seen; k++)
			seen = !strcmp(p->t[k].st.src.schema, p->t[i].st.src.schema);
		if (seen)
			continue;
		char *lit = my_literal(src, p->t[i].st.src.schema);
		sb_addf(&out, "%s%s", out.len ? ", " : "", lit);
		free(lit);
	}
	return sb_detach(&out);
}

/* The index of the plan's table schema.name, or -1. */
static int find_table(const struct plan *p, const char *schema, const char *name)
{
	for (int i = 0; i < p->n; i++)
		if (!strcmp(p->t[i].st.src.schema, schema) && !strcmp(p->t[i].st.src.name, name))
			return i;
	return -1;
}

/* The column of def read from source column name, or NULL. */
static struct tdef_column *source_column(struct tdef *def, const char *name)
{
	for (int i = 0; i < def->ncols; i++)
		if (!strcmp(def->cols[i].source, name))
			return &def->cols[i];
	return NULL;
}

/* Select the tables; warn about the views, sequences and other kinds the globs match. */
static bool select_tables(struct source *src, MYSQL *m, const struct job *job, json_t *requested,
			  struct plan *p, struct err *e)
{
	MYSQL_RES *res = my_query(m,
		"SELECT TABLE_SCHEMA, TABLE_NAME, COALESCE(TABLE_ROWS, 0), COALESCE(DATA_LENGTH, 0), TABLE_TYPE, "
		"COALESCE(TABLE_COMMENT, ''), COALESCE(ENGINE, '') FROM information_schema.TABLES "
		"WHERE TABLE_SCHEMA NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys') "
		"ORDER BY COALESCE(DATA_LENGTH, 0) DESC, TABLE_SCHEMA, TABLE_NAME", e);
	if (!res)
		return false;
	size_t nreq = json_array_size(requested);
	bool *used = xcalloc(nreq + 1, sizeof(bool));
	struct sb views;
	sb_init(&views);
	MYSQL_ROW row;
	while ((row = mysql_fetch_row(res))) {
		if (!job_selects(job, row[0], row[1]))
			continue;
		if (strcmp(row[4], "BASE TABLE") && strcmp(row[4], "SYSTEM VERSIONED")) {
			sb_addf(&views, "%s%s.%s (%s)", views.len ? ", " : "", row[0], row[1], row[4]);
			continue;
		}
		bool wanted = !requested;
		for (size_t i = 0; i < nreq; i++) {
			struct qualname r;
			if (qualname_parse(json_string_value(json_array_get(requested, i)), false, &r, "", NULL) &&
			    !strcmp(r.schema, row[0]) && !strcmp(r.name, row[1]))
				wanted = used[i] = true;
		}
		if (!wanted)
			continue;
		struct plan_table *t = plan_add(p);
		str_copy(t->st.src.schema, sizeof(t->st.src.schema), row[0]);
		str_copy(t->st.src.name, sizeof(t->st.src.name), row[1]);
		t->st.rows_estimate = atoll(row[2]);
		t->st.bytes_estimate = atoll(row[3]);
		src_table_target(job, &t->st);
		str_copy(t->mode, sizeof(t->mode), job_table_mode(job, row[0], row[1]));
		t->leaf = true;
		if (*row[5])
			t->def.comment = xstrdup(row[5]);
		if (strcmp(row[6], "InnoDB") && *row[6])
			warn_table(MY(src), t->st.src_label,
				   "table uses the %s engine, which has no transactions: it is not read at the run's consistent point",
				   row[6]);
	}
	mysql_free_result(res);
	if (views.len)
		warn_plan(p, "not carried over (ferry copies tables): %s", views.buf);
	sb_release(&views);
	bool found = !requested || src_tables_found(requested, used, e);
	free(used);
	return found;
}

/* Is column `name` of table schema.name a JSON column (MariaDB: CHECK (json_valid(`name`)))? */
static bool json_check(json_t *checks, const char *schema, const char *table, const char *col)
{
	char key[800];
	snprintf(key, sizeof(key), "%s.%s.%s", schema, table, col);
	return json_object_get(checks, key) != NULL;
}

/* MariaDB's JSON columns: a CHECK (json_valid(`col`)) named after the column. */
static json_t *json_columns(MYSQL *m, bool mariadb, const char *schemas, struct err *e)
{
	json_t *out = json_object();
	if (!mariadb)
		return out;
	char *sql = xasprintf("SELECT CONSTRAINT_SCHEMA, TABLE_NAME, CONSTRAINT_NAME, CHECK_CLAUSE FROM "
			      "information_schema.CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA IN (%s)",
			      schemas);
	struct err ignored;
	MYSQL_RES *res = my_query(m, sql, &ignored);
	free(sql);
	(void)e;
	MYSQL_ROW row;
	while (res && (row = mysql_fetch_row(res))) {
		char *want = xasprintf("json_valid(`%s`)", row[2]);
		if (!strcmp(row[3], want)) {
			char key[800];
			snprintf(key, sizeof(key), "%s.%s.%s", row[0], row[1], row[2]);
			json_object_set_new(out, key, json_true());
		}
		free(want);
	}
	mysql_free_result(res);
	return out;
}

/* Types: the enum types the tables need, kept until types() asks. */
static void add_enum(struct plan *p, const char *schema, const char *name, const char *labels)
{
	char *q = pq2(schema, name);
	size_t i;
	json_t *ty;
	json_array_foreach(p->types, i, ty) {
		if (!strcmp(json_string_value(json_object_get(ty, "name")), q)) {
			free(q);
			return;
		}
	}
	char *ddl = xasprintf("CREATE TYPE %s AS ENUM (%s)", q, labels);
	json_array_append_new(p->types, json_pack("{s:s,s:s,s:s,s:n,s:s}", "name", q, "schema", schema,
						  "ddl", ddl, "extension", "type", q));
	free(ddl);
	free(q);
}

/* One column of a COLUMNS row, as the table model holds it. */
static void add_column(struct my_source *s, struct plan *p, struct plan_table *t, MYSQL_ROW row,
		       json_t *checks)
{
	struct my_column mc;
	memset(&mc, 0, sizeof(mc));
	str_copy(mc.name, sizeof(mc.name), row[2]);
	str_copy(mc.data_type, sizeof(mc.data_type), row[3]);
	for (char *c = mc.data_type; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	str_copy(mc.column_type, sizeof(mc.column_type), row[4]);
	str_copy(mc.charset, sizeof(mc.charset), row[5]);
	str_copy(mc.extra, sizeof(mc.extra), row[6] ? row[6] : "");
	mc.default_value = row[7];
	mc.nullable = !strcmp(row[8], "YES");
	mc.char_length = row[9] ? atoll(row[9]) : -1;
	mc.precision = row[10] ? atoi(row[10]) : -1;
	mc.scale = row[11] ? atoi(row[11]) : -1;
	mc.datetime_precision = row[12] ? atoi(row[12]) : -1;
	mc.mariadb = s->mariadb;
	mc.json = !strcmp(mc.data_type, "json") || json_check(checks, row[0], row[1], row[2]);
	char pgtype[256], enum_type[64], warn[300], dwarn[300];
	enum my_conv conv;
	*warn = *dwarn = '\0';
	my_map_type(&mc, t->st.dst.name, pgtype, sizeof(pgtype), &conv, enum_type, sizeof(enum_type),
		    warn, sizeof(warn));
	struct tdef_column *c = tdef_add_column(&t->def);
	str_copy(c->source, sizeof(c->source), mc.name);
	str_copy(c->target, sizeof(c->target), mc.name);
	if (*enum_type) {
		struct sb labels;
		sb_init(&labels);
		my_enum_labels(mc.column_type, &labels);
		add_enum(p, t->st.dst.schema, enum_type, labels.buf);
		sb_release(&labels);
		char *q = pq2(t->st.dst.schema, enum_type);
		str_copy(c->type, sizeof(c->type), q);
		free(q);
	} else {
		str_copy(c->type, sizeof(c->type), pgtype);
	}
	str_copy(c->conv, sizeof(c->conv), conv == MC_TEXT ? "" : my_conv_name(conv));
	char *quoted = my_ident(&s->base, mc.name);
	struct sb sel;
	sb_init(&sel);
	int width = 0;
	if (conv == MC_BIT)
		sscanf(mc.column_type, "bit(%d)", &width);
	my_select_expr(quoted, conv, width, &sel);
	c->select = sb_detach(&sel);
	free(quoted);
	c->notnull = !mc.nullable;
	if (strstr(mc.extra, "auto_increment"))
		c->identity = 'd';
	else
		c->default_expr = my_default_expr(&mc, c->type, conv, dwarn, sizeof(dwarn));
	if (row[13] && *row[13])
		c->comment = xstrdup(row[13]);
	const char *label = t->st.src_label;
	if (*warn)
		warn_table(s, label, "column \"%s\" (%s → %s): %s", mc.name, mc.column_type, c->type, warn);
	if (*dwarn)
		warn_table(s, label, "column \"%s\": %s", mc.name, dwarn);
	if (strstr(mc.extra, "on update"))
		warn_table(s, label, "column \"%s\" is ON UPDATE CURRENT_TIMESTAMP in the source: PostgreSQL has no such clause, so updates on the target do not change it (a trigger would)",
			   mc.name);
	if (strstr(mc.extra, "GENERATED"))
		warn_table(s, label, "column \"%s\" is generated in the source (%s): its values are copied into a plain column",
			   mc.name, row[14] ? row[14] : "");
}

/* Read every selected table's columns, in one query. */
static bool read_columns(struct my_source *s, MYSQL *m, struct plan *p, const char *schemas,
			 struct err *e)
{
	json_t *checks = json_columns(m, s->mariadb, schemas, e);
	char *sql = xasprintf("SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, "
			      "COALESCE(CHARACTER_SET_NAME, ''), EXTRA, COLUMN_DEFAULT, IS_NULLABLE, "
			      "CHARACTER_MAXIMUM_LENGTH, NUMERIC_PRECISION, NUMERIC_SCALE, DATETIME_PRECISION, "
			      "COLUMN_COMMENT, GENERATION_EXPRESSION FROM information_schema.COLUMNS "
			      "WHERE TABLE_SCHEMA IN (%s) ORDER BY TABLE_SCHEMA, TABLE_NAME, ORDINAL_POSITION",
			      schemas);
	MYSQL_RES *res = my_query(m, sql, e);
	free(sql);
	if (!res) {
		json_decref(checks);
		return false;
	}
	MYSQL_ROW row;
	while ((row = mysql_fetch_row(res))) {
		int i = find_table(p, row[0], row[1]);
		if (i >= 0)
			add_column(s, p, &p->t[i], row, checks);
	}
	mysql_free_result(res);
	json_decref(checks);
	return true;
}

/* A bad option, phrased as the PostgreSQL source phrases it. */
static bool option_error(const struct plan_table *t, const char *option, const char *column,
			 const char *what, char *error, size_t n)
{
	char *msg = xasprintf("table %s, %s \"%s\": %s", t->st.src_label, option, column, what);
	str_copy(error, n, msg);
	free(msg);
	return false;
}

/* The PostgreSQL type of a result column (for an expression). */
static const char *field_type(const MYSQL_FIELD *f)
{
	bool uns = f->flags & UNSIGNED_FLAG;
	switch (f->type) {
	case MYSQL_TYPE_TINY:
	case MYSQL_TYPE_SHORT:
		return uns && f->type == MYSQL_TYPE_SHORT ? "integer" : "smallint";
	case MYSQL_TYPE_INT24:
		return "integer";
	case MYSQL_TYPE_LONG:
		return uns ? "bigint" : "integer";
	case MYSQL_TYPE_LONGLONG:
		return uns ? "numeric(20,0)" : "bigint";
	case MYSQL_TYPE_DECIMAL:
	case MYSQL_TYPE_NEWDECIMAL:
		return "numeric";
	case MYSQL_TYPE_FLOAT:
		return "real";
	case MYSQL_TYPE_DOUBLE:
		return "double precision";
	case MYSQL_TYPE_DATE:
	case MYSQL_TYPE_NEWDATE:
		return "date";
	case MYSQL_TYPE_DATETIME:
		return "timestamp";
	case MYSQL_TYPE_TIMESTAMP:
		return "timestamp with time zone";
	case MYSQL_TYPE_TIME:
		return "time";
	case MYSQL_TYPE_YEAR:
		return "smallint";
	case MYSQL_TYPE_JSON:
		return "jsonb";
	case MYSQL_TYPE_BIT:
		return "bit varying";
	default:
		return f->charsetnr == 63 ? "bytea" : "text";
	}
}

/* drop_columns, columns (renames), casts and expressions of one table; false with error filled. */
static bool apply_options(struct my_source *s, MYSQL *m, struct plan_table *t, const struct job_table *opts)
{
	struct tdef *def = &t->def;
	char *err = t->error;
	size_t en = sizeof(t->error);
	json_t *drops = opts ? opts->drop_columns : NULL;
	json_t *renames = opts ? opts->columns : NULL;
	size_t i;
	json_t *v;
	const char *k;
	json_array_foreach(drops, i, v) {
		if (!source_column(def, json_string_value(v)))
			return option_error(t, "drop_columns", json_string_value(v), "no such column on the source", err, en);
	}
	json_object_foreach(renames, k, v) {
		if (!source_column(def, k))
			return option_error(t, "columns", k, "no such column on the source", err, en);
	}
	int kept = 0;
	for (int c = 0; c < def->ncols; c++) {
		struct tdef_column *col = &def->cols[c];
		bool dropped = false;
		json_array_foreach(drops, i, v)
			dropped = dropped || !strcmp(json_string_value(v), col->source);
		if (dropped) {
			free(col->select);
			free(col->default_expr);
			free(col->comment);
			continue;
		}
		const char *to = json_string_value(json_object_get(renames, col->source));
		if (to)
			str_copy(col->target, sizeof(col->target), to);
		def->cols[kept++] = *col;
	}
	def->ncols = kept;
	json_object_foreach(opts ? opts->casts : NULL, k, v) {
		struct tdef_column *col = NULL;
		for (int c = 0; c < def->ncols; c++)
			if (!strcmp(def->cols[c].target, k))
				col = &def->cols[c];
		if (!col)
			return option_error(t, "casts", k, "no such column on the target table", err, en);
		/* the value goes as the source prints it; PostgreSQL reads it as the cast type */
		str_copy(col->type, sizeof(col->type), json_string_value(v));
		if (!strcmp(col->conv, "bool") || !strcmp(col->conv, "set"))
			*col->conv = '\0';
		free(col->default_expr);
		col->default_expr = NULL;
		col->identity = 0;
	}
	json_object_foreach(opts ? opts->expressions : NULL, k, v) {
		char *rel = my_qualified_name(s, def->src.schema, def->src.name);
		char *sql = xasprintf("SELECT (%s) FROM %s LIMIT 0", json_string_value(v), rel);
		free(rel);
		struct err e;
		err_clear(&e);
		MYSQL_RES *res = my_query(m, sql, &e);
		free(sql);
		if (!res)
			return option_error(t, "expressions", k, e.cause[0] ? e.cause : e.msg, err, en);
		const char *type = field_type(mysql_fetch_field_direct(res, 0));
		mysql_free_result(res);
		struct tdef_column *col = NULL;
		for (int c = 0; c < def->ncols; c++)
			if (!strcmp(def->cols[c].target, k))
				col = &def->cols[c];
		if (col) {
			free(col->select);
			free(col->default_expr);
			col->default_expr = NULL;
		} else {
			col = tdef_add_column(def);
			str_copy(col->target, sizeof(col->target), k);
		}
		col->select = xasprintf("(%s)", json_string_value(v));
		str_copy(col->type, sizeof(col->type), type);
		*col->conv = '\0';
		if (!strcmp(type, "bytea"))
			str_copy(col->conv, sizeof(col->conv), "bytea");
		col->identity = 0;
		col->notnull = false;
	}
	return true;
}

/* One index or key of a table, gathered from STATISTICS rows. */
struct my_index {
	char name[192];
	bool unique, primary, skip_kind; /* skip_kind: FULLTEXT or SPATIAL */
	char type[32];
	struct sb cols; /* the PostgreSQL key list */
	struct sb missing; /* columns the job drops */
	bool prefix, expression;
};

/* The PostgreSQL name of index `name` of table t, unique in its target schema. */
static void index_name(const struct plan *p, const struct plan_table *t, const char *name,
		       json_t *taken, char *out, size_t n)
{
	char key[600];
	snprintf(key, sizeof(key), "%s.%s", t->st.dst.schema, name);
	bool clash = json_object_get(taken, key) != NULL;
	for (int i = 0; i < p->n && !clash; i++)
		clash = !strcmp(p->t[i].st.dst.schema, t->st.dst.schema) && !strcmp(p->t[i].st.dst.name, name);
	if (!clash) {
		snprintf(out, n, "%.*s", PG_NAME_MAX, name);
	} else {
		/* MySQL names indexes per table, PostgreSQL per schema: the table's name tells them apart */
		char *both = xasprintf("%.30s_%s", t->st.dst.name, name);
		str_copy(out, n, both);
		free(both);
		out[n > PG_NAME_MAX ? PG_NAME_MAX : n - 1] = '\0';
	}
	snprintf(key, sizeof(key), "%s.%s", t->st.dst.schema, out);
	json_object_set_new(taken, key, json_true());
}

/* Turn one gathered index into a post-load step of t. */
static void index_step(struct my_source *s, const struct plan *p, struct plan_table *t,
		       struct my_index *ix, json_t *taken)
{
	const char *label = t->st.src_label;
	char *rel = pq2(t->st.dst.schema, t->st.dst.name);
	if (ix->primary) {
		char name[128];
		snprintf(name, sizeof(name), "%.*s_pkey", 58, t->st.dst.name);
		struct tdef_step *st = tdef_add_step(&t->def, "primary_key", name);
		char *qn = pq(name);
		if (ix->missing.len)
			st->skip = xasprintf("its columns %s are not copied", ix->missing.buf);
		else
			st->sql = xasprintf("ALTER TABLE ONLY %s ADD CONSTRAINT %s PRIMARY KEY (%s)", rel, qn, ix->cols.buf);
		free(qn);
		t->st.has_pk = true;
		free(rel);
		return;
	}
	char name[128];
	index_name(p, t, ix->name, taken, name, sizeof(name));
	struct tdef_step *st = tdef_add_step(&t->def, "index", name);
	if (strcmp(name, ix->name))
		warn_table(s, label, "index \"%s\" is created as \"%s\": PostgreSQL names indexes per schema, and another table of the schema has an index of that name",
			   ix->name, name);
	if (ix->skip_kind) {
		st->skip = xasprintf("%s indexes have no PostgreSQL equivalent ferry creates", ix->type);
		warn_table(s, label, "%s index \"%s\" is not carried over", ix->type, ix->name);
	} else if (ix->expression) {
		st->skip = xstrdup("it indexes an expression of MySQL's SQL");
		warn_table(s, label, "index \"%s\" on an expression is not carried over", ix->name);
	} else if (ix->missing.len) {
		st->skip = xasprintf("its columns %s are not copied", ix->missing.buf);
	} else {
		char *qn = pq(name);
		st->sql = xasprintf("CREATE %sINDEX %s ON %s (%s)", ix->unique ? "UNIQUE " : "", qn, rel,
				    ix->cols.buf);
		free(qn);
		if (ix->prefix)
			warn_table(s, label, "index \"%s\" covers a prefix of a column: it is created on the same prefix (left() or substring())",
				   ix->name);
	}
	free(rel);
}

/* Indexes and keys, in one query: a step each, primary key first. */
static bool read_indexes(struct my_source *s, MYSQL *m, struct plan *p, const char *schemas,
			 json_t *taken, struct err *e)
{
	char *sql = xasprintf("SELECT TABLE_SCHEMA, TABLE_NAME, INDEX_NAME, NON_UNIQUE, COLUMN_NAME, SUB_PART, "
			      "INDEX_TYPE, COALESCE(COLLATION, 'A') FROM information_schema.STATISTICS "
			      "WHERE TABLE_SCHEMA IN (%s) ORDER BY TABLE_SCHEMA, TABLE_NAME, INDEX_NAME <> 'PRIMARY', "
			      "INDEX_NAME, SEQ_IN_INDEX",
			      schemas);
	MYSQL_RES *res = my_query(m, sql, e);
	free(sql);
	if (!res)
		return false;
	struct my_index ix;
	memset(&ix, 0, sizeof(ix));
	sb_init(&ix.cols);
	sb_init(&ix.missing);
	int cur = -1;
	MYSQL_ROW row;
	for (;;) {
		row = mysql_fetch_row(res);
		int ti = row ? find_table(p, row[0], row[1]) : -1;
		bool same = row && ti == cur && !strcmp(ix.name, row[2]);
		if (cur >= 0 && !same && *ix.name) {
			if (!*p->t[cur].error)
				index_step(s, p, &p->t[cur], &ix, taken);
			sb_reset(&ix.cols);
			sb_reset(&ix.missing);
			*ix.name = '\0';
		}
		if (!row)
			break;
		cur = ti;
		if (ti < 0)
			continue;
		struct plan_table *t = &p->t[ti];
		if (!same) {
			str_copy(ix.name, sizeof(ix.name), row[2]);
			ix.primary = !strcmp(row[2], "PRIMARY");
			ix.unique = !strcmp(row[3], "0");
			str_copy(ix.type, sizeof(ix.type), row[6]);
			ix.skip_kind = !strcmp(row[6], "FULLTEXT") || !strcmp(row[6], "SPATIAL");
			ix.prefix = ix.expression = false;
		}
		if (!row[4]) {
			ix.expression = true;
			continue;
		}
		struct tdef_column *col = source_column(&t->def, row[4]);
		if (!col) {
			sb_addf(&ix.missing, "%s\"%s\"", ix.missing.len ? ", " : "", row[4]);
			continue;
		}
		char *qc = pq(col->target);
		if (ix.cols.len)
			sb_adds(&ix.cols, ", ");
		if (row[5]) {
			ix.prefix = true;
			if (!strcmp(col->type, "bytea"))
				sb_addf(&ix.cols, "substring(%s from 1 for %s)", qc, row[5]);
			else
				sb_addf(&ix.cols, "left(%s, %s)", qc, row[5]);
		} else {
			sb_adds(&ix.cols, qc);
		}
		if (!strcmp(row[7], "D"))
			sb_adds(&ix.cols, " DESC");
		free(qc);
	}
	sb_release(&ix.cols);
	sb_release(&ix.missing);
	mysql_free_result(res);
	return true;
}

/* The target name of a source column of table schema.name after the job's renames. */
static const char *target_column(const struct job *job, const char *schema, const char *name, const char *col)
{
	const struct job_table *opts = job_table_options(job, schema, name);
	const char *to = opts ? json_string_value(json_object_get(opts->columns, col)) : NULL;
	return to ? to : col;
}

/* Foreign keys, in one query: a step each, after the data of both tables is in. */
static bool read_foreign_keys(struct my_source *s, MYSQL *m, const struct job *job, struct plan *p,
			      const char *schemas, struct err *e)
{
	(void)s;
	char *sql = xasprintf("SELECT k.TABLE_SCHEMA, k.TABLE_NAME, k.CONSTRAINT_NAME, k.COLUMN_NAME, "
			      "k.REFERENCED_TABLE_SCHEMA, k.REFERENCED_TABLE_NAME, k.REFERENCED_COLUMN_NAME, "
			      "r.UPDATE_RULE, r.DELETE_RULE FROM information_schema.KEY_COLUMN_USAGE k "
			      "JOIN information_schema.REFERENTIAL_CONSTRAINTS r ON r.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA "
			      "AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME AND r.TABLE_NAME = k.TABLE_NAME "
			      "WHERE k.TABLE_SCHEMA IN (%s) AND k.REFERENCED_TABLE_NAME IS NOT NULL "
			      "ORDER BY k.TABLE_SCHEMA, k.TABLE_NAME, k.CONSTRAINT_NAME, k.ORDINAL_POSITION",
			      schemas);
	MYSQL_RES *res = my_query(m, sql, e);
	free(sql);
	if (!res)
		return false;
	struct sb cols, refcols, missing;
	sb_init(&cols);
	sb_init(&refcols);
	sb_init(&missing);
	char name[192] = "", rules[2][32] = {"", ""};
	int cur = -1;
	struct qualname ref = {{0}, {0}};
	MYSQL_ROW row;
	for (;;) {
		row = mysql_fetch_row(res);
		int ti = row ? find_table(p, row[0], row[1]) : -1;
		bool same = row && ti == cur && !strcmp(name, row[2]);
		if (cur >= 0 && !same && *name && !*p->t[cur].error) {
			struct plan_table *t = &p->t[cur];
			struct tdef_step *st = tdef_add_step(&t->def, "foreign_key", name);
			st->ref = ref;
			struct src_table rt = {.src = ref};
			src_table_target(job, &rt);
			free(rt.filter);
			char *rq = pq2(rt.dst.schema, rt.dst.name);
			str_copy(st->ref_printed, sizeof(st->ref_printed), rq);
			if (missing.len) {
				st->skip = xasprintf("its columns %s are not copied", missing.buf);
			} else {
				char *rel = pq2(t->st.dst.schema, t->st.dst.name), *qn = pq(name);
				st->sql = xasprintf("ALTER TABLE %s ADD CONSTRAINT %s FOREIGN KEY (%s) REFERENCES %s(%s) ON UPDATE %s ON DELETE %s",
						    rel, qn, cols.buf, rq, refcols.buf, rules[0], rules[1]);
				free(rel);
				free(qn);
			}
			free(rq);
		}
		if (!same) {
			sb_reset(&cols);
			sb_reset(&refcols);
			sb_reset(&missing);
			*name = '\0';
		}
		if (!row)
			break;
		cur = ti;
		if (ti < 0)
			continue;
		str_copy(name, sizeof(name), row[2]);
		str_copy(ref.schema, sizeof(ref.schema), row[4]);
		str_copy(ref.name, sizeof(ref.name), row[5]);
		str_copy(rules[0], sizeof(rules[0]), row[7]);
		str_copy(rules[1], sizeof(rules[1]), row[8]);
		struct tdef_column *col = source_column(&p->t[ti].def, row[3]);
		if (!col) {
			sb_addf(&missing, "%s\"%s\"", missing.len ? ", " : "", row[3]);
			continue;
		}
		char *qc = pq(col->target);
		char *qr = pq(target_column(job, row[4], row[5], row[6]));
		sb_addf(&cols, "%s%s", cols.len ? ", " : "", qc);
		sb_addf(&refcols, "%s%s", refcols.len ? ", " : "", qr);
		free(qc);
		free(qr);
	}
	sb_release(&cols);
	sb_release(&refcols);
	sb_release(&missing);
	mysql_free_result(res);
	return true;
}

/* After the data: each AUTO_INCREMENT column's sequence moves past the largest value and the source's counter. */
static void identity_steps(struct plan_table *t, const char *auto_increment)
{
	for (int c = 0; c < t->def.ncols; c++) {
		const struct tdef_column *col = &t->def.cols[c];
		if (col->identity != 'd')
			continue;
		char *rel = pq2(t->st.dst.schema, t->st.dst.name);
		char *lrel = pl(rel), *lcol = pl(col->target), *qc = pq(col->target);
		long long next = auto_increment ? atoll(auto_increment) : 1;
		char name[128];
		snprintf(name, sizeof(name), "%.*s_%.*s_seq", 29, t->st.dst.name, 29, col->target);
		struct tdef_step *st = tdef_add_step(&t->def, "sequence", name);
		st->sql = xasprintf("SELECT setval(pg_get_serial_sequence(%s, %s), m) FROM (SELECT greatest(max(%s), %lld) AS m FROM %s) s WHERE m IS NOT NULL AND m > 0",
				    lrel, lcol, qc, next - 1, rel);
		free(rel);
		free(lrel);
		free(lcol);
		free(qc);
	}
}

/* Triggers, routines and events: named in the plan's warnings, not carried over. */
static void other_objects(struct my_source *s, MYSQL *m, struct plan *p, const char *schemas)
{
	struct err e;
	char *sql = xasprintf("SELECT EVENT_OBJECT_SCHEMA, EVENT_OBJECT_TABLE, TRIGGER_NAME FROM information_schema.TRIGGERS WHERE EVENT_OBJECT_SCHEMA IN (%s)",
			      schemas);
	MYSQL_RES *res = my_query(m, sql, &e);
	free(sql);
	MYSQL_ROW row;
	while (res && (row = mysql_fetch_row(res))) {
		int i = find_table(p, row[0], row[1]);
		if (i >= 0)
			warn_table(s, p->t[i].st.src_label, "trigger \"%s\" is not carried over: triggers are MySQL code", row[2]);
	}
	mysql_free_result(res);
	struct sb names;
	sb_init(&names);
	sql = xasprintf("SELECT ROUTINE_SCHEMA, ROUTINE_NAME, ROUTINE_TYPE FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA IN (%s) "
			"UNION ALL SELECT EVENT_SCHEMA, EVENT_NAME, 'EVENT' FROM information_schema.EVENTS WHERE EVENT_SCHEMA IN (%s)",
			schemas, schemas);
	res = my_query(m, sql, &e);
	free(sql);
	while (res && (row = mysql_fetch_row(res)))
		sb_addf(&names, "%s%s %s.%s", names.len ? ", " : "", row[2], row[0], row[1]);
	mysql_free_result(res);
	if (names.len)
		warn_plan(p, "not carried over (MySQL code): %s", names.buf);
	sb_release(&names);
}

/* The AUTO_INCREMENT counters of the plan's tables, keyed "schema.table". */
static json_t *counters(MYSQL *m, const char *schemas)
{
	json_t *out = json_object();
	struct err e;
	char *sql = xasprintf("SELECT TABLE_SCHEMA, TABLE_NAME, AUTO_INCREMENT FROM information_schema.TABLES WHERE TABLE_SCHEMA IN (%s) AND AUTO_INCREMENT IS NOT NULL",
			      schemas);
	MYSQL_RES *res = my_query(m, sql, &e);
	free(sql);
	MYSQL_ROW row;
	while (res && (row = mysql_fetch_row(res))) {
		char key[600];
		snprintf(key, sizeof(key), "%s.%s", row[0], row[1]);
		json_object_set_new(out, key, json_string(row[2]));
	}
	mysql_free_result(res);
	return out;
}

/* Whether the connection's user may take FLUSH TABLES WITH READ LOCK (RELOAD). */
static bool can_lock(MYSQL *m)
{
	struct err e;
	MYSQL_RES *res = my_query(m,
		"SELECT 1 FROM information_schema.USER_PRIVILEGES WHERE PRIVILEGE_TYPE = 'RELOAD' AND GRANTEE = "
		"CONCAT('''', SUBSTRING_INDEX(CURRENT_USER(), '@', 1), '''@''', SUBSTRING_INDEX(CURRENT_USER(), '@', -1), '''')",
		&e);
	bool ok = res && mysql_num_rows(res) > 0;
	mysql_free_result(res);
	return ok;
}

bool my_plan(struct source *src, const struct job *job, json_t *requested, const struct plan_ctx *ctx,
	     struct plan *p, struct err *e)
{
	struct my_source *s = MY(src);
	MYSQL *m = my_conn(src, e);
	if (!m)
		return false;
	json_decref(s->warnings);
	s->warnings = NULL;
	p->types = json_array();
	if (!select_tables(src, m, job, requested, p, e))
		return false;
	if (strategy_is_backfill(ctx)) {
		int kept = 0;
		for (int i = 0; i < p->n; i++) {
			if (!strcmp(p->t[i].mode, "incremental"))
				p->t[kept++] = p->t[i];
			else {
				free(p->t[i].st.filter);
				tdef_release(&p->t[i].def);
			}
		}
		p->n = kept;
	}
	if (!can_lock(m))
		warn_plan(p, "the source user lacks the RELOAD privilege: without FLUSH TABLES WITH READ LOCK each table is read at its own point in time, not all at one");
	if (p->n == 0)
		return true;
	char *schemas = schema_list(src, p);
	for (int i = 0; i < p->n; i++) {
		struct plan_table *t = &p->t[i];
		t->def.src = t->st.src;
		t->def.dst = t->st.dst;
		t->def.relkind = 'r';
		t->def.filter = t->st.filter ? xstrdup(t->st.filter) : NULL;
	}
	json_t *taken = json_object();
	json_t *ai = counters(m, schemas);
	bool ok = read_columns(s, m, p, schemas, e);
	for (int i = 0; ok && i < p->n; i++) {
		struct plan_table *t = &p->t[i];
		if (t->def.ncols == 0)
			snprintf(t->error, sizeof(t->error), "source: table %s has no columns ferry can read",
				 t->st.src_label);
		else
			apply_options(s, m, t, job_table_options(job, t->st.src.schema, t->st.src.name));
	}
	ok = ok && read_indexes(s, m, p, schemas, taken, e);
	for (int i = 0; ok && i < p->n; i++) {
		char key[600];
		snprintf(key, sizeof(key), "%s.%s", p->t[i].st.src.schema, p->t[i].st.src.name);
		identity_steps(&p->t[i], json_string_value(json_object_get(ai, key)));
	}
	ok = ok && read_foreign_keys(s, m, job, p, schemas, e);
	if (ok)
		other_objects(s, m, p, schemas);
	json_decref(taken);
	json_decref(ai);
	free(schemas);
	return ok;
}

bool my_types(struct source *src, struct plan *p, const struct tdef *defs, int n, struct err *e)
{
	(void)src;
	(void)e;
	/* keep the enum types some given table uses */
	json_t *all = p->types ? p->types : json_array();
	json_t *kept = json_array();
	size_t i;
	json_t *ty;
	json_array_foreach(all, i, ty) {
		const char *name = json_string_value(json_object_get(ty, "name"));
		bool used = false;
		for (int d = 0; d < n && !used; d++)
			for (int c = 0; c < defs[d].ncols && !used; c++)
				used = !strcmp(defs[d].cols[c].type, name);
		if (used)
			json_array_append(kept, ty);
	}
	json_decref(all);
	p->types = kept;
	return true;
}

void my_table_warnings(struct source *src, const struct job *job, const struct plan *p, int i, json_t *w)
{
	(void)job;
	struct my_source *s = MY(src);
	json_array_extend(w, json_object_get(s->warnings, p->t[i].st.src_label));
}

json_t *my_primary_key(struct source *src, const struct qualname *table, struct err *e)
{
	MYSQL *m = MY(src)->m;
	char *ls = my_literal(src, table->schema), *ln = my_literal(src, table->name);
	char *sql = xasprintf("SELECT COLUMN_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s AND INDEX_NAME = 'PRIMARY' ORDER BY SEQ_IN_INDEX",
			      ls, ln);
	free(ls);
	free(ln);
	MYSQL_RES *res = my_query(m, sql, e);
	free(sql);
	if (!res)
		return NULL;
	json_t *out = json_array();
	MYSQL_ROW row;
	while ((row = mysql_fetch_row(res)))
		json_array_append_new(out, json_string(row[0]));
	mysql_free_result(res);
	return out;
}

bool my_column_kind(struct source *src, const struct qualname *table, const char *column, char *kind,
		    size_t kn, char *type, size_t tn, struct err *e)
{
	MYSQL *m = MY(src)->m;
	char *ls = my_literal(src, table->schema), *ln = my_literal(src, table->name);
	char *lc = my_literal(src, column);
	char *sql = xasprintf("SELECT DATA_TYPE, COLUMN_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s AND COLUMN_NAME = %s",
			      ls, ln, lc);
	free(ls);
	free(ln);
	free(lc);
	MYSQL_RES *res = my_query(m, sql, e);
	free(sql);
	MYSQL_ROW row = res ? mysql_fetch_row(res) : NULL;
	if (!row) {
		mysql_free_result(res);
		return false;
	}
	const char *dt = row[0];
	const char *k = "other";
	if (strstr("tinyint smallint mediumint int integer bigint", dt) && *dt)
		k = "integer";
	else if (!strcmp(dt, "decimal") || !strcmp(dt, "numeric"))
		k = "numeric";
	else if (!strcmp(dt, "date"))
		k = "date";
	else if (!strcmp(dt, "datetime"))
		k = "timestamp";
	else if (!strcmp(dt, "timestamp"))
		k = "timestamptz";
	str_copy(kind, kn, k);
	str_copy(type, tn, row[1]);
	mysql_free_result(res);
	return true;
}

bool my_bound_ok(struct source *src, const char *type, const char *value, struct err *e)
{
	MYSQL *m = MY(src)->m;
	bool date = !strncmp(type, "date", 4) || !strncmp(type, "timestamp", 9);
	char *lit = my_literal(src, value);
	char *sql = date ? xasprintf("SELECT CAST(%s AS DATETIME(6)) IS NOT NULL", lit)
			 : xasprintf("SELECT %s REGEXP '^-?[0-9]+(\\\\.[0-9]+)?$'", lit);
	free(lit);
	char *v = scalar_query(m, sql, e);
	free(sql);
	bool ok = v && !strcmp(v, "1");
	if (v && !ok)
		err_set(e, 400, "invalid_field", NULL, "not a value of type %s", type);
	free(v);
	return ok;
}

char *my_mark_expr(struct source *src, const char *kind, const char *col)
{
	(void)src;
	if (!strcmp(kind, "timestamptz") || !strcmp(kind, "timestamp"))
		return xasprintf("DATE_FORMAT(MAX(%s), '%%Y-%%m-%%d %%H:%%i:%%s.%%f')", col);
	if (!strcmp(kind, "date"))
		return xasprintf("DATE_FORMAT(MAX(%s), '%%Y-%%m-%%d')", col);
	return xasprintf("CAST(MAX(%s) AS CHAR)", col);
}

char *my_flag_expr(struct source *src, const char *col)
{
	(void)src;
	return xasprintf("CASE WHEN COALESCE(%s, 0) THEN 't' ELSE 'f' END", col);
}

void my_select_sql(struct source *src, const struct tdef *def, struct sb *out)
{
	char *rel = my_qualified_name(MY(src), def->src.schema, def->src.name);
	sb_adds(out, "SELECT ");
	for (int i = 0; i < def->ncols; i++)
		sb_addf(out, "%s%s", i ? ", " : "", def->cols[i].select);
	if (def->extra_select)
		sb_addf(out, ", %s", def->extra_select);
	sb_addf(out, " FROM %s", rel);
	if (def->filter)
		sb_addf(out, " WHERE (%s)", def->filter);
	free(rel);
}

bool my_plain_sql(struct source *src, const struct tdef *def, struct sb *out)
{
	(void)src;
	(void)def;
	(void)out;
	return false;
}

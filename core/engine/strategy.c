/* core/engine/strategy.c: how one table loads: its mode, merge key, cursor window and high-water mark */
#include "strategy.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "sql.h"
#include "util.h"
#include "banned.h"

/* Types a cursor may have: integers, numeric, date, timestamp, timestamptz. */
enum cursor_kind { CURSOR_NONE, CURSOR_NUMBER, CURSOR_DATE, CURSOR_TS, CURSOR_TSTZ };

static enum cursor_kind cursor_kind_of(long long oid)
{
	switch (oid) {
	case 20:   /* int8 */
	case 21:   /* int2 */
	case 23:   /* int4 */
	case 1700: /* numeric */
		return CURSOR_NUMBER;
	case 1082:
		return CURSOR_DATE;
	case 1114:
		return CURSOR_TS;
	case 1184:
		return CURSOR_TSTZ;
	default:
		return CURSOR_NONE;
	}
}

static bool fail(char *why, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static bool fail(char *why, size_t n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, n, fmt, ap);
	va_end(ap);
	return false;
}

bool strategy_is_backfill(const struct plan_ctx *ctx)
{
	return ctx && ctx->params &&
	       (json_object_get(ctx->params, "from") || json_object_get(ctx->params, "to"));
}

/* The column of def copied from source column `name`, or NULL. */
static const struct tdef_column *copied_column(const struct tdef *def, const char *name)
{
	for (int i = 0; i < def->ncols; i++)
		if (!def->cols[i].generated && !strcmp(def->cols[i].source, name) &&
		    !strncmp(def->cols[i].select, "\"", 1))
			return &def->cols[i];
	return NULL;
}

/* Map the key's source columns to target columns: a new array, or NULL with why filled. */
static json_t *target_key(const struct tdef *def, json_t *key, char *why, size_t n)
{
	json_t *out = json_array();
	size_t i;
	json_t *k;
	json_array_foreach(key, i, k) {
		const struct tdef_column *c = copied_column(def, json_string_value(k));
		if (!c) {
			json_decref(out);
			fail(why, n, "key column \"%s\" is not a column the table copies", json_string_value(k));
			return NULL;
		}
		json_array_append_new(out, json_string(c->target));
	}
	return out;
}

/* The source table's primary-key columns, as a new array (empty when it has none). */
static json_t *primary_key(PGconn *src, const char *rel, char *why, size_t n)
{
	struct err e;
	err_clear(&e);
	const char *p[] = {rel};
	PGresult *res = db_exec(src, sql_source_primary_key, 1, p, &e);
	if (!res) {
		fail(why, n, "source: %s", e.msg);
		return NULL;
	}
	json_t *out = json_array();
	for (int i = 0; i < PQntuples(res); i++)
		json_array_append_new(out, json_string(PQgetvalue(res, i, 0)));
	PQclear(res);
	return out;
}

/* The SQL that prints the largest cursor value so that it reads back exactly on either side. */
static char *mark_expr(enum cursor_kind k, const char *col)
{
	switch (k) {
	case CURSOR_TSTZ:
		return xasprintf("to_char(max(%s) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')", col);
	case CURSOR_TS:
		return xasprintf("to_char(max(%s), 'YYYY-MM-DD HH24:MI:SS.US')", col);
	case CURSOR_DATE:
		return xasprintf("to_char(max(%s), 'YYYY-MM-DD')", col);
	default:
		return xasprintf("max(%s)::text", col);
	}
}

/* A window bound given by the run (JSON string or integer) as text, or NULL when absent. */
static bool bound_text(json_t *v, char *out, size_t n)
{
	if (json_is_string(v))
		str_copy(out, n, json_string_value(v));
	else if (json_is_integer(v))
		snprintf(out, n, "%lld", (long long)json_integer_value(v));
	else
		return false;
	return true;
}

/* Check that the source reads `value` as the cursor's type; false with why filled. */
static bool bound_ok(PGconn *src, const char *type, const char *what, const char *value,
		     char *why, size_t n)
{
	struct err e;
	err_clear(&e);
	db_simple(src, "SAVEPOINT ferry_bound", NULL);
	char *q = xasprintf("SELECT $1::%s", type);
	const char *p[] = {value};
	PGresult *res = db_exec(src, q, 1, p, &e);
	free(q);
	PQclear(res);
	db_simple(src, res ? "RELEASE SAVEPOINT ferry_bound"
			   : "ROLLBACK TO SAVEPOINT ferry_bound; RELEASE SAVEPOINT ferry_bound", NULL);
	if (!res)
		return fail(why, n, "params.%s \"%s\" is not a value of the cursor's type %s: %s", what,
			    value, type, e.msg);
	return true;
}

/* Narrow def->filter to cursor >= from and cursor < to (either may be NULL). */
static void narrow(PGconn *src, struct tdef *def, const char *col, const char *from,
		   const char *to)
{
	char *cond = db_range_condition(src, col, from, to);
	if (!cond)
		return;
	char *filter = def->filter ? xasprintf("(%s) AND %s", def->filter, cond) : cond;
	if (filter != cond)
		free(cond);
	free(def->filter);
	def->filter = filter;
}

/* The incremental part: cursor, its window and the mark query. */
static bool incremental(PGconn *src, json_t *opts, const char *label, const char *rel,
			const struct plan_ctx *ctx, struct tdef *def, json_t *out, char *why,
			size_t n)
{
	const char *cursor = json_string_value(json_object_get(opts, "cursor"));
	if (!cursor)
		return fail(why, n, "mode incremental needs a \"cursor\" column in tables.%s", label);
	const struct tdef_column *col = copied_column(def, cursor);
	if (!col)
		return fail(why, n, "cursor column \"%s\" is not a column the table copies unchanged",
			    cursor);
	struct err e;
	err_clear(&e);
	const char *p[] = {rel, cursor};
	PGresult *res = db_exec(src, sql_source_column_type, 2, p, &e);
	if (!res || PQntuples(res) == 0) {
		PQclear(res);
		return fail(why, n, "source: cannot read the type of cursor column \"%s\"", cursor);
	}
	enum cursor_kind kind = cursor_kind_of(atoll(PQgetvalue(res, 0, 0)));
	char type[256];
	str_copy(type, sizeof(type), PQgetvalue(res, 0, 1));
	PQclear(res);
	if (kind == CURSOR_NONE)
		return fail(why, n, "cursor column \"%s\" is of type %s; it must be a timestamp, date or integer",
			    cursor, type);
	char from[256] = "", to[256] = "";
	bool track = !strategy_is_backfill(ctx);
	if (!track) {
		bool hf = bound_text(json_object_get(ctx->params, "from"), from, sizeof(from));
		bool ht = bound_text(json_object_get(ctx->params, "to"), to, sizeof(to));
		if ((hf && !bound_ok(src, type, "from", from, why, n)) ||
		    (ht && !bound_ok(src, type, "to", to, why, n)))
			return false;
		if (!hf)
			*from = '\0';
		if (!ht)
			*to = '\0';
	} else {
		json_t *m = ctx ? json_object_get(ctx->marks, label) : NULL;
		const char *mc = json_string_value(json_object_get(m, "cursor"));
		if (m && mc && !strcmp(mc, cursor))
			str_copy(from, sizeof(from), json_string_value(json_object_get(m, "value")));
	}
	char *q = db_ident(src, cursor);
	char *agg = mark_expr(kind, q);
	free(q);
	narrow(src, def, cursor, *from ? from : NULL, *to ? to : NULL);
	char *mark_sql = xasprintf("SELECT %s FROM %s%s%s", agg, rel, def->filter ? " WHERE " : "",
				   def->filter ? def->filter : "");
	free(agg);
	json_object_set_new(out, "window", json_pack("{s:s,s:s?,s:s?}", "column", col->target,
						     "from", *from ? from : NULL, "to", *to ? to : NULL));
	json_object_set_new(out, "cursor", json_string(cursor));
	json_object_set_new(out, "cursor_type", json_string(type));
	json_object_set_new(out, "track", json_boolean(track));
	json_object_set_new(out, "mark_sql", json_string(mark_sql));
	free(mark_sql);
	return true;
}

json_t *strategy_resolve(PGconn *src, const char *mode, json_t *opts, const char *label,
			 const struct plan_ctx *ctx, struct tdef *def, char *why,
			 size_t n)
{
	json_t *out = json_pack("{s:s}", "mode", mode);
	bool inc = !strcmp(mode, "incremental");
	bool merge = !strcmp(mode, "upsert") || (inc && json_object_get(opts, "key"));
	char *rel = db_qualified(src, def->src.schema, def->src.name);
	json_t *key = NULL;
	if (strategy_is_backfill(ctx) && !inc) {
		fail(why, n, "a backfill run only loads tables in mode incremental");
		goto bad;
	}
	if (!strcmp(mode, "swap") && def->relkind == 'p') {
		fail(why, n, "mode swap cannot replace a partitioned table; use replace or drop");
		goto bad;
	}
	if (merge) {
		json_t *given = json_object_get(opts, "key");
		json_t *src_key = given ? json_incref(given) : primary_key(src, rel, why, n);
		if (!src_key)
			goto bad;
		if (json_array_size(src_key) == 0) {
			json_decref(src_key);
			fail(why, n, "mode %s needs a \"key\": the source table has no primary key to default to",
			     mode);
			goto bad;
		}
		key = target_key(def, src_key, why, n);
		json_decref(src_key);
		if (!key)
			goto bad;
		json_object_set_new(out, "key", key);
	}
	json_t *flag = json_object_get(opts, "delete_flag");
	if (flag) {
		if (!merge) {
			fail(why, n, "\"delete_flag\" needs a key (mode upsert, or incremental with \"key\")");
			goto bad;
		}
		/* read from the source row, so it may be a column the job drops */
		const char *fc = json_string_value(flag);
		struct err e;
		err_clear(&e);
		const char *p[] = {rel, fc};
		PGresult *res = db_exec(src, sql_source_column_type, 2, p, &e);
		bool found = res && PQntuples(res) > 0;
		PQclear(res);
		if (!found) {
			fail(why, n, "delete_flag column \"%s\" does not exist in the source table", fc);
			goto bad;
		}
		char *q = db_ident(src, fc);
		free(def->extra_select);
		def->extra_select = xasprintf("coalesce((%s)::boolean, false)", q);
		free(q);
		json_object_set_new(out, "delete_flag", json_true());
	}
	if (inc && !incremental(src, opts, label, rel, ctx, def, out, why, n))
		goto bad;
	free(rel);
	return out;
bad:
	free(rel);
	json_decref(out);
	return NULL;
}

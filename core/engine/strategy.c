/* core/engine/strategy.c: how one table loads: its mode, merge key, cursor window and high-water mark */
#include "strategy.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "banned.h"

/* Types a cursor may have: integers, numeric, date, timestamp, timestamptz. */
static bool cursor_kind_ok(const char *kind)
{
	return !strcmp(kind, "integer") || !strcmp(kind, "numeric") || !strcmp(kind, "date") ||
	       !strcmp(kind, "timestamp") || !strcmp(kind, "timestamptz");
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
	/* a column read as it is: its select is its quoted name, whatever the source's quote */
	for (int i = 0; i < def->ncols; i++)
		if (!def->cols[i].generated && !strcmp(def->cols[i].source, name) &&
		    (def->cols[i].select[0] == '"' || def->cols[i].select[0] == '`'))
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
static bool bound_ok(struct source *src, const char *type, const char *what, const char *value,
		     char *why, size_t n)
{
	struct err e;
	err_clear(&e);
	if (!src->ops->bound_ok(src, type, value, &e))
		return fail(why, n, "params.%s \"%s\" is not a value of the cursor's type %s: %s", what,
			    value, type, e.msg);
	return true;
}

/* col >= from AND col < to in the source's SQL (either bound may be NULL), or NULL. */
static char *range_condition(struct source *src, const char *column, const char *from,
			     const char *to)
{
	if (!from && !to)
		return NULL;
	char *col = src->ops->ident(src, column);
	char *lf = from ? src->ops->literal(src, from) : NULL;
	char *lt = to ? src->ops->literal(src, to) : NULL;
	char *out = xasprintf("%s%s%s%s%s%s%s", lf ? col : "", lf ? " >= " : "", lf ? lf : "",
			      lf && lt ? " AND " : "", lt ? col : "", lt ? " < " : "", lt ? lt : "");
	free(lf);
	free(lt);
	free(col);
	return out;
}

/* Narrow def->filter to cursor >= from and cursor < to (either may be NULL). */
static void narrow(struct source *src, struct tdef *def, const char *col, const char *from,
		   const char *to)
{
	char *cond = range_condition(src, col, from, to);
	if (!cond)
		return;
	char *filter = def->filter ? xasprintf("(%s) AND %s", def->filter, cond) : cond;
	if (filter != cond)
		free(cond);
	free(def->filter);
	def->filter = filter;
}

/* The incremental part: cursor, its window and the mark query. */
static bool incremental(struct source *src, const struct job_table *opts, const char *label, const char *rel,
			const struct plan_ctx *ctx, struct tdef *def, json_t *out, char *why,
			size_t n)
{
	const char *cursor = opts ? opts->cursor : NULL;
	if (!cursor)
		return fail(why, n, "mode incremental needs a \"cursor\" column in tables.%s", label);
	const struct tdef_column *col = copied_column(def, cursor);
	if (!col)
		return fail(why, n, "cursor column \"%s\" is not a column the table copies unchanged",
			    cursor);
	struct err e;
	err_clear(&e);
	char kind[32], type[256];
	if (!src->ops->column_kind(src, &def->src, cursor, kind, sizeof(kind), type, sizeof(type), &e))
		return fail(why, n, "source: cannot read the type of cursor column \"%s\"", cursor);
	if (!cursor_kind_ok(kind))
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
	char *q = src->ops->ident(src, cursor);
	char *agg = src->ops->mark_expr(src, kind, q);
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

json_t *strategy_resolve(struct source *src, const char *mode, const struct job_table *opts, const char *label,
			 const struct plan_ctx *ctx, struct tdef *def, char *why,
			 size_t n)
{
	json_t *out = json_pack("{s:s}", "mode", mode);
	bool inc = !strcmp(mode, "incremental");
	bool merge = !strcmp(mode, "upsert") || (inc && opts && opts->key);
	char *rel = src->ops->qualified(src, def->src.schema, def->src.name);
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
		json_t *given = opts ? opts->key : NULL;
		struct err e;
		err_clear(&e);
		json_t *src_key = given ? json_incref(given) : src->ops->primary_key(src, &def->src, &e);
		if (!src_key) {
			fail(why, n, "source: %s", e.msg);
			goto bad;
		}
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
	const char *fc = opts ? opts->delete_flag : NULL;
	if (fc) {
		if (!merge) {
			fail(why, n, "\"delete_flag\" needs a key (mode upsert, or incremental with \"key\")");
			goto bad;
		}
		/* read from the source row, so it may be a column the job drops */
		struct err e;
		err_clear(&e);
		char kind[32], type[256];
		if (!src->ops->column_kind(src, &def->src, fc, kind, sizeof(kind), type, sizeof(type), &e)) {
			fail(why, n, "delete_flag column \"%s\" does not exist in the source table", fc);
			goto bad;
		}
		char *q = src->ops->ident(src, fc);
		free(def->extra_select);
		def->extra_select = src->ops->flag_expr(src, q);
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

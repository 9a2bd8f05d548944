/* tests/unit/test_strategy.c: how tables load, and a plan's shape, against a fake source connector (strategy.h, planner.h) */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "copydesc.h"
#include "job.h"
#include "planner.h"
#include "strategy.h"
#include "util.h"

/*
 * A source that speaks a dialect of its own ([ident], <literal>), so that
 * the tests see which SQL came from the connector. Table "t" has the key
 * (id); "nokey" has none. Columns: id and n (integer), updated (timestamp),
 * name (text), deleted (integer).
 */
static int types_calls;
static int types_seen;

static char *f_ident(struct source *s, const char *name)
{
	(void)s;
	return xasprintf("[%s]", name);
}

static char *f_qualified(struct source *s, const char *schema, const char *name)
{
	(void)s;
	return xasprintf("[%s].[%s]", schema, name);
}

static char *f_literal(struct source *s, const char *v)
{
	(void)s;
	return xasprintf("<%s>", v);
}

static json_t *f_primary_key(struct source *s, const struct qualname *t, struct err *e)
{
	(void)s;
	(void)e;
	return !strcmp(t->name, "t") ? json_pack("[s]", "id") : json_array();
}

static bool f_column_kind(struct source *s, const struct qualname *t, const char *col, char *kind,
			  size_t kn, char *type, size_t tn, struct err *e)
{
	(void)s;
	(void)t;
	(void)e;
	const char *k = !strcmp(col, "id") || !strcmp(col, "n") || !strcmp(col, "deleted") ? "integer"
			: !strcmp(col, "updated")					  ? "timestamp"
			: !strcmp(col, "name")						  ? "other"
											  : NULL;
	if (!k)
		return false;
	str_copy(kind, kn, k);
	str_copy(type, tn, !strcmp(k, "other") ? "text" : k);
	return true;
}

static bool f_bound_ok(struct source *s, const char *type, const char *value, struct err *e)
{
	(void)s;
	if (strchr(value, '-') || strspn(value, "0123456789") == strlen(value))
		return true;
	return err_set(e, 400, "invalid_field", NULL, "%s is not a %s", value, type);
}

static char *f_mark_expr(struct source *s, const char *kind, const char *col)
{
	(void)s;
	return xasprintf("TOP(%s AS %s)", col, kind);
}

static char *f_flag_expr(struct source *s, const char *col)
{
	(void)s;
	return xasprintf("FLAG(%s)", col);
}

static void add_col(struct tdef *d, const char *name, const char *type)
{
	struct tdef_column *c = tdef_add_column(d);
	str_copy(c->source, sizeof(c->source), name);
	str_copy(c->target, sizeof(c->target), name);
	str_copy(c->type, sizeof(c->type), type);
	c->select = xasprintf("`%s`", name);
}

static void fake_def(struct tdef *d, const char *name)
{
	memset(d, 0, sizeof(*d));
	str_copy(d->src.schema, sizeof(d->src.schema), "app");
	str_copy(d->src.name, sizeof(d->src.name), name);
	d->dst = d->src;
	d->relkind = 'r';
	add_col(d, "id", "integer");
	add_col(d, "n", "integer");
	add_col(d, "updated", "timestamp");
	add_col(d, "name", "text");
}

/* Two tables: t and nokey, each with its mode from the job. */
static bool f_plan(struct source *s, const struct job *job, json_t *requested, const struct plan_ctx *ctx,
		   struct plan *p, struct err *e)
{
	(void)s;
	(void)requested;
	(void)ctx;
	(void)e;
	const char *names[] = {"t", "nokey"};
	for (int i = 0; i < 2; i++) {
		struct plan_table *t = plan_add(p);
		fake_def(&t->def, names[i]);
		t->st.src = t->def.src;
		t->st.dst = t->def.dst;
		qualname_format(&t->st.src, t->st.src_label, sizeof(t->st.src_label));
		qualname_format(&t->st.dst, t->st.dst_label, sizeof(t->st.dst_label));
		str_copy(t->mode, sizeof(t->mode), job_table_mode(job, "app", names[i]));
		t->leaf = true;
		t->binary = true;
	}
	return true;
}

static bool f_types(struct source *s, struct plan *p, const struct tdef *defs, int n, struct err *e)
{
	(void)s;
	(void)defs;
	(void)e;
	types_calls++;
	types_seen = n;
	p->types = json_array();
	return true;
}

static const struct source_ops fake_ops = {
	.kind = "fake",
	.ident = f_ident,
	.qualified = f_qualified,
	.literal = f_literal,
	.plan = f_plan,
	.types = f_types,
	.primary_key = f_primary_key,
	.column_kind = f_column_kind,
	.bound_ok = f_bound_ok,
	.mark_expr = f_mark_expr,
	.flag_expr = f_flag_expr,
};

static struct source fake = {&fake_ops};

static json_t *spec_of(const char *extra)
{
	char *doc = xasprintf("{\"name\": \"j\", \"source\": {\"dsn\": \"mysql://u@h/app\"},"
			      " \"target\": {\"dsn\": \"postgresql://h/db\"}, \"include\": [\"app.*\"]%s%s}",
			      extra ? ", " : "", extra ? extra : "");
	json_t *in = json_loads(doc, 0, NULL);
	free(doc);
	struct err e;
	err_clear(&e);
	json_t *spec = job_normalize(in, 2, &e);
	if (!spec)
		fail_msg("job rejected: %s", e.msg);
	json_decref(in);
	return spec;
}

static json_t *resolve(const char *mode, json_t *opts, const char *table, const struct plan_ctx *ctx,
		       struct tdef *def, char *why)
{
	fake_def(def, table);
	/* the options as the job's parse gives them */
	struct job_table t = {0};
	if (opts) {
		t.cursor = json_string_value(json_object_get(opts, "cursor"));
		t.key = json_object_get(opts, "key");
		t.delete_flag = json_string_value(json_object_get(opts, "delete_flag"));
	}
	return strategy_resolve(&fake, mode, opts ? &t : NULL, "app.t", ctx, def, why, 512);
}

static void test_upsert_key_from_the_source(void **state)
{
	(void)state;
	struct tdef def;
	char why[512] = "";
	json_t *out = resolve("upsert", NULL, "t", NULL, &def, why);
	assert_non_null(out);
	json_t *key = json_object_get(out, "key");
	assert_int_equal(json_array_size(key), 1);
	assert_string_equal(json_string_value(json_array_get(key, 0)), "id");
	json_decref(out);
	tdef_release(&def);
	out = resolve("upsert", NULL, "nokey", NULL, &def, why);
	assert_null(out);
	assert_non_null(strstr(why, "needs a \"key\""));
	tdef_release(&def);
	json_t *opts = json_pack("{s:[s]}", "key", "nope");
	out = resolve("upsert", opts, "t", NULL, &def, why);
	assert_null(out);
	assert_non_null(strstr(why, "key column \"nope\""));
	json_decref(opts);
	tdef_release(&def);
}

/* The window, the filter and the mark query are in the connector's SQL. */
static void test_incremental_in_the_sources_dialect(void **state)
{
	(void)state;
	struct tdef def;
	char why[512] = "";
	json_t *opts = json_pack("{s:s}", "cursor", "updated");
	json_t *marks = json_pack("{s:{s:s,s:s}}", "app.t", "value", "2024-01-02 00:00:00", "cursor", "updated");
	struct plan_ctx ctx = {.marks = marks};
	json_t *out = resolve("incremental", opts, "t", &ctx, &def, why);
	assert_non_null(out);
	assert_string_equal(def.filter, "[updated] >= <2024-01-02 00:00:00>");
	assert_string_equal(json_string_value(json_object_get(out, "mark_sql")),
			    "SELECT TOP([updated] AS timestamp) FROM [app].[t] WHERE [updated] >= <2024-01-02 00:00:00>");
	assert_true(json_is_true(json_object_get(out, "track")));
	assert_string_equal(json_string_value(json_object_get(json_object_get(out, "window"), "from")),
			    "2024-01-02 00:00:00");
	json_decref(out);
	tdef_release(&def);

	/* a cursor of a type that cannot only grow, and one the table lacks */
	json_object_set_new(opts, "cursor", json_string("name"));
	assert_null(resolve("incremental", opts, "t", &ctx, &def, why));
	assert_non_null(strstr(why, "must be a timestamp, date or integer"));
	tdef_release(&def);
	json_object_set_new(opts, "cursor", json_string("gone"));
	assert_null(resolve("incremental", opts, "t", &ctx, &def, why));
	assert_non_null(strstr(why, "\"gone\""));
	tdef_release(&def);
	json_decref(opts);
	json_decref(marks);
}

static void test_backfill_bounds_asked_of_the_source(void **state)
{
	(void)state;
	struct tdef def;
	char why[512] = "";
	json_t *opts = json_pack("{s:s}", "cursor", "n");
	json_t *params = json_pack("{s:i,s:i}", "from", 10, "to", 20);
	struct plan_ctx ctx = {.params = params};
	assert_true(strategy_is_backfill(&ctx));
	json_t *out = resolve("incremental", opts, "t", &ctx, &def, why);
	assert_non_null(out);
	assert_string_equal(def.filter, "[n] >= <10> AND [n] < <20>");
	assert_true(json_is_false(json_object_get(out, "track")));
	json_decref(out);
	tdef_release(&def);
	json_decref(params);
	params = json_pack("{s:s}", "from", "yesterday");
	ctx.params = params;
	assert_null(resolve("incremental", opts, "t", &ctx, &def, why));
	assert_non_null(strstr(why, "yesterday is not a integer"));
	tdef_release(&def);
	/* a backfill loads only incremental tables */
	assert_null(resolve("replace", NULL, "t", &ctx, &def, why));
	assert_non_null(strstr(why, "only loads tables in mode incremental"));
	tdef_release(&def);
	json_decref(params);
	json_decref(opts);
}

static void test_delete_flag_and_swap(void **state)
{
	(void)state;
	struct tdef def;
	char why[512] = "";
	json_t *opts = json_pack("{s:s}", "delete_flag", "deleted");
	json_t *out = resolve("upsert", opts, "t", NULL, &def, why);
	assert_non_null(out);
	assert_string_equal(def.extra_select, "FLAG([deleted])");
	json_decref(out);
	tdef_release(&def);
	assert_null(resolve("append", opts, "t", NULL, &def, why));
	assert_non_null(strstr(why, "needs a key"));
	tdef_release(&def);
	json_decref(opts);
	fake_def(&def, "t");
	def.relkind = 'p';
	assert_null(strategy_resolve(&fake, "swap", NULL, "app.t", NULL, &def, why, sizeof(why)));
	assert_non_null(strstr(why, "cannot replace a partitioned table"));
	tdef_release(&def);
}

/* plan_build on the fake: loads resolved, text copies, types of every table, objects refused. */
static void test_plan_build(void **state)
{
	(void)state;
	json_t *spec = spec_of("\"load\": {\"mode\": \"upsert\"}");
	struct job *job = job_parse(spec);
	struct plan p;
	struct err e;
	err_clear(&e);
	types_calls = 0;
	assert_true(plan_build(&fake, NULL, job, NULL, NULL, &p, &e));
	assert_int_equal(p.n, 2);
	assert_string_equal(p.t[0].error, "");
	assert_non_null(p.t[0].load);
	assert_non_null(strstr(p.t[1].error, "needs a \"key\""));
	assert_false(p.t[0].binary); /* the fake cannot read PostgreSQL's binary COPY format */
	assert_int_equal(types_calls, 1);
	assert_int_equal(types_seen, 1); /* the table with an error needs no types */
	plan_release(&p);
	job_free(job);
	json_decref(spec);

	spec = spec_of("\"objects\": \"all\"");
	job = job_parse(spec);
	assert_false(plan_build(&fake, NULL, job, NULL, NULL, &p, &e));
	assert_string_equal(e.field, "objects");
	assert_non_null(strstr(e.msg, "a fake source carries its tables only"));
	plan_release(&p);
	job_free(job);
	json_decref(spec);
}

/* ---- the copy description a table's task carries, as the planner writes it and the loader reads it */

static void f_select_sql(struct source *s, const struct tdef *def, struct sb *out)
{
	(void)s;
	sb_addf(out, "SELECT [id], [n] FROM [%s].[%s]%s%s", def->src.schema, def->src.name,
		def->filter ? " WHERE " : "", def->filter ? def->filter : "");
}

static bool f_plain_sql(struct source *s, const struct tdef *def, struct sb *out)
{
	(void)s;
	(void)def;
	(void)out;
	return false;
}

static int f_split(struct source *s, const char *relation, int n, char **conds, struct err *e)
{
	(void)s;
	(void)relation;
	(void)conds;
	(void)e;
	return n;
}

static void f_checksum(struct source *s, long long *rows, unsigned long long *sum)
{
	(void)s;
	*rows = 0;
	*sum = 0;
}

static char *t_qualified(struct target *t, const char *schema, const char *name)
{
	(void)t;
	return xasprintf("\"%s\".\"%s\"", schema, name);
}

static void t_column_list(struct target *t, const struct tdef *def, struct sb *out)
{
	(void)t;
	for (int i = 0; i < def->ncols; i++)
		if (!def->cols[i].generated)
			sb_addf(out, "%s\"%s\"", out->len ? ", " : "", def->cols[i].target);
}

static const struct target_ops fake_target_ops = {
	.kind = "fake",
	.qualified = t_qualified,
	.column_list = t_column_list,
};

/*
 * The copy description of app.t planned with a job's load settings and
 * read back as the loader reads it. create: this run creates the table;
 * bytes: the source's size estimate; filter: the table's where.
 */
static json_t *describe(const char *load, bool create, long long bytes, const char *filter,
			struct copy_desc *d)
{
	struct source_ops ops = fake_ops;
	ops.select_sql = f_select_sql;
	ops.plain_sql = f_plain_sql;
	ops.split = f_split;
	ops.checksum = f_checksum;
	struct source src = {&ops};
	struct target dst = {&fake_target_ops};
	json_t *spec = spec_of(load);
	struct job *job = job_parse(spec);
	struct plan p;
	memset(&p, 0, sizeof(p));
	struct plan_table *t = plan_add(&p);
	fake_def(&t->def, "t");
	t->def.cols[2].generated = xstrdup("now()"); /* updated: computed on the target, never copied */
	t->def.filter = filter ? xstrdup(filter) : NULL;
	t->st.src = t->def.src;
	t->st.dst = t->def.dst;
	t->st.bytes_estimate = bytes;
	t->create = create;
	t->leaf = true;
	str_copy(t->mode, sizeof(t->mode), "replace");
	json_t *j = plan_copy_spec(&src, &dst, job, &p, t);
	struct err e;
	err_clear(&e);
	if (!copy_desc_read(j, d, &e))
		fail_msg("copy description refused: %s", e.msg);
	plan_release(&p);
	job_free(job);
	json_decref(spec);
	return j;
}

static void test_copy_description(void **state)
{
	(void)state;
	struct copy_desc d;
	/* 10 MB with parts of 1 MB and 4 copy slots: four parts, the relation in the source's quoting */
	json_t *j = describe("\"load\": {\"parallel\": 4, \"split_bytes\": 1048576}", true, 10 << 20, NULL, &d);
	assert_string_equal(d.select, "SELECT [id], [n] FROM [app].[t]");
	assert_string_equal(d.columns, "\"id\", \"n\", \"name\"");
	assert_string_equal(d.relation, "[app].[t]");
	assert_false(d.binary);
	assert_true(d.created);
	assert_int_equal(d.relkind, 'r');
	assert_null(d.plain);
	assert_true(d.split);
	assert_string_equal(d.split_relation, "[app].[t]");
	assert_false(d.split_filtered);
	assert_int_equal(d.split_streams, 4);
	/* a checksum the connector sums: one kind a copied column, the generated one left out */
	assert_non_null(d.kinds);
	assert_int_equal(json_array_size(d.kinds), 3);
	copy_desc_release(&d);
	json_decref(j);

	/* 2.5 parts' worth: three parts; a where of its own is joined with AND */
	j = describe("\"load\": {\"parallel\": 4, \"split_bytes\": 1048576}", true, 5 << 19, "[n] > <0>", &d);
	assert_string_equal(d.select, "SELECT [id], [n] FROM [app].[t] WHERE [n] > <0>");
	assert_true(d.split);
	assert_true(d.split_filtered);
	assert_int_equal(d.split_streams, 3);
	copy_desc_release(&d);
	json_decref(j);

	/* never split: a table the run does not create, one no bigger than a part, one copy slot, split_bytes 0 */
	const struct {
		const char *load;
		bool create;
		long long bytes;
	} whole[] = {
		{"\"load\": {\"parallel\": 4, \"split_bytes\": 1048576}", false, 10 << 20},
		{"\"load\": {\"parallel\": 4, \"split_bytes\": 1048576}", true, 1 << 20},
		{"\"load\": {\"parallel\": 1, \"split_bytes\": 1048576}", true, 10 << 20},
		{"\"load\": {\"parallel\": 4, \"split_bytes\": 0}", true, 10 << 20},
	};
	for (size_t i = 0; i < sizeof(whole) / sizeof(whole[0]); i++) {
		j = describe(whole[i].load, whole[i].create, whole[i].bytes, NULL, &d);
		if (d.split)
			fail_msg("case %zu split into %d parts", i, d.split_streams);
		assert_int_equal(d.created, whole[i].create);
		copy_desc_release(&d);
		json_decref(j);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_upsert_key_from_the_source),
		cmocka_unit_test(test_incremental_in_the_sources_dialect),
		cmocka_unit_test(test_backfill_bounds_asked_of_the_source),
		cmocka_unit_test(test_delete_flag_and_swap),
		cmocka_unit_test(test_plan_build),
		cmocka_unit_test(test_copy_description),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

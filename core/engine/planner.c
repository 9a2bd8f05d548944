/* core/engine/planner.c: turn a job and the live source into a run's plan: tables, target DDL, copy statements, post-load steps */
#include "planner.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "job.h"
#include "rowhash.h"
#include "sb.h"
#include "sql.h"
#include "util.h"
#include "banned.h"

struct plan_table *plan_add(struct plan *p)
{
	p->t = xrealloc(p->t, sizeof(*p->t) * (size_t)(p->n + 1));
	struct plan_table *t = &p->t[p->n++];
	memset(t, 0, sizeof(*t));
	t->parent = -1;
	t->target_rows = -1;
	return t;
}

void plan_release(struct plan *p)
{
	for (int i = 0; i < p->n; i++) {
		free(p->t[i].st.filter);
		tdef_release(&p->t[i].def);
		json_decref(p->t[i].load);
	}
	free(p->t);
	json_decref(p->types);
	json_decref(p->warnings);
	json_decref(p->point_info);
	if (p->objects)
		objects_release(p->objects);
	free(p->objects);
	memset(p, 0, sizeof(*p));
}

static void table_error(struct plan_table *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void table_error(struct plan_table *t, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(t->error, sizeof(t->error), fmt, ap);
	va_end(ap);
}

/* The table a partition belongs to at the top of its tree (t itself for a table). */
static const struct plan_table *plan_root(const struct plan *p, const struct plan_table *t)
{
	while (t->parent >= 0)
		t = &p->t[t->parent];
	return t;
}

/* The job's options for table t: those of its tree's top table. */
const struct job_table *plan_options(const struct job *job, const struct plan *p, const struct plan_table *t)
{
	const struct plan_table *root = plan_root(p, t);
	return job_table_options(job, root->st.src.schema, root->st.src.name);
}

/*
 * Whether table i is created, and when its target exists, whether it can be
 * loaded there; kind is its relkind on the target (0: none). True when its
 * target columns are to be compared with the source's.
 */
static bool target_decide(const struct job *job, struct plan *p, int i, char kind)
{
	struct plan_table *t = &p->t[i];
	t->target_relkind = kind;
	bool parent_created = t->parent >= 0 && p->t[t->parent].create;
	if (!strcmp(t->mode, "drop") || parent_created)
		t->create = true;
	else if (!kind)
		t->create = job->load.create;
	if (!kind && !t->create) {
		table_error(t, "target: table %s does not exist and load.create is false",
			    t->st.dst_label);
		return false;
	}
	if (t->create) {
		t->binary = true;
		return false;
	}
	if (kind != 'r' && kind != 'p') {
		table_error(t, "target: %s exists and is not a table", t->st.dst_label);
		return false;
	}
	return t->leaf;
}

/* Compare the target columns of table t (cols[0..n), NULL when unknown) with its source columns. */
static void target_columns(struct plan_table *t, const struct column *cols, int n)
{
	t->binary = true;
	for (int c = 0; c < t->def.ncols && cols; c++) {
		const struct tdef_column *col = &t->def.cols[c];
		if (col->generated)
			continue;
		int j = 0;
		while (j < n && strcmp(cols[j].name, col->target))
			j++;
		if (j == n) {
			table_error(t, "target: table %s has no column \"%s\"", t->st.dst_label,
				    col->target);
			break;
		}
		if (cols[j].generated) {
			table_error(t, "target: column \"%s\" of %s is generated there and cannot be loaded",
				    col->target, t->st.dst_label);
			break;
		}
		if (strcmp(cols[j].type, col->type))
			t->binary = false;
	}
}

/*
 * Describe the target side of every table without an error: exists? rows
 * (when count_rows)? binary-compatible columns? The catalog is read for
 * all tables at once.
 */
static void check_targets(struct target *dst, const struct job *job, struct plan *p, bool count_rows)
{
	int *idx = xcalloc((size_t)p->n + 1, sizeof(*idx));
	const struct qualname **names = xcalloc((size_t)p->n + 1, sizeof(*names));
	char *kinds = xcalloc((size_t)p->n + 1, 1);
	long long *rows = xcalloc((size_t)p->n + 1, sizeof(*rows));
	struct column *cols = NULL;
	int n = 0;
	for (int i = 0; i < p->n; i++) {
		if (!*p->t[i].error) {
			idx[n] = i;
			names[n++] = &p->t[i].st.dst;
		}
	}
	struct err e;
	err_clear(&e);
	if (n == 0)
		goto out;
	if (!dst->ops->relkinds(dst, names, n, kinds, &e)) {
		for (int j = 0; j < n; j++)
			table_error(&p->t[idx[j]], "target: %s", e.msg);
		goto out;
	}
	/* from here on, idx and names hold the tables whose target columns are compared */
	int m = 0;
	for (int j = 0; j < n; j++) {
		if (target_decide(job, p, idx[j], kinds[j])) {
			idx[m] = idx[j];
			names[m++] = names[j];
		}
	}
	if (count_rows && dst->ops->count_rows(dst, names, m, 1, rows, &e))
		for (int j = 0; j < m; j++)
			p->t[idx[j]].target_rows = rows[j];
	err_clear(&e);
	int nc = m ? dst->ops->columns(dst, names, m, &cols, &e) : 0;
	for (int j = 0, c = 0; j < m; j++) {
		int first = c;
		while (c < nc && cols[c].table == j)
			c++;
		target_columns(&p->t[idx[j]], nc >= 0 ? cols + first : NULL, c - first);
	}
out:
	free(cols);
	free(rows);
	free(kinds);
	free(names);
	free(idx);
}

/* Decide how each table that holds rows loads; a table that cannot load so gets its error. */
static void resolve_loads(struct source *src, const struct job *job, const struct plan_ctx *ctx, struct plan *p)
{
	for (int i = 0; i < p->n; i++) {
		struct plan_table *t = &p->t[i];
		if (*t->error || !t->leaf)
			continue;
		t->load = strategy_resolve(src, t->mode, plan_options(job, p, t), t->st.src_label,
					   ctx, &t->def, t->error, sizeof(t->error));
	}
}

bool plan_build(struct source *src, struct target *dst, const struct job *job, json_t *requested,
		const struct plan_ctx *ctx, struct plan *p, struct err *e)
{
	memset(p, 0, sizeof(*p));
	if (job->all_objects && !src->ops->objects)
		return err_set(e, 400, "invalid_field", "objects",
			       "objects \"all\" needs a PostgreSQL source: a %s source carries its tables only",
			       src->ops->kind);
	if (!src->ops->plan(src, job, requested, ctx, p, e))
		return false;
	if (dst)
		check_targets(dst, job, p, !(ctx && ctx->skip_target_rows));
	if (!src->ops->pg_binary)
		for (int i = 0; i < p->n; i++)
			p->t[i].binary = false;
	resolve_loads(src, job, ctx, p);
	struct tdef *defs = xcalloc((size_t)p->n + 1, sizeof(*defs));
	int nd = 0;
	for (int i = 0; i < p->n; i++)
		if (!*p->t[i].error && (p->t[i].create || !dst))
			defs[nd++] = p->t[i].def;
	bool typed = src->ops->types(src, p, defs, nd, e);
	free(defs);
	if (!typed)
		return false;
	/* a backfill reloads cursor windows of tables the job's runs made: nothing else is due */
	if (!job->all_objects || !p->n || strategy_is_backfill(ctx))
		return true;
	return src->ops->objects(src, job, dst, ctx ? ctx->snapshot : NULL, p, e);
}

/*
 * Mark copy to be loaded in parts when the job's load.split_bytes allows it:
 * the run creates the table, it is a plain table bigger than split_bytes
 * and load.parallel is 2 or more. streams is load.parallel or fewer, one
 * part per split_bytes. Whether a load does split is decided when it
 * starts (see load_run).
 */
static void plan_split(struct source *src, const struct job *job, const struct plan_table *t, json_t *copy)
{
	long long limit = job->load.split_bytes, bytes = t->st.bytes_estimate;
	int parallel = job->load.parallel;
	if (limit <= 0 || bytes <= limit || parallel < 2 || !t->create || t->def.relkind != 'r' ||
	    t->def.extra_select)
		return;
	long long parts = (bytes + limit - 1) / limit;
	int streams = parts < parallel ? (int)parts : parallel;
	char *rel = src->ops->qualified(src, t->def.src.schema, t->def.src.name);
	json_object_set_new(copy, "split", json_pack("{s:s,s:b,s:i}", "relation", rel, "filtered",
						     t->def.filter != NULL, "streams", streams));
	free(rel);
}

json_t *plan_copy_spec(struct source *src, struct target *dst, const struct job *job, const struct plan *p,
		       const struct plan_table *t)
{
	struct sb select, cols;
	sb_init(&select);
	sb_init(&cols);
	src->ops->select_sql(src, &t->def, &select);
	dst->ops->column_list(dst, &t->def, &cols);
	/* a partition's sequences belong to the columns of its partitioned table */
	const struct plan_table *owner = t;
	while (owner->parent >= 0)
		owner = &p->t[owner->parent];
	char *table = dst->ops->qualified(dst, owner->st.dst.schema, owner->st.dst.name);
	json_t *seqs = json_array();
	for (int i = 0; i < owner->def.ncols; i++) {
		const struct tdef_column *col = &owner->def.cols[i];
		if (col->sequence)
			json_array_append_new(seqs, json_pack("{s:s,s:s,s:s}", "source", col->sequence,
							      "table", table, "column", col->target));
		/* a sequence the default calls keeps its source name on the target */
		for (int u = 0; u < col->nuses; u++)
			json_array_append_new(seqs, json_pack("{s:s,s:s}", "source", col->uses[u].name,
							      "target", col->uses[u].name));
	}
	free(table);
	char relkind[2] = {t->create ? 'r' : (t->target_relkind ? t->target_relkind : 'r'), 0};
	bool marked = p->mark && (!strcmp(t->mode, "append") || !strcmp(t->mode, "fail"));
	json_t *out = json_pack("{s:s,s:s,s:s,s:b,s:s,s:o,s:b}", "select", select.buf, "columns",
				cols.buf, "format", t->binary ? "binary" : "text", "created",
				t->create, "relkind", relkind, "sequences", seqs, "mark", marked);
	if (t->load)
		json_object_update(out, t->load);
	struct sb source;
	sb_init(&source);
	if (src->ops->plain_sql(src, &t->def, &source))
		json_object_set_new(out, "source", json_string(source.buf));
	json_t *conv = NULL;
	for (int i = 0; i < t->def.ncols; i++) {
		if (t->def.cols[i].generated)
			continue;
		if (*t->def.cols[i].conv && !conv) {
			conv = json_array();
			for (int k = 0; k < i; k++)
				if (!t->def.cols[k].generated)
					json_array_append_new(conv, json_string(""));
		}
		if (conv)
			json_array_append_new(conv, json_string(t->def.cols[i].conv));
	}
	if (conv)
		json_object_set_new(out, "conv", conv);
	char *rel = src->ops->qualified(src, t->def.src.schema, t->def.src.name);
	json_object_set_new(out, "relation", json_string(rel));
	free(rel);
	if (src->ops->checksum) {
		/* how each column's text is read for the checksum both sides compute alike */
		json_t *kinds = json_array();
		for (int i = 0; i < t->def.ncols; i++)
			if (!t->def.cols[i].generated)
				json_array_append_new(kinds, json_string(rh_kind_name(rh_kind_of(t->def.cols[i].type))));
		json_object_set_new(out, "kinds", kinds);
	}
	if (src->ops->split)
		plan_split(src, job, t, out);
	sb_release(&source);
	sb_release(&select);
	sb_release(&cols);
	return out;
}

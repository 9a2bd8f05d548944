/* core/engine/runplan.c: planning a run: its consistent point, its plan stored as tasks in one metadata transaction */
#include "engine_int.h"

#include <errno.h>
#include <signal.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "copydesc.h"
#include "planner.h"
#include "dsn.h"
#include "job.h"
#include "target.h"
#include "log.h"
#include "sql.h"
#include "util.h"
#include "banned.h"

/*
 * Open the run's consistent point on a fresh source connection, which holds
 * it until closed; NULL with e filled on failure. What the connector says of
 * the point goes to the run's events.
 */
struct source *open_snapshot(struct engine *en, const char *run_id, const struct job *job,
				    char *snap_id, size_t n, struct err *e)
{
	struct source *c = source_open(job, e);
	if (!c)
		return NULL;
	json_t *info = NULL;
	char *warning = NULL;
	if (!c->ops->hold_point(c, job, en->nworkers, snap_id, n, &info, &warning, e)) {
		source_close(c);
		return NULL;
	}
	if (warning)
		meta_event(en->meta, run_id, "warning", NULL, "snapshot", "%s", warning);
	if (info) {
		char *text = json_dumps(info, JSON_COMPACT);
		meta_event(en->meta, run_id, "info", NULL, "snapshot", "the run reads the source at %s",
			   text ? text : "?");
		free(text);
	}
	free(warning);
	json_decref(info);
	return c;
}

/*
 * Append a task row of table t to rows: its seq, the table's names and
 * estimates, then fields (stolen). False when a text is not valid UTF-8.
 */
static bool add_task(json_t *rows, int seq, const struct plan_table *t, json_t *fields)
{
	json_t *row = json_pack("{s:i,s:s,s:s,s:s,s:s,s:s,s:s,s:s?,s:I,s:I}", "seq", seq,
				"source_schema", t->st.src.schema, "source_table", t->st.src.name,
				"target_schema", t->st.dst.schema, "target_table", t->st.dst.name,
				"source_label", t->st.src_label, "target_label", t->st.dst_label,
				"filter", t->st.filter, "rows_estimate", (json_int_t)t->st.rows_estimate,
				"bytes_estimate", (json_int_t)t->st.bytes_estimate);
	bool ok = row && fields && !json_object_update(row, fields);
	if (ok)
		json_array_append(rows, row);
	json_decref(row);
	json_decref(fields);
	return ok;
}

/* The plan entry that loads source table q, or NULL. */
static const struct plan_table *plan_find(const struct plan *p, const struct qualname *q)
{
	for (int i = 0; i < p->n; i++)
		if (!strcmp(p->t[i].st.src.schema, q->schema) && !strcmp(p->t[i].st.src.name, q->name))
			return &p->t[i];
	return NULL;
}

/* A foreign key's statement with the referenced table's source name replaced by its target name. */
static char *map_reference(struct target *c, const struct tdef_step *st, const struct plan_table *ref)
{
	char *from = xasprintf("REFERENCES %s(", st->ref_printed);
	char *dq = c->ops->qualified(c, ref->st.dst.schema, ref->st.dst.name);
	char *to = xasprintf("REFERENCES %s(", dq);
	const char *hit = strstr(st->sql, from);
	char *mapped = hit ? xasprintf("%.*s%s%s", (int)(hit - st->sql), st->sql, to, hit + strlen(from))
			   : xstrdup(st->sql);
	free(from);
	free(dq);
	free(to);
	return mapped;
}

/*
 * Append the post-load steps of one created table to rows, and an event
 * for each step that is skipped to events ({level, table, kind, message}).
 */
static bool add_steps(struct target *c, json_t *rows, json_t *events, int *seq, const struct plan *p,
		      const struct plan_table *t)
{
	for (int s = 0; s < t->def.nsteps; s++) {
		const struct tdef_step *st = &t->def.steps[s];
		char *sql = NULL;
		char *skip = st->skip ? xstrdup(st->skip) : NULL;
		bool fk = !strcmp(st->kind, "foreign_key");
		const struct plan_table *ref = fk && st->sql ? plan_find(p, &st->ref) : NULL;
		if (fk && st->sql && !ref) {
			char label[300];
			qualname_format(&st->ref, label, sizeof(label));
			free(skip);
			skip = xasprintf("the referenced table %s is not in this run", label);
		}
		if (ref)
			sql = map_reference(c, st, ref);
		else if (st->sql)
			sql = xstrdup(st->sql);
		int phase = t->leaf && !fk ? 1 : 2;
		json_t *fields = json_pack("{s:s,s:s?,s:s,s:s,s:s,s:i,s:o?,s:s?,s:s?}", "kind", "step",
			"parent_label", t->parent_label[0] ? t->parent_label : NULL, "step_kind", st->kind,
			"step_name", st->name, "step_sql", sql ? sql : "", "phase", phase,
			"waits_for", phase == 1 && t->task_seq > 0 ? json_integer(t->task_seq) : NULL,
			"state", skip ? "skipped" : NULL, "error", skip);
		bool ok = add_task(rows, ++*seq, t, fields);
		if (ok && skip) {
			char *msg = xasprintf("skipped %s %s: %s", st->kind, st->name, skip);
			json_array_append_new(events, json_pack("{s:s,s:s,s:s,s:s}", "level", "warning",
				"table", t->st.src_label, "kind", st->kind, "message", msg));
			free(msg);
		}
		free(sql);
		free(skip);
		if (!ok)
			return false;
	}
	return true;
}

/* Append the job's after statements to rows: steps of phase 3, each waiting for the one before it. */
static bool add_after_steps(json_t *rows, int *seq, const struct job *job)
{
	struct plan_table after;
	memset(&after, 0, sizeof(after));
	str_copy(after.st.src_label, sizeof(after.st.src_label), AFTER_LABEL);
	str_copy(after.st.dst_label, sizeof(after.st.dst_label), AFTER_LABEL);
	int prev = 0;
	for (int i = 0; i < job->nafter; i++) {
		json_t *fields = json_pack("{s:s,s:s,s:s?,s:s?,s:i,s:o?}", "kind", "step", "step_kind",
			"after", "step_name", job->after[i].name, "step_sql", job->after[i].sql, "phase", 3,
			"waits_for", prev ? json_integer(prev) : NULL);
		if (!add_task(rows, ++*seq, &after, fields))
			return false;
		prev = *seq;
	}
	return true;
}

/* At most this many objects skipped by the plan get an event each; the rest are counted. */
#define SKIP_EVENTS 200

/* The step seq of publication pub (the first word of name: "pub table"), or 0. */
static int publication_step(const struct objects *o, const char *name)
{
	size_t n = strcspn(name, " ");
	for (int i = 0; i < o->n; i++)
		if (!strcmp(o->o[i].type, "PUBLICATION") && strlen(o->o[i].name) == n &&
		    !strncmp(o->o[i].name, name, n))
			return o->o[i].task_seq;
	return 0;
}

/*
 * Append the objects that go after the data (triggers, rules, policies,
 * grants, comments on them, refreshes of materialized views …) to rows as
 * steps of phase 2, and an event for each object the plan skips to events.
 * A refresh waits for the one before it (pg_dump's order puts a
 * materialized view after those it reads), a comment for its object, a
 * publication's table for the publication. An object that could not be
 * created before the data is an errored step, so that the run fails naming it.
 */
static bool add_object_steps(struct target *dst, json_t *rows, json_t *events, int *seq, struct objects *o)
{
	struct plan_table holder;
	memset(&holder, 0, sizeof(holder));
	str_copy(holder.st.src_label, sizeof(holder.st.src_label), OBJECTS_LABEL);
	str_copy(holder.st.dst_label, sizeof(holder.st.dst_label), OBJECTS_LABEL);
	int refresh = 0, skipped = 0;
	for (int i = 0; i < o->n; i++) {
		struct obj *ob = &o->o[i];
		char *label = objects_label(o, i);
		bool ok = true;
		if (ob->fate == OBJ_SKIP && !ob->failed) {
			if (++skipped <= SKIP_EVENTS) {
				char *msg = xasprintf("skipped %s: %s", label, ob->why ? ob->why : "");
				json_array_append_new(events, json_pack("{s:s,s:s,s:s}", "level", "warning",
					"kind", "object_skipped", "message", msg));
				free(msg);
			}
		} else if (ob->failed || (ob->post && *ob->sql)) {
			int wait = 0;
			if (!strcmp(ob->type, "MATERIALIZED VIEW DATA"))
				wait = refresh;
			else if (ob->parent >= 0)
				wait = o->o[ob->parent].task_seq;
			else if (!strncmp(ob->type, "PUBLICATION ", 12))
				wait = publication_step(o, ob->name);
			char *sql = ob->failed ? NULL : dst->ops->object_sql(dst, ob->sql);
			json_t *fields = json_pack("{s:s,s:s,s:s,s:s,s:i,s:o?,s:s?,s:s?}", "kind", "step",
				"step_kind", "object", "step_name", label, "step_sql", sql ? sql : "",
				"phase", 2, "waits_for", wait ? json_integer(wait) : NULL,
				"state", ob->failed ? "errored" : NULL, "error", ob->failed ? ob->why : NULL);
			ok = add_task(rows, ++*seq, &holder, fields);
			ob->task_seq = *seq;
			if (!strcmp(ob->type, "MATERIALIZED VIEW DATA"))
				refresh = *seq;
			free(sql);
		}
		free(label);
		if (!ok)
			return false;
	}
	if (skipped > SKIP_EVENTS) {
		char *msg = xasprintf("skipped %d more objects: the job's plan lists them all with their reasons",
				      skipped - SKIP_EVENTS);
		json_array_append_new(events, json_pack("{s:s,s:s,s:s}", "level", "warning", "kind",
							"object_skipped", "message", msg));
		free(msg);
	}
	return true;
}

/*
 * The rows of every task of the plan, in seq order: a copy task per table
 * that holds rows or has an error, the post-load steps of the created
 * tables, the job's after statements. Events to record go to events. NULL
 * with e filled when a text cannot be stored.
 */
/*
 * What a row weighs, in bytes copied, when tasks are ordered: each row
 * costs its bytes and as much again as about 64 bytes (converting and
 * checking its values, on both servers and here), and each post-load index
 * build sorts every row at about what copying 40 bytes of it costs (both
 * measured on the bench's shapes, two cores).
 */
#define COPY_ROW_WEIGHT 64
#define INDEX_ROW_WEIGHT 40

/* A copy task before it gets its seq: the table, its copy description and the weight it is ordered by. */
struct ordered {
	int table;
	json_t *copy;
	double weight;
};

/*
 * How long table t keeps the run busy from its copy's start to its last
 * index, in bytes copied by one stream: its bytes and rows over the streams
 * it is copied with, then its index builds, as many at a time as
 * load.index_parallel.
 */
static double chain_weight(const struct job *job, const struct plan_table *t, json_t *copy)
{
	json_t *split = json_object_get(copy, "split");
	long long streams = split ? json_integer_value(json_object_get(split, "streams")) : 1;
	double rows = t->st.rows_estimate > 0 ? (double)t->st.rows_estimate : 0;
	double w = ((double)(t->st.bytes_estimate > 0 ? t->st.bytes_estimate : 0) + rows * COPY_ROW_WEIGHT) /
		   (double)(streams > 1 ? streams : 1);
	int builds = 0;
	for (int s = 0; t->create && s < t->def.nsteps; s++) {
		const struct tdef_step *st = &t->def.steps[s];
		if (st->sql && !st->skip && (!strcmp(st->kind, "primary_key") || !strcmp(st->kind, "unique") ||
					     !strcmp(st->kind, "index") || !strcmp(st->kind, "exclusion")))
			builds++;
	}
	if (builds) {
		int at_once = job->load.index_parallel < builds ? job->load.index_parallel : builds;
		w += rows * INDEX_ROW_WEIGHT * builds / (at_once > 0 ? at_once : 1);
	}
	return w;
}

/* Heaviest first; a tie keeps the plan's order. */
static int ordered_cmp(const void *a, const void *b)
{
	const struct ordered *x = a, *y = b;
	if (x->weight != y->weight)
		return x->weight < y->weight ? 1 : -1;
	return x->table - y->table;
}

static json_t *plan_tasks(struct plan *p, const struct job *job, struct source *src, struct target *quoting,
			  json_t *events, struct err *e)
{
	json_t *rows = json_array();
	int seq = 0, n = 0;
	bool ok = true;
	/*
	 * Copies are claimed in seq order: the table whose copy and index
	 * builds take longest starts first, so the run does not end with one
	 * long table alone on a slot (tables that cannot load come first: they
	 * take no slot).
	 */
	struct ordered *order = xcalloc((size_t)p->n + 1, sizeof(*order));
	for (int i = 0; i < p->n; i++) {
		struct plan_table *t = &p->t[i];
		if (!t->leaf && !*t->error)
			continue;
		json_t *copy = *t->error ? NULL : plan_copy_spec(src, quoting, job, p, t);
		order[n++] = (struct ordered){.table = i, .copy = copy,
					      .weight = copy ? chain_weight(job, t, copy) : 1e300};
	}
	qsort(order, (size_t)n, sizeof(*order), ordered_cmp);
	for (int k = 0; k < n; k++) {
		struct plan_table *t = &p->t[order[k].table];
		json_t *copy = order[k].copy;
		order[k].copy = NULL;
		if (!ok) {
			json_decref(copy);
			continue;
		}
		t->task_seq = ++seq;
		ok = add_task(rows, seq, t, json_pack("{s:s,s:o?,s:s?,s:i,s:s?,s:s?}", "kind", "copy",
			"copy", copy, "parent_label", t->parent_label[0] ? t->parent_label : NULL,
			"phase", 0, "state", *t->error ? "errored" : NULL,
			"error", *t->error ? t->error : NULL));
		if (*t->error)
			json_array_append_new(events, json_pack("{s:s,s:s,s:s,s:s}", "level", "error",
				"table", t->st.src_label, "kind", "table_failed", "message", t->error));
	}
	free(order);
	for (int i = 0; i < p->n && ok; i++)
		if (p->t[i].create && !*p->t[i].error)
			ok = add_steps(quoting, rows, events, &seq, p, &p->t[i]);
	if (p->objects)
		ok = ok && add_object_steps(quoting, rows, events, &seq, p->objects);
	ok = ok && add_after_steps(rows, &seq, job);
	if (ok)
		return rows;
	json_decref(rows);
	err_set(e, 500, "internal", NULL, "a task of the plan holds text that is not valid UTF-8");
	return NULL;
}

/* Insert the run's tasks, its events and its snapshot id in one metadata transaction. */
static bool store_plan(struct engine *en, const char *run_id, const struct job *job, struct plan *p,
		       struct source *src, struct target *quoting, const char *snap_id, struct err *e)
{
	json_t *events = json_array();
	json_t *rows = plan_tasks(p, job, src, quoting, events, e);
	char *text = rows ? json_dumps(rows, JSON_COMPACT) : NULL;
	json_decref(rows);
	struct meta_conn *c = text ? meta_acquire(en->meta, e) : NULL;
	struct meta_rows *res = NULL;
	bool ok = false;
	const char *rp[] = {run_id, snap_id};
	const char *tp[] = {run_id, text};
	if (!c || !meta_begin(c, e) || !(res = meta_exec_on(c, sql_run_lock_running, 1, rp, e)))
		goto out;
	if (meta_nrows(res) == 0) {
		err_set(e, 409, "conflict", NULL, "run was cancelled while it was planned");
		goto out;
	}
	if (!meta_run_on(c, sql_tasks_insert, 2, tp, e))
		goto out;
	size_t i;
	json_t *ev;
	json_array_foreach(events, i, ev) {
		meta_event_on(c, run_id, json_string_value(json_object_get(ev, "level")),
			      json_string_value(json_object_get(ev, "table")),
			      json_string_value(json_object_get(ev, "kind")), "%s",
			      json_string_value(json_object_get(ev, "message")));
	}
	ok = meta_run_on(c, sql_run_set_snapshot, 2, rp, e) && meta_commit(c, e);
out:
	meta_rows_free(res);
	if (c && !ok)
		meta_rollback(c);
	meta_release(en->meta, c);
	free(text);
	json_decref(events);
	return ok;
}

struct note_ctx {
	struct engine *en;
	const char *run_id;
};

static void plan_note(void *arg, const char *level, const char *table, const char *kind,
		      const char *msg)
{
	struct note_ctx *n = arg;
	meta_event(n->en->meta, n->run_id, level, table, kind, "%s", msg);
}

static void plan_run(struct engine *en, const char *run_id, const struct job *job, json_t *requested,
		     struct plan_ctx *ctx)
{
	struct err e;
	char snap_id[128];
	struct plan plan = {0};
	struct target *dst = NULL;
	err_clear(&e);
	meta_event(en->meta, run_id, "info", NULL, "run_started", "run started on %s", en->instance);
	int64_t t0 = now_ms();
	struct source *snap = open_snapshot(en, run_id, job, snap_id, sizeof(snap_id), &e);
	ctx->snapshot = snap_id;
	if (!snap || !(dst = target_open(job, &e)) ||
	    !plan_build(snap, dst, job, requested, ctx, &plan, &e)) {
		fail_run(en, run_id, snap, e.msg);
		goto out;
	}
	if (plan.n == 0) {
		fail_run(en, run_id, snap, strategy_is_backfill(ctx)
			 ? "a backfill run loads the job's incremental tables, and the job selects none"
			 : "no source table matches the job's include and exclude patterns");
		goto out;
	}
	struct note_ctx note = {en, run_id};
	dst->ops->create(dst, job, &plan, plan_note, &note, &e);
	size_t wi;
	json_t *w;
	json_array_foreach(plan.warnings, wi, w)
		meta_event(en->meta, run_id, "warning", NULL, "plan", "%s", json_string_value(w));
	if (!store_plan(en, run_id, job, &plan, snap, dst, snap_id, &e)) {
		source_close(snap);
		if (e.status == 409)
			finish_if_done(en, run_id);
		else
			fail_run(en, run_id, NULL, e.msg);
		goto out;
	}
	long long rows = 0, bytes = 0;
	int tables = 0;
	for (int i = 0; i < plan.n; i++) {
		if (!plan.t[i].leaf)
			continue;
		tables++;
		rows += plan.t[i].st.rows_estimate;
		bytes += plan.t[i].st.bytes_estimate;
	}
	hold_snapshot(en, run_id, snap);
	meta_event(en->meta, run_id, "info", NULL, "planned",
		   "planned %d tables, about %lld rows and %lld bytes, snapshot %s, in %lld ms",
		   tables, rows, bytes, snap_id, (long long)(now_ms() - t0));
	finish_if_done(en, run_id);
out:
	target_close(dst);
	plan_release(&plan);
}

/* Claim one queued run and plan it. True when there was one. */
/*
 * Whether to look for a queued run now: at once when this process queued
 * one (engine_wake), otherwise once a second (another ferryd may have).
 */
/* Whether a look for queued runs is due at now; the caller holds lock. */
bool runs_look_due(const struct engine *en, int64_t now)
{
	return en->runs_waiting || now - en->runs_checked_ms >= 1000;
}

static bool run_check_due(struct engine *en)
{
	int64_t now = now_ms();
	pthread_mutex_lock(&en->lock);
	bool due = runs_look_due(en, now);
	if (due) {
		en->runs_waiting = false;
		en->runs_checked_ms = now;
	}
	pthread_mutex_unlock(&en->lock);
	return due;
}

bool plan_next_run(struct engine *en)
{
	if (!run_check_due(en))
		return false;
	struct err e;
	err_clear(&e);
	const char *params[] = {en->instance};
	struct meta_rows *res = meta_exec(en->meta, sql_run_claim, 1, params, &e);
	if (!res || meta_nrows(res) == 0) {
		meta_rows_free(res);
		return false;
	}
	char run_id[37];
	str_copy(run_id, sizeof(run_id), meta_value(res, 0, 0));
	pthread_mutex_lock(&en->lock);
	en->runs_waiting = true; /* there may be another */
	pthread_mutex_unlock(&en->lock);
	struct job *job = job_from_text(meta_value(res, 0, 1));
	json_t *requested = *meta_value(res, 0, 2) ? json_loads(meta_value(res, 0, 2), 0, NULL) : NULL;
	struct plan_ctx ctx = {NULL, json_loads(meta_value(res, 0, 4), 0, NULL), true, NULL};
	const char *jp[] = {meta_value(res, 0, 3)};
	struct meta_rows *marks = meta_exec(en->meta, sql_marks_for_job, 1, jp, &e);
	if (marks)
		ctx.marks = json_loads(meta_value(marks, 0, 0), 0, NULL);
	meta_rows_free(marks);
	meta_rows_free(res);
	if (!marks)
		fail_run(en, run_id, NULL, e.msg);
	else
		plan_run(en, run_id, job, requested, &ctx);
	job_free(job);
	json_decref(requested);
	json_decref(ctx.marks);
	json_decref(ctx.params);
	return true;
}

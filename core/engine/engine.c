/* core/engine/engine.c: the run engine: worker threads that plan runs and load their tables */
#include "engine.h"

#include <errno.h>
#include <signal.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "catalog.h"
#include "copydesc.h"
#include "planner.h"
#include "db.h"
#include "dsn.h"
#include "job.h"
#include "load.h"
#include "log.h"
#include "sql.h"
#include "util.h"
#include "banned.h"

#define HEARTBEAT_S 5
#define SHUTDOWN_REASON "interrupted: ferryd shut down"
#define AFTER_LABEL "(after)"
/* The table label of the steps that create the source's other objects. */
#define OBJECTS_LABEL "(objects)"

/* A table being loaded by one of this process's workers. */
struct active {
	long long task_id;
	char run_id[37];
	char label[300];
	void *src_cancel;     /* owned: the source connector's (src_ops) */
	const struct source_ops *src_ops;
	PGcancel *dst_cancel; /* owned */
	bool stop;
	struct engine *en;
	struct active *next;
};

/* A run this process planned: it holds the source snapshot open. */
struct run_ctx {
	char run_id[37];
	struct source *snap; /* owned: holds the run's consistent point (see hold_point) */
	uint64_t gen; /* moves whenever this process has changed the run or one of its tasks */
	int changing; /* changes of the run or its tasks under way (the final one included) */
	struct run_ctx *next;
};

struct engine {
	struct meta *meta;
	char instance[37];
	int nworkers;
	pthread_t *threads; /* owned */
	pthread_t housekeeper;
	pthread_mutex_t lock; /* guards everything below and the lists */
	pthread_cond_t wake; /* the workers': work may be waiting */
	pthread_cond_t tick; /* the housekeeper's: woken only to stop */
	pthread_mutex_t claim_lock; /* serialises task claims, so load.parallel holds */
	bool stopping;
	bool runs_waiting;       /* a run may have been queued since the last look */
	int64_t runs_checked_ms; /* when a worker last looked for queued runs */
	struct active *active;
	struct run_ctx *runs;
	/*
	 * The tasks a worker holds, from its claim to the round trip that
	 * stores its outcome: at most two a worker (the next one is claimed in
	 * that round trip).
	 */
	long long *hand; /* owned: 2 * nworkers */
	int nhand;
	unsigned restarts_seen; /* meta_restarts() when lost bookkeeping was last looked for */
	/*
	 * Never held across a query, so that a request thread may ask about the
	 * runs at any time: changing the list of runs takes lock, then gen_lock;
	 * reading it takes either. Guards each run's gen and changing, gen_seq,
	 * claiming and the watcher.
	 */
	pthread_mutex_t gen_lock;
	/* one consistent point is made at a time: tables failing together need one new one */
	pthread_mutex_t snap_lock;
	uint64_t gen_seq;
	int claiming; /* task claims under way: they may change any run's tasks */
	void (*watch)(void *arg);
	void *watch_arg;
};

/* A claimed task as read back from the metadata database. */
struct task {
	long long id;
	char run_id[37];
	struct qualname src, dst;
	char src_label[300], dst_label[300];
	json_t *spec; /* owned */
	char snapshot[128];
	bool step;    /* a post-load step rather than a table copy */
	json_t *copy; /* owned: copy description (copy tasks) */
	char step_kind[32];
	char step_name[128];
	char *step_sql; /* owned */
	int attempts;   /* this one included */
	bool more;      /* when it was claimed, another claim might have found a task too */
	/*
	 * A task that loaded holds its outcome back (held) when hold is set,
	 * so that it goes to the metadata database in one round trip with the
	 * run's close check and the next claim (settle).
	 */
	bool hold;
	struct outcome *held; /* owned */
};

/*
 * A task's outcome and the event that tells it, as the parameters of
 * task_finish.sql. State, level, kind and table are borrowed: literals, or
 * texts of the task, which outlives its outcome.
 */
struct outcome {
	char id[32], rows[32], bytes[32];
	char *validation; /* owned */
	char *error;      /* owned; NULL for none */
	char msg[2048];
	const char *params[11];
};

static void outcome_free(struct outcome *o)
{
	if (!o)
		return;
	free(o->validation);
	free(o->error);
	free(o);
}

static void task_release(struct task *t)
{
	json_decref(t->spec);
	json_decref(t->copy);
	free(t->step_sql);
	outcome_free(t->held);
	t->held = NULL;
}

/* The run_ctx of run_id, or NULL; the caller holds lock or gen_lock. */
static struct run_ctx *run_find(struct engine *en, const char *run_id)
{
	struct run_ctx *rc = en->runs;
	while (rc && strcmp(rc->run_id, run_id))
		rc = rc->next;
	return rc;
}

/* Release gen_lock, then, when tell is true, tell the watcher that a change is done. */
static void gen_unlock_tell(struct engine *en, bool tell)
{
	void (*watch)(void *) = tell ? en->watch : NULL;
	void *arg = en->watch_arg;
	pthread_mutex_unlock(&en->gen_lock);
	if (watch)
		watch(arg);
}

/*
 * This process is about to change run_id or one of its tasks (delta 1) or
 * has finished doing so (-1): move the run's generation, and once the
 * change is done tell the watcher. Nothing for a run it does not hold (a
 * change begun before the run was held ends without a count to undo).
 */
static void run_changed(struct engine *en, const char *run_id, int delta)
{
	pthread_mutex_lock(&en->gen_lock);
	struct run_ctx *rc = run_find(en, run_id);
	if (rc) {
		rc->gen = ++en->gen_seq;
		rc->changing = rc->changing + delta > 0 ? rc->changing + delta : 0;
	}
	gen_unlock_tell(en, rc && delta <= 0);
}

/* A task claim begins: it may change any run's tasks, so until claim_done every run counts as changing. */
static void claim_begin(struct engine *en)
{
	pthread_mutex_lock(&en->gen_lock);
	en->claiming++;
	pthread_mutex_unlock(&en->gen_lock);
}

/* The claim is done: run_id names the run of the task it claimed (NULL: none), whose generation moves. */
static void claim_done(struct engine *en, const char *run_id)
{
	pthread_mutex_lock(&en->gen_lock);
	struct run_ctx *rc = run_id ? run_find(en, run_id) : NULL;
	if (rc)
		rc->gen = ++en->gen_seq;
	en->claiming--;
	gen_unlock_tell(en, rc != NULL);
}

/* Run a metadata statement that changes run_id or its tasks, marked as such while it runs. */
static PGresult *run_exec(struct engine *en, const char *run_id, const char *sql, int n,
			  const char *const *params, struct err *e)
{
	run_changed(en, run_id, 1);
	PGresult *res = meta_exec(en->meta, sql, n, params, e);
	run_changed(en, run_id, -1);
	return res;
}

static void engine_release_run(struct engine *en, const char *run_id)
{
	struct run_ctx *found = NULL;
	pthread_mutex_lock(&en->lock);
	pthread_mutex_lock(&en->gen_lock);
	for (struct run_ctx **pp = &en->runs; *pp; pp = &(*pp)->next) {
		if (!strcmp((*pp)->run_id, run_id)) {
			found = *pp;
			*pp = found->next;
			break;
		}
	}
	pthread_mutex_unlock(&en->gen_lock);
	pthread_mutex_unlock(&en->lock);
	if (found) {
		source_close(found->snap);
		free(found);
	}
}

/* Keep the connection that exported a run's snapshot until the run ends, and wake the workers. */
static void hold_snapshot(struct engine *en, const char *run_id, struct source *snap)
{
	struct run_ctx *rc = xcalloc(1, sizeof(*rc));
	str_copy(rc->run_id, sizeof(rc->run_id), run_id);
	rc->snap = snap;
	pthread_mutex_lock(&en->lock);
	pthread_mutex_lock(&en->gen_lock);
	rc->gen = ++en->gen_seq;
	rc->next = en->runs;
	en->runs = rc;
	pthread_mutex_unlock(&en->gen_lock);
	pthread_cond_broadcast(&en->wake);
	pthread_mutex_unlock(&en->lock);
}

/*
 * After run_finish.sql (res, or NULL when it failed), begun with
 * run_changed(en, run_id, 1): a run it closed is let go; otherwise the
 * change is over.
 */
static void run_closed(struct engine *en, const char *run_id, PGresult *res)
{
	if (res && PQntuples(res) == 1) {
		const char *state = PQgetvalue(res, 0, 0);
		const char *error = PQgetvalue(res, 0, 1);
		const char *level = !strcmp(state, "succeeded")   ? "info"
				    : !strcmp(state, "cancelled") ? "warning"
								  : "error";
		/* run_finish.sql recorded the run_finished event */
		meta_event_log(run_id, level, NULL, "run %s%s%s", state, *error ? ": " : "", error);
		engine_release_run(en, run_id);
	} else {
		run_changed(en, run_id, -1);
	}
}

/*
 * Close the run when none of its tables is queued or loading any more.
 * From before the final state is written until the run is let go, the run
 * counts as changing: nothing read about it before may be served.
 */
static void finish_if_done(struct engine *en, const char *run_id)
{
	struct err e;
	err_clear(&e);
	const char *params[] = {run_id};
	run_changed(en, run_id, 1);
	PGresult *res = meta_exec(en->meta, sql_run_finish, 1, params, &e);
	run_closed(en, run_id, res);
	PQclear(res);
}

static void fail_run(struct engine *en, const char *run_id, struct source *snap, const char *msg)
{
	const char *params[] = {run_id, msg};
	struct err e;
	err_clear(&e);
	PQclear(meta_exec(en->meta, sql_run_fail, 2, params, &e));
	/* run_fail.sql recorded the run_finished event */
	meta_event_log(run_id, "error", NULL, "run failed: %s", msg);
	source_close(snap);
}

/*
 * Open the run's consistent point on a fresh source connection, which holds
 * it until closed; NULL with e filled on failure. What the connector says of
 * the point goes to the run's events.
 */
static struct source *open_snapshot(struct engine *en, const char *run_id, json_t *spec,
				    char *snap_id, size_t n, struct err *e)
{
	struct source *c = source_open(spec, e);
	if (!c)
		return NULL;
	json_t *info = NULL;
	char *warning = NULL;
	if (!c->ops->hold_point(c, spec, en->nworkers, snap_id, n, &info, &warning, e)) {
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
static char *map_reference(PGconn *c, const struct tdef_step *st, const struct plan_table *ref)
{
	char *from = xasprintf("REFERENCES %s(", st->ref_printed);
	char *dq = db_qualified(c, ref->st.dst.schema, ref->st.dst.name);
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
static bool add_steps(PGconn *c, json_t *rows, json_t *events, int *seq, const struct plan *p,
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
static bool add_after_steps(json_t *rows, int *seq, json_t *spec)
{
	struct plan_table after;
	memset(&after, 0, sizeof(after));
	str_copy(after.st.src_label, sizeof(after.st.src_label), AFTER_LABEL);
	str_copy(after.st.dst_label, sizeof(after.st.dst_label), AFTER_LABEL);
	int prev = 0;
	size_t i;
	json_t *a;
	json_array_foreach(json_object_get(spec, "after"), i, a) {
		json_t *fields = json_pack("{s:s,s:s,s:s?,s:s?,s:i,s:o?}", "kind", "step", "step_kind",
			"after", "step_name", json_string_value(json_object_get(a, "name")), "step_sql",
			json_string_value(json_object_get(a, "sql")), "phase", 3, "waits_for",
			prev ? json_integer(prev) : NULL);
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
static bool add_object_steps(json_t *rows, json_t *events, int *seq, struct objects *o)
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
			char *sql = ob->failed ? NULL : objects_step_sql(o, i);
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
static json_t *plan_tasks(struct plan *p, json_t *spec, struct source *src, PGconn *quoting,
			  json_t *events, struct err *e)
{
	json_t *rows = json_array();
	int seq = 0;
	bool ok = true;
	for (int i = 0; i < p->n && ok; i++) {
		struct plan_table *t = &p->t[i];
		if (!t->leaf && !*t->error)
			continue;
		json_t *copy = *t->error ? NULL : plan_copy_spec(src, quoting, spec, p, t);
		t->task_seq = ++seq;
		ok = add_task(rows, seq, t, json_pack("{s:s,s:o?,s:s?,s:i,s:s?,s:s?}", "kind", "copy",
			"copy", copy, "parent_label", t->parent_label[0] ? t->parent_label : NULL,
			"phase", 0, "state", *t->error ? "errored" : NULL,
			"error", *t->error ? t->error : NULL));
		if (*t->error)
			json_array_append_new(events, json_pack("{s:s,s:s,s:s,s:s}", "level", "error",
				"table", t->st.src_label, "kind", "table_failed", "message", t->error));
	}
	for (int i = 0; i < p->n && ok; i++)
		if (p->t[i].create && !*p->t[i].error)
			ok = add_steps(quoting, rows, events, &seq, p, &p->t[i]);
	if (p->objects)
		ok = ok && add_object_steps(rows, events, &seq, p->objects);
	ok = ok && add_after_steps(rows, &seq, spec);
	if (ok)
		return rows;
	json_decref(rows);
	err_set(e, 500, "internal", NULL, "a task of the plan holds text that is not valid UTF-8");
	return NULL;
}

/* Insert the run's tasks, its events and its snapshot id in one metadata transaction. */
static bool store_plan(struct engine *en, const char *run_id, json_t *spec, struct plan *p,
		       struct source *src, PGconn *quoting, const char *snap_id, struct err *e)
{
	json_t *events = json_array();
	json_t *rows = plan_tasks(p, spec, src, quoting, events, e);
	char *text = rows ? json_dumps(rows, JSON_COMPACT) : NULL;
	json_decref(rows);
	PGconn *c = text ? meta_acquire(en->meta, e) : NULL;
	PGresult *res = NULL;
	bool ok = false;
	const char *rp[] = {run_id, snap_id};
	const char *tp[] = {run_id, text};
	if (!c || !db_simple(c, "BEGIN", e) || !(res = db_exec(c, sql_run_lock_running, 1, rp, e)))
		goto out;
	if (PQntuples(res) == 0) {
		err_set(e, 409, "conflict", NULL, "run was cancelled while it was planned");
		goto out;
	}
	if (!db_run(c, sql_tasks_insert, 2, tp, e))
		goto out;
	size_t i;
	json_t *ev;
	json_array_foreach(events, i, ev) {
		meta_event_on(c, run_id, json_string_value(json_object_get(ev, "level")),
			      json_string_value(json_object_get(ev, "table")),
			      json_string_value(json_object_get(ev, "kind")), "%s",
			      json_string_value(json_object_get(ev, "message")));
	}
	ok = db_run(c, sql_run_set_snapshot, 2, rp, e) && db_simple(c, "COMMIT", e);
out:
	PQclear(res);
	if (c && !ok)
		db_simple(c, "ROLLBACK", NULL);
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

static void plan_run(struct engine *en, const char *run_id, json_t *spec, json_t *requested,
		     struct plan_ctx *ctx)
{
	struct err e;
	char snap_id[128];
	struct plan plan = {0};
	PGconn *dst = NULL;
	err_clear(&e);
	meta_event(en->meta, run_id, "info", NULL, "run_started", "run started on %s", en->instance);
	int64_t t0 = now_ms();
	struct source *snap = open_snapshot(en, run_id, spec, snap_id, sizeof(snap_id), &e);
	ctx->snapshot = snap_id;
	if (!snap || !(dst = job_connect(spec, "target", &e)) ||
	    !plan_build(snap, dst, spec, requested, ctx, &plan, &e)) {
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
	plan_create_targets(dst, spec, &plan, plan_note, &note, &e);
	size_t wi;
	json_t *w;
	json_array_foreach(plan.warnings, wi, w)
		meta_event(en->meta, run_id, "warning", NULL, "plan", "%s", json_string_value(w));
	if (!store_plan(en, run_id, spec, &plan, snap, dst, snap_id, &e)) {
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
	PQfinish(dst);
	plan_release(&plan);
}

/* Claim one queued run and plan it. True when there was one. */
/*
 * Whether to look for a queued run now: at once when this process queued
 * one (engine_wake), otherwise once a second (another ferryd may have).
 */
/* Whether a look for queued runs is due at now; the caller holds lock. */
static bool runs_look_due(const struct engine *en, int64_t now)
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

static bool plan_next_run(struct engine *en)
{
	if (!run_check_due(en))
		return false;
	struct err e;
	err_clear(&e);
	const char *params[] = {en->instance};
	PGresult *res = meta_exec(en->meta, sql_run_claim, 1, params, &e);
	if (!res || PQntuples(res) == 0) {
		PQclear(res);
		return false;
	}
	char run_id[37];
	str_copy(run_id, sizeof(run_id), PQgetvalue(res, 0, 0));
	pthread_mutex_lock(&en->lock);
	en->runs_waiting = true; /* there may be another */
	pthread_mutex_unlock(&en->lock);
	json_t *spec = json_loads(PQgetvalue(res, 0, 1), 0, NULL);
	json_t *requested = *PQgetvalue(res, 0, 2) ? json_loads(PQgetvalue(res, 0, 2), 0, NULL) : NULL;
	struct plan_ctx ctx = {NULL, json_loads(PQgetvalue(res, 0, 4), 0, NULL), true, NULL};
	const char *jp[] = {PQgetvalue(res, 0, 3)};
	PGresult *marks = meta_exec(en->meta, sql_marks_for_job, 1, jp, &e);
	if (marks)
		ctx.marks = json_loads(PQgetvalue(marks, 0, 0), 0, NULL);
	PQclear(marks);
	PQclear(res);
	if (!marks)
		fail_run(en, run_id, NULL, e.msg);
	else
		plan_run(en, run_id, spec, requested, &ctx);
	json_decref(spec);
	json_decref(requested);
	json_decref(ctx.marks);
	json_decref(ctx.params);
	return true;
}

/* The task res (task_claim.sql's result, or NULL) claimed into t; false when none (t untouched). */
static bool claim_read(PGresult *res, struct task *t)
{
	bool got = res && PQntuples(res) == 1;
	if (got) {
		memset(t, 0, sizeof(*t));
		t->id = atoll(PQgetvalue(res, 0, 0));
		str_copy(t->run_id, sizeof(t->run_id), PQgetvalue(res, 0, 1));
		str_copy(t->src.schema, sizeof(t->src.schema), PQgetvalue(res, 0, 2));
		str_copy(t->src.name, sizeof(t->src.name), PQgetvalue(res, 0, 3));
		str_copy(t->dst.schema, sizeof(t->dst.schema), PQgetvalue(res, 0, 4));
		str_copy(t->dst.name, sizeof(t->dst.name), PQgetvalue(res, 0, 5));
		str_copy(t->src_label, sizeof(t->src_label), PQgetvalue(res, 0, 6));
		str_copy(t->dst_label, sizeof(t->dst_label), PQgetvalue(res, 0, 7));
		t->spec = json_loads(PQgetvalue(res, 0, 9), 0, NULL);
		str_copy(t->snapshot, sizeof(t->snapshot), PQgetvalue(res, 0, 10));
		t->step = !strcmp(PQgetvalue(res, 0, 11), "step");
		t->copy = *PQgetvalue(res, 0, 12) ? json_loads(PQgetvalue(res, 0, 12), 0, NULL) : NULL;
		str_copy(t->step_kind, sizeof(t->step_kind), PQgetvalue(res, 0, 13));
		str_copy(t->step_name, sizeof(t->step_name), PQgetvalue(res, 0, 14));
		t->step_sql = xstrdup(PQgetvalue(res, 0, 15));
		t->attempts = atoi(PQgetvalue(res, 0, 16));
		t->more = PQgetvalue(res, 0, 18)[0] == 't';
	}
	bool usable = got && t->spec && (t->step || t->copy);
	if (got && !usable)
		task_release(t);
	return usable;
}

/* Whether a worker holds task id; the caller holds lock. */
static bool in_hand(struct engine *en, long long id)
{
	for (int i = 0; i < en->nhand; i++)
		if (en->hand[i] == id)
			return true;
	return false;
}

/* The worker has written the outcome of task id (or put it back): it holds it no more. */
static void hand_drop(struct engine *en, long long id)
{
	pthread_mutex_lock(&en->lock);
	for (int i = 0; i < en->nhand; i++) {
		if (en->hand[i] == id) {
			en->hand[i] = en->hand[--en->nhand];
			break;
		}
	}
	pthread_mutex_unlock(&en->lock);
}

/* A claim starts: one at a time per process, so load.parallel holds. */
static void claim_start(struct engine *en)
{
	pthread_mutex_lock(&en->claim_lock);
	claim_begin(en);
}

/*
 * The claim ended with res (task_claim.sql's result, or NULL; cleared here):
 * the task into t, if any. A task a worker already holds is not taken twice:
 * its claim was lost when the metadata database restarted, so it looked
 * queued, and its worker's outcome will settle it.
 */
static bool claim_end(struct engine *en, PGresult *res, struct task *t)
{
	bool got = claim_read(res, t);
	if (got) {
		pthread_mutex_lock(&en->lock);
		bool twice = in_hand(en, t->id);
		if (!twice && en->nhand < 2 * en->nworkers)
			en->hand[en->nhand++] = t->id;
		pthread_mutex_unlock(&en->lock);
		if (twice) {
			log_info("run %s table %s: a worker is already loading it (its claim was lost in a metadata database restart)",
				 t->run_id, t->src_label);
			task_release(t);
			got = false;
		}
	}
	claim_done(en, res && PQntuples(res) == 1 ? PQgetvalue(res, 0, 1) : NULL);
	pthread_mutex_unlock(&en->claim_lock);
	PQclear(res);
	return got;
}

static bool claim_task(struct engine *en, struct task *t)
{
	struct err e;
	err_clear(&e);
	const char *params[] = {en->instance};
	claim_start(en);
	return claim_end(en, meta_exec(en->meta, sql_task_claim, 1, params, &e), t);
}

static void hook_connections(void *arg, struct source *src, PGconn *dst)
{
	struct active *a = arg;
	void *s = src ? src->ops->cancel_new(src) : NULL;
	PGcancel *d = dst ? PQgetCancel(dst) : NULL;
	pthread_mutex_lock(&a->en->lock);
	void *old_s = a->src_cancel;
	const struct source_ops *old_ops = a->src_ops;
	PGcancel *old_d = a->dst_cancel;
	a->src_cancel = s;
	a->src_ops = src ? src->ops : NULL;
	a->dst_cancel = d;
	bool stop = a->stop;
	pthread_mutex_unlock(&a->en->lock);
	if (old_s)
		old_ops->cancel_free(old_s);
	PQfreeCancel(old_d);
	if (stop && (s || d)) {
		char buf[256];
		if (s)
			src->ops->cancel(s);
		if (d)
			PQcancel(d, buf, sizeof(buf));
	}
}

static bool hook_progress(void *arg, long long rows, long long bytes)
{
	struct active *a = arg;
	char id[32], r[32], b[32];
	snprintf(id, sizeof(id), "%lld", a->task_id);
	snprintf(r, sizeof(r), "%lld", rows);
	snprintf(b, sizeof(b), "%lld", bytes);
	const char *params[] = {id, r, b};
	struct err e;
	err_clear(&e);
	PGresult *res = meta_exec(a->en->meta, sql_task_progress, 3, params, &e);
	bool cancelling = res && PQntuples(res) && !strcmp(PQgetvalue(res, 0, 0), "cancelling");
	PQclear(res);
	pthread_mutex_lock(&a->en->lock);
	if (cancelling)
		a->stop = true;
	bool go = !a->stop;
	pthread_mutex_unlock(&a->en->lock);
	return go;
}

static void hook_step(void *arg, const char *kind, const char *fmt, ...)
{
	struct active *a = arg;
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	meta_event(a->en->meta, a->run_id, "info", a->label, kind, "%s", msg);
}

static void active_add(struct engine *en, struct active *a)
{
	pthread_mutex_lock(&en->lock);
	a->stop = en->stopping;
	a->next = en->active;
	en->active = a;
	pthread_mutex_unlock(&en->lock);
}

static void active_remove(struct engine *en, struct active *a)
{
	pthread_mutex_lock(&en->lock);
	for (struct active **pp = &en->active; *pp; pp = &(*pp)->next) {
		if (*pp == a) {
			*pp = a->next;
			break;
		}
	}
	pthread_mutex_unlock(&en->lock);
	if (a->src_cancel)
		a->src_ops->cancel_free(a->src_cancel);
	PQfreeCancel(a->dst_cancel);
}

/*
 * Whether doing the task again gives the same target: a copy that empties
 * or merges into its table in the load's transaction. Its claim and outcome
 * commit without waiting for the metadata database's WAL flush (task_claim.sql
 * picks the same modes); a crash of that database may lose them, and the
 * table is then loaded again (recover_lost).
 */
static bool repeatable(const struct task *t)
{
	static const char *const modes[] = {"replace", "drop", "swap", "upsert", NULL};
	if (t->step)
		return false;
	const char *m = json_string_value(json_object_get(t->copy, "mode"));
	if (!m)
		m = job_load_mode(t->spec);
	for (int i = 0; m && modes[i]; i++)
		if (!strcmp(m, modes[i]))
			return true;
	return false;
}

/*
 * Record the outcome of one task and the event that tells it (level, table
 * or NULL, kind, message) in one statement.
 */
static void task_done(struct engine *en, struct task *t, const char *state,
		      const struct load_result *r, const char *error, const char *level,
		      const char *table, const char *kind, const char *fmt, ...)
	__attribute__((format(printf, 9, 10)));

static void task_done(struct engine *en, struct task *t, const char *state,
		      const struct load_result *r, const char *error, const char *level,
		      const char *table, const char *kind, const char *fmt, ...)
{
	struct outcome *o = xcalloc(1, sizeof(*o));
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(o->msg, sizeof(o->msg), fmt, ap);
	va_end(ap);
	snprintf(o->id, sizeof(o->id), "%lld", t->id);
	snprintf(o->rows, sizeof(o->rows), "%lld", r->rows);
	snprintf(o->bytes, sizeof(o->bytes), "%lld", r->bytes);
	o->validation = json_dumps(r->validation, JSON_COMPACT);
	o->error = error ? xstrdup(error) : NULL;
	const char *params[] = {o->id, state, o->rows, o->bytes, o->error ? o->error : "",
				o->validation, level, table, kind, o->msg, repeatable(t) ? "off" : "on"};
	memcpy(o->params, params, sizeof(params));
	if (t->hold && !t->held && !strcmp(state, "loaded")) {
		t->held = o;
		return;
	}
	struct err e;
	err_clear(&e);
	PGresult *res = run_exec(en, t->run_id, sql_task_finish, 11, o->params, &e);
	if (!res)
		log_warn("could not record the outcome of task %s of run %s: %s", o->id, t->run_id, e.msg);
	PQclear(res);
	meta_event_log(t->run_id, level, table, "%s", o->msg);
	outcome_free(o);
}

/* Steps that waited for a table that did not load will never run: say so. */
static void skip_dependents(struct engine *en, struct task *t)
{
	char id[32];
	snprintf(id, sizeof(id), "%lld", t->id);
	const char *p[] = {id, "its table did not load"};
	struct err e;
	err_clear(&e);
	PGresult *res = run_exec(en, t->run_id, sql_task_skip_dependents, 2, p, &e);
	for (int i = 0; res && i < PQntuples(res); i++)
		meta_event(en->meta, t->run_id, "warning", t->src_label, PQgetvalue(res, i, 0),
			   "skipped %s %s: its table did not load", PQgetvalue(res, i, 0),
			   PQgetvalue(res, i, 1));
	PQclear(res);
}

/* The job's after statements wait for every table: when one did not load (or one failed), say so. */
static void skip_after(struct engine *en, const char *run_id, const char *why)
{
	const char *p[] = {run_id, why};
	struct err e;
	err_clear(&e);
	PGresult *res = run_exec(en, run_id, sql_task_skip_after, 2, p, &e);
	for (int i = 0; res && i < PQntuples(res); i++)
		meta_event(en->meta, run_id, "warning", NULL, "after", "skipped after step %s: %s",
			   PQgetvalue(res, i, 0), why);
	PQclear(res);
}

/* An incremental table committed: its high-water mark moves to what this load read. */
static void move_mark(struct engine *en, struct task *t, const struct load_result *r)
{
	char rows[32];
	snprintf(rows, sizeof(rows), "%lld", r->rows);
	const char *p[] = {t->run_id, t->src_label,
			   json_string_value(json_object_get(t->copy, "cursor")),
			   json_string_value(json_object_get(t->copy, "cursor_type")), r->mark, rows};
	struct err e;
	err_clear(&e);
	PGresult *res = meta_exec(en->meta, sql_mark_set, 6, p, &e);
	if (res)
		meta_event(en->meta, t->run_id, "info", t->src_label, "mark",
			   "high-water mark of cursor %s is now %s", p[2], r->mark);
	else
		meta_event(en->meta, t->run_id, "warning", t->src_label, "mark",
			   "could not store the high-water mark %s (%s): the next run reads from the previous one again",
			   r->mark, e.msg);
	PQclear(res);
}

/*
 * Errors worth another attempt: the connection broke or could not be made,
 * the server is shutting down or restarting, a serialization failure or a
 * deadlock. Everything else (types, permissions, constraints, bad SQL) is
 * permanent.
 */
static bool transient(const struct err *e)
{
	static const char *const codes[] = {"copy_failed", "source_unreachable",
					    "target_unreachable", "unavailable", NULL};
	/* PostgreSQL's SQLSTATEs and MySQL's error numbers of failures that pass */
	static const char *const states[] = {"40001", "40P01", "57P01", "57P02", "57P03", "53300",
					     "55P03", "MY2002", "MY2003", "MY2006", "MY2013",
					     "MY1053", "MY1205", "MY1213", "MY1927", "MY4031", NULL};
	const char *state = *e->state ? e->state : e->code;
	if (!strncmp(state, "08", 2))
		return true;
	for (const char *const *c = codes; *c; c++)
		if (!strcmp(e->code, *c))
			return true;
	for (const char *const *c = states; *c; c++)
		if (!strcmp(state, *c))
			return true;
	return false;
}

/* The source snapshot of a run died with its connection (a source restart): export a new one. */
static void renew_snapshot(struct engine *en, const char *run_id, json_t *spec);

static void ensure_snapshot(struct engine *en, const char *run_id, json_t *spec)
{
	pthread_mutex_lock(&en->snap_lock);
	renew_snapshot(en, run_id, spec);
	pthread_mutex_unlock(&en->snap_lock);
}

static void renew_snapshot(struct engine *en, const char *run_id, json_t *spec)
{
	struct run_ctx *rc;
	bool alive = true;
	pthread_mutex_lock(&en->lock);
	rc = run_find(en, run_id);
	if (rc)
		alive = rc->snap->ops->point_alive(rc->snap);
	pthread_mutex_unlock(&en->lock);
	if (!rc || alive)
		return;
	struct err e;
	err_clear(&e);
	char snap_id[128];
	struct source *fresh = open_snapshot(en, run_id, spec, snap_id, sizeof(snap_id), &e);
	if (!fresh) { /* the source is still down: the next attempt tries again */
		log_warn("run %s: no new consistent point on the source yet: %s", run_id, e.msg);
		return;
	}
	const char *p[] = {run_id, snap_id};
	PQclear(meta_exec(en->meta, sql_run_set_snapshot, 2, p, &e));
	pthread_mutex_lock(&en->lock);
	if ((rc = run_find(en, run_id))) {
		source_close(rc->snap);
		rc->snap = fresh;
		fresh = NULL;
	}
	pthread_mutex_unlock(&en->lock);
	source_close(fresh);
	meta_event(en->meta, run_id, "warning", NULL, "snapshot",
		   "the source snapshot was lost with its connection; tables loaded from now on read a new one (%s)",
		   snap_id);
}

/*
 * After a transient failure, put the task back in the queue for a later
 * attempt if the job allows one more; true when it did.
 */
static bool retry_later(struct engine *en, struct task *t, const struct err *e, const char *msg)
{
	json_t *retry = json_object_get(t->spec, "retry");
	int allowed = 1 + (int)json_integer_value(json_object_get(retry, "attempts"));
	double delay = json_number_value(json_object_get(retry, "delay_s"));
	if (!transient(e) || t->attempts >= allowed)
		return false;
	for (int i = 1; i < t->attempts; i++)
		delay *= 2;
	char id[32], d[32];
	snprintf(id, sizeof(id), "%lld", t->id);
	snprintf(d, sizeof(d), "%.3f", delay);
	const char *p[] = {id, d, msg};
	struct err me;
	err_clear(&me);
	hand_drop(en, t->id); /* once queued, it may be claimed again */
	PGresult *res = run_exec(en, t->run_id, sql_task_retry, 3, p, &me);
	if (!res)
		return false;
	PQclear(res);
	meta_event(en->meta, t->run_id, "warning", t->src_label, t->step ? t->step_kind : "table_retry",
		   "attempt %d of %d failed: %s; trying again in %.1f s", t->attempts, allowed, msg,
		   delay);
	if (!t->step)
		ensure_snapshot(en, t->run_id, t->spec);
	return true;
}

static void run_copy(struct engine *en, struct task *t, struct active *a,
		     struct load_session *session)
{
	struct copy_desc cd;
	struct load_table lt = {.run_id = t->run_id, .task_id = t->id, .dst = t->dst,
				.dst_label = t->dst_label, .snapshot = t->snapshot, .spec = t->spec,
				.copy = &cd, .session = session,
				.attempt = t->attempts};
	struct load_hooks hooks = {hook_connections, hook_progress, hook_step, a};
	struct load_result r = {0};
	struct err e;
	err_clear(&e);
	bool described = copy_desc_read(t->copy, &cd, &e);
	/* the claim recorded the table_started event */
	meta_event_log(t->run_id, "info", t->src_label, "loading into %s (%s COPY)", t->dst_label,
		       cd.binary ? "binary" : "text");
	int64_t t0 = now_ms();
	bool ok = described && load_run(&lt, &hooks, &r, &e);
	copy_desc_release(&cd);
	double secs = (double)(now_ms() - t0) / 1000.0;
	pthread_mutex_lock(&en->lock);
	bool stopped = a->stop, shutting = en->stopping;
	pthread_mutex_unlock(&en->lock);
	if (ok) {
		t->hold = t->hold && !r.mark; /* the mark moves only once the outcome is stored */
		task_done(en, t, "loaded", &r, NULL, "info", t->src_label, "table_loaded",
			  "loaded %lld rows (%lld bytes) in %.2f s, %.0f rows/s", r.rows, r.bytes, secs,
			  secs > 0 ? (double)r.rows / secs : 0.0);
		if (r.mark)
			move_mark(en, t, &r);
	} else if (stopped) {
		const char *why = shutting ? SHUTDOWN_REASON : "cancelled by request";
		r.rows = r.bytes = 0; /* rolled back: nothing of it stayed on the target */
		task_done(en, t, "cancelled", &r, why, "warning", t->src_label, "table_cancelled",
			  "%s; its partial load was rolled back", why);
	} else {
		char *a1 = dsn_scrub(e.msg, job_source_dsn(t->spec));
		char *msg = dsn_scrub(a1, job_target_dsn(t->spec));
		r.rows = r.bytes = 0; /* rolled back: nothing of it stayed on the target */
		if (retry_later(en, t, &e, msg)) {
			ok = true; /* not finished: its steps keep waiting */
		} else {
			task_done(en, t, "errored", &r, msg, "error", t->src_label, "table_failed", "%s%s",
				  msg, t->attempts > 1 ? " (last of its attempts)" : "");
		}
		free(a1);
		free(msg);
	}
	if (!ok) {
		skip_dependents(en, t);
		skip_after(en, t->run_id, "a table of the run did not load");
	}
	json_decref(r.validation);
	free(r.mark);
}

/*
 * A step tried before (a retry, or a run resumed after a crash) may have
 * committed on the target without the metadata knowing: if its index (an
 * index step) or its constraint (any other) is there, it is done.
 */
static bool step_already_done(struct task *t)
{
	if (t->attempts < 2 || !strcmp(t->step_kind, "after") || !strcmp(t->step_kind, "object"))
		return false;
	struct err e;
	err_clear(&e);
	PGconn *dst = job_connect(t->spec, "target", &e);
	if (!dst)
		return false;
	const char *p[] = {t->dst.schema, t->dst.name, t->step_name, t->step_kind};
	PGresult *res = db_exec(dst, sql_target_index_exists, 4, p, &e);
	bool done = res && PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	PQfinish(dst);
	return done;
}

static void run_step(struct engine *en, struct task *t, struct active *a, struct load_session *session)
{
	struct load_hooks hooks = {hook_connections, NULL, NULL, a};
	struct load_result r = {0};
	struct err e;
	err_clear(&e);
	r.validation = json_pack("{s:s,s:n,s:n}", "state", "skipped", "source_rows", "target_rows");
	int64_t t0 = now_ms();
	bool ok = step_already_done(t) || load_step(t->spec, t->step_sql, &hooks, session, &e);
	long long ms = (long long)(now_ms() - t0);
	pthread_mutex_lock(&en->lock);
	bool stopped = a->stop;
	pthread_mutex_unlock(&en->lock);
	const char *what = !strcmp(t->step_kind, "index") ? "built index" : "added";
	bool after = !strcmp(t->step_kind, "after");
	bool object = !strcmp(t->step_kind, "object");
	const char *table = after || object ? NULL : t->src_label;
	/* an object the target has already (made by an earlier attempt, or there before) is kept */
	bool there = !ok && object && objects_exists_error(e.code);
	if (there) {
		task_done(en, t, "loaded", &r, NULL, "info", NULL, "object",
			  "%s is already on the target and is kept as it is", t->step_name);
	} else if (ok && object) {
		task_done(en, t, "loaded", &r, NULL, "info", NULL, "object", "created %s in %lld ms",
			  t->step_name, ms);
	} else if (ok && after) {
		task_done(en, t, "loaded", &r, NULL, "info", NULL, "after", "ran after step %s in %lld ms",
			  t->step_name, ms);
	} else if (ok) {
		task_done(en, t, "loaded", &r, NULL, "info", t->src_label, t->step_kind,
			  "%s %s%s%s in %lld ms", what, strcmp(t->step_kind, "index") ? t->step_kind : "",
			  strcmp(t->step_kind, "index") ? " " : "", t->step_name, ms);
	} else if (!stopped && retry_later(en, t, &e, e.msg)) {
		/* queued again */
	} else {
		char *msg = dsn_scrub(e.msg, job_target_dsn(t->spec));
		task_done(en, t, stopped ? "cancelled" : "errored", &r, msg, stopped ? "warning" : "error",
			  table, t->step_kind, "%s %s failed after %lld ms: %s",
			  after ? "after step" : object ? "creating" : t->step_kind, t->step_name, ms, msg);
		free(msg);
		if (after)
			skip_after(en, t->run_id, "an after step before it failed");
	}
	json_decref(r.validation);
}

/* Whether a worker that finished a task may claim the next at once (nothing to plan first, not stopping). */
static bool may_claim_next(struct engine *en)
{
	pthread_mutex_lock(&en->lock);
	bool may = !en->stopping && !runs_look_due(en, now_ms());
	pthread_mutex_unlock(&en->lock);
	return may;
}

/*
 * After a task: store its held outcome, close its run if nothing of it is
 * queued or loading any more and, when claim is set, claim the next task
 * into next, in one round trip (each statement in a transaction of its
 * own). True when next holds a claimed task.
 */
static bool settle(struct engine *en, struct task *t, bool claim, struct task *next)
{
	struct meta_stmt s[3] = {{0}};
	int n = 0, finish = -1, close, take = -1;
	const char *run[] = {t->run_id};
	const char *instance[] = {en->instance};
	if (t->held) {
		finish = n++;
		s[finish] = (struct meta_stmt){.sql = sql_task_finish, .n = 11, .params = t->held->params};
	}
	close = n++;
	s[close] = (struct meta_stmt){.sql = sql_run_finish, .n = 1, .params = run};
	if (claim) {
		take = n++;
		s[take] = (struct meta_stmt){.sql = sql_task_claim, .n = 1, .params = instance};
		claim_start(en);
	}
	run_changed(en, t->run_id, 1);
	meta_batch(en->meta, s, n);
	bool got = take >= 0 && claim_end(en, s[take].res, next);
	if (finish >= 0) {
		struct outcome *o = t->held;
		if (!s[finish].res)
			log_warn("could not record the outcome of task %s of run %s: %s", o->id, t->run_id,
				 s[finish].e.msg);
		PQclear(s[finish].res);
		meta_event_log(t->run_id, o->params[6], o->params[7], "%s", o->msg);
	}
	hand_drop(en, t->id);
	run_closed(en, t->run_id, s[close].res);
	PQclear(s[close].res);
	return got;
}

/* Run one claimed task; true when the next one was claimed into next on the way. */
static bool run_task(struct engine *en, struct task *t, struct load_session *session,
		     struct task *next)
{
	struct active a = {.task_id = t->id, .en = en};
	str_copy(a.run_id, sizeof(a.run_id), t->run_id);
	str_copy(a.label, sizeof(a.label), t->src_label);
	active_add(en, &a);
	t->hold = true;
	if (t->step)
		run_step(en, t, &a, session);
	else
		run_copy(en, t, &a, session);
	active_remove(en, &a);
	return settle(en, t, may_claim_next(en), next);
}

static void *worker_main(void *arg)
{
	struct engine *en = arg;
	/* the source and target connections of the last table, for the next one */
	struct load_session session = {0};
	meta_set_patient(true);
	for (;;) {
		pthread_mutex_lock(&en->lock);
		bool stopping = en->stopping;
		pthread_mutex_unlock(&en->lock);
		if (stopping)
			break;
		struct task t, next;
		if (plan_next_run(en))
			continue;
		bool got = claim_task(en, &t), worked = got;
		while (got) {
			/*
			 * When there may be more to claim, one sleeping worker
			 * looks while this one loads. A worker that finishes a
			 * task claims the next itself, in the round trip that
			 * stores the outcome.
			 */
			if (t.more) {
				pthread_mutex_lock(&en->lock);
				pthread_cond_signal(&en->wake);
				pthread_mutex_unlock(&en->lock);
			}
			got = run_task(en, &t, &session, &next);
			task_release(&t);
			if (got)
				t = next;
		}
		if (worked) /* look again: a run to plan, or a task the batch could not claim */
			continue;
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 1;
		bool idle = false;
		pthread_mutex_lock(&en->lock);
		if (!en->stopping)
			idle = pthread_cond_timedwait(&en->wake, &en->lock, &until) == ETIMEDOUT;
		pthread_mutex_unlock(&en->lock);
		if (idle) /* nothing to do for a second: hold no connection to anybody's database */
			load_session_close(&session);
	}
	load_session_close(&session);
	return NULL;
}

/* Forget instances on this host whose process is gone, so their runs can be taken over at once. */
static void forget_dead_neighbours(struct engine *en)
{
	char host[256] = "";
	gethostname(host, sizeof(host) - 1);
	struct err e;
	err_clear(&e);
	const char *p[] = {en->instance};
	PGresult *res = meta_exec(en->meta, sql_instances_others, 1, p, &e);
	for (int i = 0; res && i < PQntuples(res); i++) {
		pid_t pid = (pid_t)atoi(PQgetvalue(res, i, 2));
		if (strcmp(PQgetvalue(res, i, 1), host) || pid <= 0 || kill(pid, 0) == 0 || errno != ESRCH)
			continue;
		const char *ip[] = {PQgetvalue(res, i, 0)};
		PQclear(meta_exec(en->meta, sql_instance_remove, 1, ip, &e));
		log_info("ferryd instance %s (pid %d) is gone; its runs will be taken over", ip[0], (int)pid);
	}
	PQclear(res);
}

/* Did the load of copy task `id` commit on the target? Its rows, or -1 when not (or unknown). */
static long long committed_rows(PGconn *dst, const char *run_id, const char *id)
{
	struct err e;
	err_clear(&e);
	const char *p[] = {run_id, id};
	PGresult *res = dst ? db_exec(dst, sql_target_marker_get, 2, p, &e) : NULL;
	long long rows = res && PQntuples(res) ? atoll(PQgetvalue(res, 0, 0)) : -1;
	PQclear(res);
	return rows;
}

/*
 * Settle task id, left loading with nobody on it: loaded when its load
 * committed, else queued again. lost: the metadata database lost the record
 * of its end when it restarted (else the ferryd running it died).
 */
static void settle_orphan(struct engine *en, PGconn *dst, const char *run_id, const char *id,
			  bool copy, const char *label, bool lost)
{
	struct err e;
	err_clear(&e);
	long long rows = copy ? committed_rows(dst, run_id, id) : -1;
	const char *doing = copy ? "loading it" : "running it";
	if (rows >= 0) {
		char r[32];
		snprintf(r, sizeof(r), "%lld", rows);
		const char *mp[] = {id, r};
		PQclear(meta_exec(en->meta, sql_task_mark_loaded, 2, mp, &e));
		if (lost)
			meta_event(en->meta, run_id, "info", label, "table_loaded",
				   "its load of %lld rows had committed; the metadata database lost that record when it restarted",
				   rows);
		else
			meta_event(en->meta, run_id, "info", label, "table_loaded",
				   "its load of %lld rows had committed before the ferryd running it stopped", rows);
		return;
	}
	const char *rp[] = {id, "0",
			    lost ? "the metadata database lost the record of this attempt when it restarted; started again"
				 : "interrupted: the ferryd running it stopped; started again"};
	PQclear(meta_exec(en->meta, sql_task_retry, 3, rp, &e));
	const char *kind = copy ? "table_retry" : "step_retry";
	if (lost)
		meta_event(en->meta, run_id, "warning", label, kind,
			   "the metadata database lost the record of this attempt when it restarted; %s again from the start",
			   doing);
	else
		meta_event(en->meta, run_id, "warning", label, kind,
			   "interrupted when the ferryd running it stopped; %s again from the start", doing);
}

/* Settle the tasks a dead ferryd left loading: committed ones are loaded, the others go again. */
static void settle_inflight(struct engine *en, const char *run_id, json_t *spec)
{
	struct err e;
	err_clear(&e);
	PGconn *dst = job_connect(spec, "target", &e);
	const char *p[] = {run_id};
	PGresult *res = meta_exec(en->meta, sql_run_tasks_inflight, 1, p, &e);
	for (int i = 0; res && i < PQntuples(res); i++)
		settle_orphan(en, dst, run_id, PQgetvalue(res, i, 0), !strcmp(PQgetvalue(res, i, 1), "copy"),
			      PQgetvalue(res, i, 2), false);
	PQclear(res);
	PQfinish(dst);
}

/*
 * The metadata database restarted: the claims and outcomes it had not
 * flushed (those of tasks that may be done again commit without waiting)
 * may be gone. A task of this process's runs that it shows loading but no
 * worker holds lost its outcome: settle it as a dead ferryd's. (One shown
 * queued that a worker holds lost its claim; claim_end does not take it
 * twice, and its worker's outcome settles it.)
 */
static void recover_lost(struct engine *en)
{
	struct err e;
	err_clear(&e);
	const char *p[] = {en->instance};
	/* no claim between reading the tasks and looking at the workers' hands */
	pthread_mutex_lock(&en->claim_lock);
	PGresult *res = meta_exec(en->meta, sql_tasks_owned_loading, 1, p, &e);
	int n = res ? PQntuples(res) : 0;
	bool *orphan = xcalloc((size_t)n + 1, sizeof(bool));
	pthread_mutex_lock(&en->lock);
	for (int i = 0; i < n; i++)
		orphan[i] = !in_hand(en, atoll(PQgetvalue(res, i, 0)));
	pthread_mutex_unlock(&en->lock);
	pthread_mutex_unlock(&en->claim_lock);
	PGconn *dst = NULL;
	for (int i = 0; i < n; i++) {
		const char *run_id = PQgetvalue(res, i, 3);
		bool first = i == 0 || strcmp(run_id, PQgetvalue(res, i - 1, 3));
		bool last = i == n - 1 || strcmp(run_id, PQgetvalue(res, i + 1, 3));
		bool cancelling = !strcmp(PQgetvalue(res, i, 4), "cancelling");
		if (first && !cancelling) {
			json_t *spec = json_loads(PQgetvalue(res, i, 5), 0, NULL);
			dst = spec ? job_connect(spec, "target", &e) : NULL;
			json_decref(spec);
		}
		if (orphan[i] && cancelling) {
			const char *cp[] = {PQgetvalue(res, i, 0), "cancelled", "0", "0", "", "null", "warning",
					    PQgetvalue(res, i, 2), "table_cancelled",
					    "cancelled; the metadata database lost the record of its end when it restarted",
					    "on"};
			PQclear(run_exec(en, run_id, sql_task_finish, 11, cp, &e));
		} else if (orphan[i]) {
			run_changed(en, run_id, 1);
			settle_orphan(en, dst, run_id, PQgetvalue(res, i, 0),
				      !strcmp(PQgetvalue(res, i, 1), "copy"), PQgetvalue(res, i, 2), true);
			run_changed(en, run_id, -1);
		}
		if (last) {
			PQfinish(dst);
			dst = NULL;
			finish_if_done(en, run_id);
			engine_wake(en);
		}
	}
	free(orphan);
	PQclear(res);
}

/* Carry on with a run whose ferryd died. */
static void resume_run(struct engine *en, const char *run_id, const char *state, json_t *spec)
{
	struct err e;
	err_clear(&e);
	const char *p[] = {run_id, "interrupted: the ferryd running it stopped"};
	if (!strcmp(state, "cancelling")) {
		PQclear(meta_exec(en->meta, sql_run_cancel_inflight, 2, p, &e));
		finish_if_done(en, run_id);
		return;
	}
	PGresult *res = meta_exec(en->meta, sql_run_requeue_unplanned, 1, p, &e);
	bool requeued = res && PQntuples(res) > 0;
	PQclear(res);
	if (requeued) {
		meta_event(en->meta, run_id, "warning", NULL, "run_resumed",
			   "the ferryd planning this run stopped; it is queued to be planned again");
		engine_wake(en);
		return;
	}
	char snap_id[128];
	struct source *snap = open_snapshot(en, run_id, spec, snap_id, sizeof(snap_id), &e);
	if (!snap) {
		fail_run(en, run_id, NULL, e.msg);
		PQclear(meta_exec(en->meta, sql_run_cancel_inflight, 2, p, &e));
		finish_if_done(en, run_id);
		return;
	}
	settle_inflight(en, run_id, spec);
	const char *sp[] = {run_id, snap_id};
	PQclear(meta_exec(en->meta, sql_run_set_snapshot, 2, sp, &e));
	hold_snapshot(en, run_id, snap);
	meta_event(en->meta, run_id, "warning", NULL, "run_resumed",
		   "resumed by %s after the ferryd running it stopped: loaded tables stay loaded, the rest load from a new snapshot (%s)",
		   en->instance, snap_id);
	finish_if_done(en, run_id);
}

/* Take over the runs of ferryd processes that died; keep this process's heartbeat fresh. */
static void housekeeping(struct engine *en)
{
	struct err e;
	err_clear(&e);
	const char *params[] = {en->instance};
	PQclear(meta_exec(en->meta, sql_instance_heartbeat, 1, params, &e));
	unsigned restarts = meta_restarts(en->meta);
	if (restarts != en->restarts_seen) {
		en->restarts_seen = restarts;
		recover_lost(en);
	}
	forget_dead_neighbours(en);
	PGresult *res = meta_exec(en->meta, sql_runs_takeover, 1, params, &e);
	for (int i = 0; res && i < PQntuples(res); i++) {
		json_t *spec = json_loads(PQgetvalue(res, i, 2), 0, NULL);
		if (spec)
			resume_run(en, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1), spec);
		json_decref(spec);
	}
	PQclear(res);
	PQclear(meta_exec(en->meta, sql_instances_prune, 0, NULL, &e));
}

static void *housekeeper_main(void *arg)
{
	struct engine *en = arg;
	meta_set_patient(true);
	pthread_mutex_lock(&en->lock);
	while (!en->stopping) {
		pthread_mutex_unlock(&en->lock);
		housekeeping(en);
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += HEARTBEAT_S;
		pthread_mutex_lock(&en->lock);
		while (!en->stopping &&
		       pthread_cond_timedwait(&en->tick, &en->lock, &until) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&en->lock);
	return NULL;
}

struct engine *engine_start(struct meta *m, int workers, struct err *e)
{
	char host[256] = "";
	char pid[16];
	struct engine *en = xcalloc(1, sizeof(*en));
	en->meta = m;
	en->nworkers = workers;
	en->runs_waiting = true;
	uuid_new(en->instance);
	gethostname(host, sizeof(host) - 1);
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	const char *params[] = {en->instance, host, pid};
	PGresult *res = meta_exec(m, sql_instance_register, 3, params, e);
	if (!res) {
		free(en);
		return NULL;
	}
	PQclear(res);
	pthread_mutex_init(&en->lock, NULL);
	pthread_mutex_init(&en->claim_lock, NULL);
	pthread_mutex_init(&en->gen_lock, NULL);
	pthread_mutex_init(&en->snap_lock, NULL);
	pthread_cond_init(&en->wake, NULL);
	pthread_cond_init(&en->tick, NULL);
	en->threads = xcalloc((size_t)workers, sizeof(pthread_t));
	en->hand = xcalloc((size_t)workers * 2, sizeof(long long));
	en->restarts_seen = meta_restarts(m);
	for (int i = 0; i < workers; i++)
		pthread_create(&en->threads[i], NULL, worker_main, en);
	pthread_create(&en->housekeeper, NULL, housekeeper_main, en);
	log_info("engine started: %d workers, instance %s", workers, en->instance);
	return en;
}

void engine_wake(struct engine *en)
{
	pthread_mutex_lock(&en->lock);
	en->runs_waiting = true;
	pthread_cond_broadcast(&en->wake);
	pthread_mutex_unlock(&en->lock);
}

/* Mark the active copies of run_id (or all when NULL) as stopping and cancel their queries. */
static void stop_active(struct engine *en, const char *run_id)
{
	char buf[256];
	pthread_mutex_lock(&en->lock);
	for (struct active *a = en->active; a; a = a->next) {
		if (run_id && strcmp(a->run_id, run_id))
			continue;
		a->stop = true;
		if (a->src_cancel)
			a->src_ops->cancel(a->src_cancel);
		if (a->dst_cancel)
			PQcancel(a->dst_cancel, buf, sizeof(buf));
	}
	pthread_mutex_unlock(&en->lock);
}

bool engine_cancel_run(struct engine *en, const char *run_id, struct err *e)
{
	const char *params[] = {run_id, "cancelled by request"};
	PGresult *res = meta_exec(en->meta, sql_run_cancel, 2, params, e);
	if (!res)
		return false;
	int n = PQntuples(res);
	PQclear(res);
	if (n == 0) {
		json_t *run = meta_doc(en->meta, sql_run_get, 1, params, "run", e);
		if (!run)
			return false;
		err_set(e, 409, "conflict", NULL, "run %s has already finished (%s)", run_id,
			json_string_value(json_object_get(run, "state")));
		json_decref(run);
		return false;
	}
	const char *tp[] = {run_id, "cancelled before it started"};
	PQclear(run_exec(en, run_id, sql_run_cancel_queued_tasks, 2, tp, e));
	meta_event(en->meta, run_id, "warning", NULL, "cancel_requested", "cancel requested");
	stop_active(en, run_id);
	finish_if_done(en, run_id);
	return true;
}

/*
 * Move this process's running runs to cancelling and cancel their queued
 * tables; with finish, close those that have nothing left in flight.
 */
static void close_owned_runs(struct engine *en, bool finish)
{
	struct err e;
	err_clear(&e);
	const char *params[] = {en->instance, SHUTDOWN_REASON};
	PGresult *res = meta_exec(en->meta, sql_runs_owned_active, 2, params, &e);
	for (int i = 0; res && i < PQntuples(res); i++) {
		const char *tp[] = {PQgetvalue(res, i, 0), SHUTDOWN_REASON};
		PQclear(run_exec(en, tp[0], sql_run_cancel_queued_tasks, 2, tp, &e));
		meta_event(en->meta, tp[0], "warning", NULL, "shutdown",
			   "ferryd is shutting down: stopping this run's copies");
	}
	PQclear(res);
	if (!finish)
		return;
	res = meta_exec(en->meta, sql_runs_owned_cancelling, 1, params, &e);
	for (int i = 0; res && i < PQntuples(res); i++)
		finish_if_done(en, PQgetvalue(res, i, 0));
	PQclear(res);
}

void engine_stop(struct engine *en)
{
	if (!en)
		return;
	struct err e;
	err_clear(&e);
	pthread_mutex_lock(&en->lock);
	en->stopping = true;
	pthread_cond_broadcast(&en->wake);
	pthread_cond_broadcast(&en->tick);
	pthread_mutex_unlock(&en->lock);
	close_owned_runs(en, false);
	stop_active(en, NULL);
	for (int i = 0; i < en->nworkers; i++)
		pthread_join(en->threads[i], NULL);
	pthread_join(en->housekeeper, NULL);
	close_owned_runs(en, true);
	while (en->runs)
		engine_release_run(en, en->runs->run_id);
	const char *ip[] = {en->instance};
	PQclear(meta_exec(en->meta, sql_instance_remove, 1, ip, &e));
	log_info("engine stopped");
}

void engine_free(struct engine *en)
{
	if (!en)
		return;
	pthread_mutex_destroy(&en->lock);
	pthread_mutex_destroy(&en->claim_lock);
	pthread_mutex_destroy(&en->gen_lock);
	pthread_mutex_destroy(&en->snap_lock);
	pthread_cond_destroy(&en->wake);
	pthread_cond_destroy(&en->tick);
	free(en->threads);
	free(en->hand);
	free(en);
}

int engine_workers(const struct engine *en)
{
	return en->nworkers;
}

bool engine_owns_run(struct engine *en, const char *run_id, uint64_t *gen, bool *changing)
{
	pthread_mutex_lock(&en->gen_lock);
	struct run_ctx *rc = run_find(en, run_id);
	if (rc && gen)
		*gen = rc->gen;
	if (rc && changing)
		*changing = rc->changing > 0 || en->claiming > 0;
	pthread_mutex_unlock(&en->gen_lock);
	return rc != NULL;
}

void engine_watch(struct engine *en, void (*fn)(void *arg), void *arg)
{
	pthread_mutex_lock(&en->gen_lock);
	en->watch = fn;
	en->watch_arg = arg;
	pthread_mutex_unlock(&en->gen_lock);
}

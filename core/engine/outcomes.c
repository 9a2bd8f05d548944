/* core/engine/outcomes.c: a worker's loop: loading a claimed table or step, storing its outcome, retries */
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
#include "loader.h"
#include "target.h"
#include "log.h"
#include "sql.h"
#include "util.h"
#include "banned.h"

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
		m = t->job->load.mode;
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
	struct meta_rows *res = run_exec(en, t->run_id, sql_task_finish, 11, o->params, &e);
	if (!res)
		log_warn("could not record the outcome of task %s of run %s: %s", o->id, t->run_id, e.msg);
	meta_rows_free(res);
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
	struct meta_rows *res = run_exec(en, t->run_id, sql_task_skip_dependents, 2, p, &e);
	for (int i = 0; res && i < meta_nrows(res); i++)
		meta_event(en->meta, t->run_id, "warning", t->src_label, meta_value(res, i, 0),
			   "skipped %s %s: its table did not load", meta_value(res, i, 0),
			   meta_value(res, i, 1));
	meta_rows_free(res);
}

/* The job's after statements wait for every table: when one did not load (or one failed), say so. */
static void skip_after(struct engine *en, const char *run_id, const char *why)
{
	const char *p[] = {run_id, why};
	struct err e;
	err_clear(&e);
	struct meta_rows *res = run_exec(en, run_id, sql_task_skip_after, 2, p, &e);
	for (int i = 0; res && i < meta_nrows(res); i++)
		meta_event(en->meta, run_id, "warning", NULL, "after", "skipped after step %s: %s",
			   meta_value(res, i, 0), why);
	meta_rows_free(res);
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
	struct meta_rows *res = meta_exec(en->meta, sql_mark_set, 6, p, &e);
	if (res)
		meta_event(en->meta, t->run_id, "info", t->src_label, "mark",
			   "high-water mark of cursor %s is now %s", p[2], r->mark);
	else
		meta_event(en->meta, t->run_id, "warning", t->src_label, "mark",
			   "could not store the high-water mark %s (%s): the next run reads from the previous one again",
			   r->mark, e.msg);
	meta_rows_free(res);
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
static void renew_snapshot(struct engine *en, const char *run_id, const struct job *job);

static void ensure_snapshot(struct engine *en, const char *run_id, const struct job *job)
{
	pthread_mutex_lock(&en->snap_lock);
	renew_snapshot(en, run_id, job);
	pthread_mutex_unlock(&en->snap_lock);
}

static void renew_snapshot(struct engine *en, const char *run_id, const struct job *job)
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
	struct source *fresh = open_snapshot(en, run_id, job, snap_id, sizeof(snap_id), &e);
	if (!fresh) { /* the source is still down: the next attempt tries again */
		log_warn("run %s: no new consistent point on the source yet: %s", run_id, e.msg);
		return;
	}
	const char *p[] = {run_id, snap_id};
	meta_rows_free(meta_exec(en->meta, sql_run_set_snapshot, 2, p, &e));
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
	int allowed = 1 + t->job->retry.attempts;
	double delay = t->job->retry.delay_s;
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
	struct meta_rows *res = run_exec(en, t->run_id, sql_task_retry, 3, p, &me);
	if (!res)
		return false;
	meta_rows_free(res);
	meta_event(en->meta, t->run_id, "warning", t->src_label, t->step ? t->step_kind : "table_retry",
		   "attempt %d of %d failed: %s; trying again in %.1f s", t->attempts, allowed, msg,
		   delay);
	if (!t->step)
		ensure_snapshot(en, t->run_id, t->job);
	return true;
}

static void run_copy(struct engine *en, struct task *t, struct active *a,
		     struct load_session *session)
{
	struct copy_desc cd;
	struct load_table lt = {.run_id = t->run_id, .task_id = t->id, .dst = t->dst,
				.dst_label = t->dst_label, .snapshot = t->snapshot, .job = t->job,
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
	bool ok = described && target_load(&lt, &hooks, &r, &e);
	copy_desc_release(&cd);
	double secs = (double)(now_ms() - t0) / 1000.0;
	pthread_mutex_lock(&en->lock);
	bool stopped = a->stop, shutting = en->stopping;
	pthread_mutex_unlock(&en->lock);
	if (ok) {
		char parts_note[32] = "";
		if (r.parts > 1)
			snprintf(parts_note, sizeof(parts_note), ", in %d parts at once", r.parts);
		t->hold = t->hold && !r.mark; /* the mark moves only once the outcome is stored */
		task_done(en, t, "loaded", &r, NULL, "info", t->src_label, "table_loaded",
			  "loaded %lld rows (%lld bytes) in %.2f s, %.0f rows/s%s", r.rows, r.bytes, secs,
			  secs > 0 ? (double)r.rows / secs : 0.0, parts_note);
		if (r.mark)
			move_mark(en, t, &r);
	} else if (stopped) {
		const char *why = shutting ? SHUTDOWN_REASON : "cancelled by request";
		r.rows = r.bytes = 0; /* rolled back: nothing of it stayed on the target */
		task_done(en, t, "cancelled", &r, why, "warning", t->src_label, "table_cancelled",
			  "%s; its partial load was rolled back", why);
	} else {
		char *a1 = dsn_scrub(e.msg, t->job->source.dsn);
		char *msg = dsn_scrub(a1, t->job->target.dsn);
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
	struct target *dst = target_open(t->job, &e);
	if (!dst)
		return false;
	bool done = dst->ops->step_done(dst, &t->dst, t->step_name, t->step_kind);
	target_close(dst);
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
	bool ok = step_already_done(t) || target_step(t->job, t->step_sql, &hooks, session, &e);
	long long ms = (long long)(now_ms() - t0);
	pthread_mutex_lock(&en->lock);
	bool stopped = a->stop;
	pthread_mutex_unlock(&en->lock);
	const char *what = !strcmp(t->step_kind, "index") ? "built index" : "added";
	bool after = !strcmp(t->step_kind, "after");
	bool object = !strcmp(t->step_kind, "object");
	const char *table = after || object ? NULL : t->src_label;
	/* an object the target has already (made by an earlier attempt, or there before) is kept */
	bool there = !ok && object && target_exists_error(t->job, e.code);
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
		char *msg = dsn_scrub(e.msg, t->job->target.dsn);
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
bool settle(struct engine *en, struct task *t, bool claim, struct task *next)
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
		meta_rows_free(s[finish].res);
		meta_event_log(t->run_id, o->params[6], o->params[7], "%s", o->msg);
	}
	hand_drop(en, t->id);
	run_closed(en, t->run_id, s[close].res);
	meta_rows_free(s[close].res);
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

void *worker_main(void *arg)
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

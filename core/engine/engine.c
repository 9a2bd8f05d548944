/* core/engine/engine.c: the run engine: worker threads and their bookkeeping (runs this process holds, generations), start, stop, cancel */
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

void outcome_free(struct outcome *o)
{
	if (!o)
		return;
	free(o->validation);
	free(o->error);
	free(o);
}

void task_release(struct task *t)
{
	job_free(t->job);
	json_decref(t->copy);
	free(t->step_sql);
	outcome_free(t->held);
	t->held = NULL;
}

/* The run_ctx of run_id, or NULL; the caller holds lock or gen_lock. */
struct run_ctx *run_find(struct engine *en, const char *run_id)
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
void run_changed(struct engine *en, const char *run_id, int delta)
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
void claim_begin(struct engine *en)
{
	pthread_mutex_lock(&en->gen_lock);
	en->claiming++;
	pthread_mutex_unlock(&en->gen_lock);
}

/* The claim is done: run_id names the run of the task it claimed (NULL: none), whose generation moves. */
void claim_done(struct engine *en, const char *run_id)
{
	pthread_mutex_lock(&en->gen_lock);
	struct run_ctx *rc = run_id ? run_find(en, run_id) : NULL;
	if (rc)
		rc->gen = ++en->gen_seq;
	en->claiming--;
	gen_unlock_tell(en, rc != NULL);
}

/* Run a metadata statement that changes run_id or its tasks, marked as such while it runs. */
struct meta_rows *run_exec(struct engine *en, const char *run_id, const char *sql, int n,
			   const char *const *params, struct err *e)
{
	run_changed(en, run_id, 1);
	struct meta_rows *res = meta_exec(en->meta, sql, n, params, e);
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
void hold_snapshot(struct engine *en, const char *run_id, struct source *snap)
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
void run_closed(struct engine *en, const char *run_id, struct meta_rows *res)
{
	if (res && meta_nrows(res) == 1) {
		const char *state = meta_value(res, 0, 0);
		const char *error = meta_value(res, 0, 1);
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
void finish_if_done(struct engine *en, const char *run_id)
{
	struct err e;
	err_clear(&e);
	const char *params[] = {run_id};
	run_changed(en, run_id, 1);
	struct meta_rows *res = meta_exec(en->meta, sql_run_finish, 1, params, &e);
	run_closed(en, run_id, res);
	meta_rows_free(res);
}

void fail_run(struct engine *en, const char *run_id, struct source *snap, const char *msg)
{
	const char *params[] = {run_id, msg};
	struct err e;
	err_clear(&e);
	meta_rows_free(meta_exec(en->meta, sql_run_fail, 2, params, &e));
	/* run_fail.sql recorded the run_finished event */
	meta_event_log(run_id, "error", NULL, "run failed: %s", msg);
	source_close(snap);
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
	struct meta_rows *res = meta_exec(m, sql_instance_register, 3, params, e);
	if (!res) {
		free(en);
		return NULL;
	}
	meta_rows_free(res);
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
	pthread_mutex_lock(&en->lock);
	for (struct active *a = en->active; a; a = a->next) {
		if (run_id && strcmp(a->run_id, run_id))
			continue;
		a->stop = true;
		if (a->src_cancel)
			a->src_ops->cancel(a->src_cancel);
		if (a->dst_cancel)
			a->dst_ops->cancel(a->dst_cancel);
	}
	pthread_mutex_unlock(&en->lock);
}

bool engine_cancel_run(struct engine *en, const char *run_id, struct err *e)
{
	const char *params[] = {run_id, "cancelled by request"};
	struct meta_rows *res = meta_exec(en->meta, sql_run_cancel, 2, params, e);
	if (!res)
		return false;
	int n = meta_nrows(res);
	meta_rows_free(res);
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
	meta_rows_free(run_exec(en, run_id, sql_run_cancel_queued_tasks, 2, tp, e));
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
	struct meta_rows *res = meta_exec(en->meta, sql_runs_owned_active, 2, params, &e);
	for (int i = 0; res && i < meta_nrows(res); i++) {
		const char *tp[] = {meta_value(res, i, 0), SHUTDOWN_REASON};
		meta_rows_free(run_exec(en, tp[0], sql_run_cancel_queued_tasks, 2, tp, &e));
		meta_event(en->meta, tp[0], "warning", NULL, "shutdown",
			   "ferryd is shutting down: stopping this run's copies");
	}
	meta_rows_free(res);
	if (!finish)
		return;
	res = meta_exec(en->meta, sql_runs_owned_cancelling, 1, params, &e);
	for (int i = 0; res && i < meta_nrows(res); i++)
		finish_if_done(en, meta_value(res, i, 0));
	meta_rows_free(res);
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
	meta_rows_free(meta_exec(en->meta, sql_instance_remove, 1, ip, &e));
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

/* core/engine/scheduler.c: the thread that starts jobs on their schedules and drives backfills */
#include "scheduler.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cron.h"
#include "log.h"
#include "sql.h"
#include "util.h"
#include "banned.h"

#define SCHED_TICK_S 1
/* attempts at queuing a slot's run while the job's active run is finishing */
#define SCHED_ATTEMPTS 3

struct scheduler {
	struct meta *meta;     /* borrowed */
	struct engine *engine; /* borrowed */
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stopping;
	bool failing; /* the last pass failed; said once in the log, not every second */
};

static void format_slot(time_t t, char out[32])
{
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void sched_first_slot(json_t *schedule, time_t now, char out[32])
{
	struct cron c;
	time_t t;
	out[0] = '\0';
	if (!json_is_string(schedule) || !cron_parse(json_string_value(schedule), &c, NULL, 0))
		return;
	if (c.kind == CRON_ONCE)
		format_slot(now, out);
	else if (cron_next(&c, now, &t))
		format_slot(t, out);
}

/* The slot after one that fired at `now`: "" when there is none (@once, February 30). */
static void next_slot(const char *schedule, time_t now, char out[32])
{
	struct cron c;
	time_t t;
	out[0] = '\0';
	if (cron_parse(schedule, &c, NULL, 0) && cron_next(&c, now, &t))
		format_slot(t, out);
}

/*
 * Queue run_id of job_id unless the job has an active run. *queued is set
 * when it was queued. False with e filled on a metadata error.
 */
static bool queue_run(struct meta_conn *c, const char *run_id, const char *job_id,
		      const char *trigger, const char *params, const char *backfill_id, bool *queued,
		      struct err *e)
{
	const char *p[] = {run_id, job_id, trigger, params, backfill_id};
	struct meta_rows *res = meta_exec_on(c, sql_sched_run_queue, 5, p, e);
	if (!res)
		return false;
	*queued = meta_nrows(res) > 0;
	meta_rows_free(res);
	return true;
}

/*
 * Start the due slot of one job, or record it as skipped while an earlier
 * run is active, then move next_run_at past now. False on a metadata error.
 */
static bool fire_job(struct meta_conn *c, const char *job_id, const char *schedule,
		     const char *slot, time_t now, int *started, struct err *e)
{
	char run_id[37], next[32];
	for (int attempt = 0; attempt < SCHED_ATTEMPTS; attempt++) {
		bool queued;
		uuid_new(run_id);
		if (!queue_run(c, run_id, job_id, "schedule", "{}", NULL, &queued, e))
			return false;
		if (queued) {
			meta_event_on(c, run_id, "info", NULL, "run_scheduled",
				      "queued by the schedule \"%s\" for the slot at %s", schedule, slot);
			(*started)++;
			break;
		}
		const char *p[] = {run_id, job_id};
		struct meta_rows *res = meta_exec_on(c, sql_sched_run_skipped, 2, p, e);
		if (!res)
			return false;
		bool skipped = meta_nrows(res) > 0;
		if (skipped)
			meta_event_on(c, run_id, "warning", NULL, "run_skipped",
				      "the slot at %s of the schedule \"%s\" was %s", slot, schedule,
				      meta_value(res, 0, 0));
		meta_rows_free(res);
		if (skipped)
			break;
		/* the active run finished in between: try to queue again */
	}
	next_slot(schedule, now, next);
	const char *np[] = {job_id, *next ? next : NULL};
	return meta_run_on(c, sql_sched_job_next, 2, np, e);
}

static bool fire_due_jobs(struct meta_conn *c, int *started, struct err *e)
{
	struct meta_rows *res = meta_exec_on(c, sql_sched_due, 0, NULL, e);
	if (!res)
		return false;
	bool ok = true;
	for (int i = 0; ok && i < meta_nrows(res); i++)
		ok = fire_job(c, meta_value(res, i, 0), meta_value(res, i, 1), meta_value(res, i, 2),
			      (time_t)atoll(meta_value(res, i, 3)), started, e);
	meta_rows_free(res);
	return ok;
}

static bool is_active(const char *state)
{
	return !strcmp(state, "queued") || !strcmp(state, "running") || !strcmp(state, "cancelling");
}

/* Queue the window `next` (JSON text) as run number q + 1 of n of backfill id. */
static bool queue_window(struct meta_conn *c, const char *id, const char *job_id,
			 const char *next, int q, int n, int *started, struct err *e)
{
	json_t *w = json_loads(next, 0, NULL);
	json_t *params = json_pack("{s:O?,s:O?,s:s}", "from", json_object_get(w, "from"), "to",
				   json_object_get(w, "to"), "backfill", id);
	char *text = json_dumps(params, JSON_COMPACT);
	char run_id[37];
	bool queued = false;
	uuid_new(run_id);
	bool ok = queue_run(c, run_id, job_id, "backfill", text, id, &queued, e);
	if (ok && queued) {
		const char *p[] = {id, run_id};
		ok = meta_run_on(c, sql_backfill_queued, 2, p, e);
		meta_event_on(c, run_id, "info", NULL, "run_backfill",
			      "queued as window %d of %d of backfill %s: %s", q + 1, n, id, text);
		(*started)++;
	}
	free(text);
	json_decref(params);
	json_decref(w);
	return ok;
}

/*
 * Move one running backfill on (row i of sql_sched_backfills): finish it
 * when its last queued window did not succeed or every window did, queue
 * the next window when its job is idle. False on a metadata error.
 */
static bool advance_backfill(struct meta_conn *c, struct meta_rows *res, int i, int *started,
			     struct err *e)
{
	const char *id = meta_value(res, i, 0);
	int q = atoi(meta_value(res, i, 1));
	int n = atoi(meta_value(res, i, 2));
	const char *run_id = meta_value(res, i, 3), *state = meta_value(res, i, 4);
	if (q > 0 && is_active(state))
		return true;
	if (q > 0 && strcmp(state, "succeeded")) {
		char why[400];
		snprintf(why, sizeof(why), "window %d of %d (from %s to %s) %s%s%s", q, n,
			 meta_value(res, i, 7), meta_value(res, i, 8),
			 *state ? state : "lost its run", *state ? " in run " : "", run_id);
		const char *p[] = {id, !strcmp(state, "cancelled") ? "cancelled" : "failed", why};
		log_info("backfill %s stopped: %s", id, why);
		return meta_run_on(c, sql_backfill_finish, 3, p, e);
	}
	if (q >= n) {
		const char *p[] = {id, "succeeded", NULL};
		log_info("backfill %s succeeded: %d windows", id, n);
		return meta_run_on(c, sql_backfill_finish, 3, p, e);
	}
	return queue_window(c, id, meta_value(res, i, 6), meta_value(res, i, 5), q, n, started, e);
}

static bool drive_backfills(struct meta_conn *c, int *started, struct err *e)
{
	struct meta_rows *res = meta_exec_on(c, sql_sched_backfills, 0, NULL, e);
	if (!res)
		return false;
	bool ok = true;
	for (int i = 0; ok && i < meta_nrows(res); i++)
		ok = advance_backfill(c, res, i, started, e);
	meta_rows_free(res);
	return ok;
}

/* One pass: due jobs, then backfills, in one transaction. */
static void tick(struct scheduler *s)
{
	struct err e;
	int started = 0;
	err_clear(&e);
	struct meta_conn *c = meta_acquire(s->meta, &e);
	bool ok = c && meta_begin(c, &e) && fire_due_jobs(c, &started, &e) &&
		  drive_backfills(c, &started, &e) && meta_commit(c, &e);
	if (c && !ok)
		meta_rollback(c);
	meta_release(s->meta, c);
	if (!ok && !s->failing)
		log_warn("scheduler: %s; trying again every second", e.msg);
	else if (ok && s->failing)
		log_info("scheduler: working again");
	s->failing = !ok;
	if (ok && started)
		engine_wake(s->engine);
}

static void *sched_main(void *arg)
{
	struct scheduler *s = arg;
	pthread_mutex_lock(&s->lock);
	while (!s->stopping) {
		pthread_mutex_unlock(&s->lock);
		tick(s);
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += SCHED_TICK_S;
		pthread_mutex_lock(&s->lock);
		while (!s->stopping &&
		       pthread_cond_timedwait(&s->wake, &s->lock, &until) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

struct scheduler *scheduler_start(struct meta *meta, struct engine *engine)
{
	struct scheduler *s = xcalloc(1, sizeof(*s));
	s->meta = meta;
	s->engine = engine;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->wake, NULL);
	pthread_create(&s->thread, NULL, sched_main, s);
	log_info("scheduler started");
	return s;
}

void scheduler_stop(struct scheduler *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->stopping = true;
	pthread_cond_broadcast(&s->wake);
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->thread, NULL);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->wake);
	free(s);
	log_info("scheduler stopped");
}

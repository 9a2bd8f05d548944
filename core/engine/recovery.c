/* core/engine/recovery.c: crash recovery: runs of ferryd processes that died, outcomes a metadata restart lost, the heartbeat */
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

/* Forget instances on this host whose process is gone, so their runs can be taken over at once. */
static void forget_dead_neighbours(struct engine *en)
{
	char host[256] = "";
	gethostname(host, sizeof(host) - 1);
	struct err e;
	err_clear(&e);
	const char *p[] = {en->instance};
	struct meta_rows *res = meta_exec(en->meta, sql_instances_others, 1, p, &e);
	for (int i = 0; res && i < meta_nrows(res); i++) {
		pid_t pid = (pid_t)atoi(meta_value(res, i, 2));
		if (strcmp(meta_value(res, i, 1), host) || pid <= 0 || kill(pid, 0) == 0 || errno != ESRCH)
			continue;
		const char *ip[] = {meta_value(res, i, 0)};
		meta_rows_free(meta_exec(en->meta, sql_instance_remove, 1, ip, &e));
		log_info("ferryd instance %s (pid %d) is gone; its runs will be taken over", ip[0], (int)pid);
	}
	meta_rows_free(res);
}

/* Did the load of copy task `id` commit on the target? Its rows, or -1 when not (or unknown). */
static long long committed_rows(struct target *dst, const char *run_id, const char *id)
{
	return dst ? dst->ops->loaded_rows(dst, run_id, id) : -1;
}

/*
 * Settle task id, left loading with nobody on it: loaded when its load
 * committed, else queued again. lost: the metadata database lost the record
 * of its end when it restarted (else the ferryd running it died).
 */
static void settle_orphan(struct engine *en, struct target *dst, const char *run_id, const char *id,
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
		meta_rows_free(meta_exec(en->meta, sql_task_mark_loaded, 2, mp, &e));
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
	meta_rows_free(meta_exec(en->meta, sql_task_retry, 3, rp, &e));
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
static void settle_inflight(struct engine *en, const char *run_id, const struct job *job)
{
	struct err e;
	err_clear(&e);
	struct target *dst = target_open(job, &e);
	const char *p[] = {run_id};
	struct meta_rows *res = meta_exec(en->meta, sql_run_tasks_inflight, 1, p, &e);
	for (int i = 0; res && i < meta_nrows(res); i++)
		settle_orphan(en, dst, run_id, meta_value(res, i, 0), !strcmp(meta_value(res, i, 1), "copy"),
			      meta_value(res, i, 2), false);
	meta_rows_free(res);
	target_close(dst);
}

/*
 * The metadata database restarted: the claims and outcomes it had not
 * flushed (those of tasks that may be done again commit without waiting)
 * may be gone. A task of this process's runs that it shows loading but no
 * worker holds lost its outcome: settle it as a dead ferryd's. (One shown
 * queued that a worker holds lost its claim; claim_end does not take it
 * twice, and its worker's outcome settles it.)
 */
void recover_lost(struct engine *en)
{
	struct err e;
	err_clear(&e);
	const char *p[] = {en->instance};
	/* no claim between reading the tasks and looking at the workers' hands */
	pthread_mutex_lock(&en->claim_lock);
	struct meta_rows *res = meta_exec(en->meta, sql_tasks_owned_loading, 1, p, &e);
	int n = res ? meta_nrows(res) : 0;
	bool *orphan = xcalloc((size_t)n + 1, sizeof(bool));
	pthread_mutex_lock(&en->lock);
	for (int i = 0; i < n; i++)
		orphan[i] = !in_hand(en, atoll(meta_value(res, i, 0)));
	pthread_mutex_unlock(&en->lock);
	pthread_mutex_unlock(&en->claim_lock);
	struct target *dst = NULL;
	for (int i = 0; i < n; i++) {
		const char *run_id = meta_value(res, i, 3);
		bool first = i == 0 || strcmp(run_id, meta_value(res, i - 1, 3));
		bool last = i == n - 1 || strcmp(run_id, meta_value(res, i + 1, 3));
		bool cancelling = !strcmp(meta_value(res, i, 4), "cancelling");
		if (first && !cancelling) {
			struct job *job = job_from_text(meta_value(res, i, 5));
			dst = job ? target_open(job, &e) : NULL;
			job_free(job);
		}
		if (orphan[i] && cancelling) {
			const char *cp[] = {meta_value(res, i, 0), "cancelled", "0", "0", "", "null", "warning",
					    meta_value(res, i, 2), "table_cancelled",
					    "cancelled; the metadata database lost the record of its end when it restarted",
					    "on"};
			meta_rows_free(run_exec(en, run_id, sql_task_finish, 11, cp, &e));
		} else if (orphan[i]) {
			run_changed(en, run_id, 1);
			settle_orphan(en, dst, run_id, meta_value(res, i, 0),
				      !strcmp(meta_value(res, i, 1), "copy"), meta_value(res, i, 2), true);
			run_changed(en, run_id, -1);
		}
		if (last) {
			target_close(dst);
			dst = NULL;
			finish_if_done(en, run_id);
			engine_wake(en);
		}
	}
	free(orphan);
	meta_rows_free(res);
}

/* Carry on with a run whose ferryd died. */
static void resume_run(struct engine *en, const char *run_id, const char *state, const struct job *job)
{
	struct err e;
	err_clear(&e);
	const char *p[] = {run_id, "interrupted: the ferryd running it stopped"};
	if (!strcmp(state, "cancelling")) {
		meta_rows_free(meta_exec(en->meta, sql_run_cancel_inflight, 2, p, &e));
		finish_if_done(en, run_id);
		return;
	}
	struct meta_rows *res = meta_exec(en->meta, sql_run_requeue_unplanned, 1, p, &e);
	bool requeued = res && meta_nrows(res) > 0;
	meta_rows_free(res);
	if (requeued) {
		meta_event(en->meta, run_id, "warning", NULL, "run_resumed",
			   "the ferryd planning this run stopped; it is queued to be planned again");
		engine_wake(en);
		return;
	}
	char snap_id[128];
	struct source *snap = open_snapshot(en, run_id, job, snap_id, sizeof(snap_id), &e);
	if (!snap) {
		fail_run(en, run_id, NULL, e.msg);
		meta_rows_free(meta_exec(en->meta, sql_run_cancel_inflight, 2, p, &e));
		finish_if_done(en, run_id);
		return;
	}
	settle_inflight(en, run_id, job);
	const char *sp[] = {run_id, snap_id};
	meta_rows_free(meta_exec(en->meta, sql_run_set_snapshot, 2, sp, &e));
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
	meta_rows_free(meta_exec(en->meta, sql_instance_heartbeat, 1, params, &e));
	unsigned restarts = meta_restarts(en->meta);
	if (restarts != en->restarts_seen) {
		en->restarts_seen = restarts;
		recover_lost(en);
	}
	forget_dead_neighbours(en);
	struct meta_rows *res = meta_exec(en->meta, sql_runs_takeover, 1, params, &e);
	for (int i = 0; res && i < meta_nrows(res); i++) {
		struct job *job = job_from_text(meta_value(res, i, 2));
		if (job)
			resume_run(en, meta_value(res, i, 0), meta_value(res, i, 1), job);
		job_free(job);
	}
	meta_rows_free(res);
	meta_rows_free(meta_exec(en->meta, sql_instances_prune, 0, NULL, &e));
}

void *housekeeper_main(void *arg)
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

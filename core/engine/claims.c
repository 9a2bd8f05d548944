/* core/engine/claims.c: claiming a run's tasks within its limits, and what a worker reports while it loads */
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

/* The task res (task_claim.sql's rows, or NULL) claimed into t; false when none (t untouched). */
static bool claim_read(struct meta_rows *res, struct task *t)
{
	bool got = res && meta_nrows(res) == 1;
	if (got) {
		memset(t, 0, sizeof(*t));
		t->id = atoll(meta_value(res, 0, 0));
		str_copy(t->run_id, sizeof(t->run_id), meta_value(res, 0, 1));
		str_copy(t->src.schema, sizeof(t->src.schema), meta_value(res, 0, 2));
		str_copy(t->src.name, sizeof(t->src.name), meta_value(res, 0, 3));
		str_copy(t->dst.schema, sizeof(t->dst.schema), meta_value(res, 0, 4));
		str_copy(t->dst.name, sizeof(t->dst.name), meta_value(res, 0, 5));
		str_copy(t->src_label, sizeof(t->src_label), meta_value(res, 0, 6));
		str_copy(t->dst_label, sizeof(t->dst_label), meta_value(res, 0, 7));
		t->job = job_from_text(meta_value(res, 0, 9));
		str_copy(t->snapshot, sizeof(t->snapshot), meta_value(res, 0, 10));
		t->step = !strcmp(meta_value(res, 0, 11), "step");
		t->copy = *meta_value(res, 0, 12) ? json_loads(meta_value(res, 0, 12), 0, NULL) : NULL;
		str_copy(t->step_kind, sizeof(t->step_kind), meta_value(res, 0, 13));
		str_copy(t->step_name, sizeof(t->step_name), meta_value(res, 0, 14));
		t->step_sql = xstrdup(meta_value(res, 0, 15));
		t->attempts = atoi(meta_value(res, 0, 16));
		t->more = meta_value(res, 0, 18)[0] == 't';
	}
	bool usable = got && t->job && (t->step || t->copy);
	if (got && !usable)
		task_release(t);
	return usable;
}

/* Whether a worker holds task id; the caller holds lock. */
bool in_hand(struct engine *en, long long id)
{
	for (int i = 0; i < en->nhand; i++)
		if (en->hand[i] == id)
			return true;
	return false;
}

/* The worker has written the outcome of task id (or put it back): it holds it no more. */
void hand_drop(struct engine *en, long long id)
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
void claim_start(struct engine *en)
{
	pthread_mutex_lock(&en->claim_lock);
	claim_begin(en);
}

/*
 * The claim ended with res (task_claim.sql's rows, or NULL; freed here):
 * the task into t, if any. A task a worker already holds is not taken twice:
 * its claim was lost when the metadata database restarted, so it looked
 * queued, and its worker's outcome will settle it.
 */
bool claim_end(struct engine *en, struct meta_rows *res, struct task *t)
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
	claim_done(en, res && meta_nrows(res) == 1 ? meta_value(res, 0, 1) : NULL);
	pthread_mutex_unlock(&en->claim_lock);
	meta_rows_free(res);
	return got;
}

bool claim_task(struct engine *en, struct task *t)
{
	struct err e;
	err_clear(&e);
	const char *params[] = {en->instance};
	claim_start(en);
	return claim_end(en, meta_exec(en->meta, sql_task_claim, 1, params, &e), t);
}

void hook_connections(void *arg, struct source *src, struct target *dst)
{
	struct active *a = arg;
	void *s = src ? src->ops->cancel_new(src) : NULL;
	void *d = dst ? dst->ops->cancel_new(dst) : NULL;
	pthread_mutex_lock(&a->en->lock);
	void *old_s = a->src_cancel, *old_d = a->dst_cancel;
	const struct source_ops *old_ops = a->src_ops;
	const struct target_ops *old_dops = a->dst_ops;
	a->src_cancel = s;
	a->src_ops = src ? src->ops : NULL;
	a->dst_cancel = d;
	a->dst_ops = dst ? dst->ops : NULL;
	bool stop = a->stop;
	pthread_mutex_unlock(&a->en->lock);
	if (old_s)
		old_ops->cancel_free(old_s);
	if (old_d)
		old_dops->cancel_free(old_d);
	if (stop && s)
		src->ops->cancel(s);
	if (stop && d)
		dst->ops->cancel(d);
}

bool hook_progress(void *arg, long long rows, long long bytes)
{
	struct active *a = arg;
	char id[32], r[32], b[32];
	snprintf(id, sizeof(id), "%lld", a->task_id);
	snprintf(r, sizeof(r), "%lld", rows);
	snprintf(b, sizeof(b), "%lld", bytes);
	const char *params[] = {id, r, b};
	struct err e;
	err_clear(&e);
	struct meta_rows *res = meta_exec(a->en->meta, sql_task_progress, 3, params, &e);
	bool cancelling = res && meta_nrows(res) && !strcmp(meta_value(res, 0, 0), "cancelling");
	meta_rows_free(res);
	pthread_mutex_lock(&a->en->lock);
	if (cancelling)
		a->stop = true;
	bool go = !a->stop;
	pthread_mutex_unlock(&a->en->lock);
	return go;
}

void hook_step(void *arg, const char *kind, const char *fmt, ...)
{
	struct active *a = arg;
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	meta_event(a->en->meta, a->run_id, "info", a->label, kind, "%s", msg);
}

void active_add(struct engine *en, struct active *a)
{
	pthread_mutex_lock(&en->lock);
	a->stop = en->stopping;
	a->next = en->active;
	en->active = a;
	pthread_mutex_unlock(&en->lock);
}

void active_remove(struct engine *en, struct active *a)
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
	if (a->dst_cancel)
		a->dst_ops->cancel_free(a->dst_cancel);
}

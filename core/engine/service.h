/* core/engine/service.h: what the API does, independent of HTTP: one call per operation */
#ifndef FERRY_SERVICE_H
#define FERRY_SERVICE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "engine.h"
#include "err.h"
#include "meta.h"

struct runcache;

struct service {
	struct meta *meta;     /* borrowed */
	struct engine *engine; /* borrowed */
	int default_parallel;
	struct runcache *tables; /* owned: live runs' tables, from svc_start to svc_release */
	struct runcache *runs;   /* owned: live runs themselves, the same way */
};

/*
 * Start what the service runs in the background: the caches of the runs
 * this ferryd is loading and of their tables, with the threads that keep
 * them fresh. meta and engine must be set. Without it every call reads
 * the metadata database.
 */
void svc_start(struct service *s);
/*
 * Stop those threads and stop asking the engine: from now on every call
 * reads the metadata database, and the engine may be stopped. Requests may
 * still come in. Does nothing when the service was not started.
 */
void svc_stop(struct service *s);
/* Free what svc_start made, once no request can come in any more. */
void svc_release(struct service *s);

/*
 * The text of a response body holding doc (borrowed), as ferryd writes
 * every JSON answer: indented by two spaces, ending in a newline. A new
 * string of *len bytes; the caller frees it.
 */
char *svc_body(json_t *doc, size_t *len);

/*
 * Every call returns a new JSON reference ready to send (passwords
 * redacted), or NULL with e filled: 4xx for what the caller got wrong,
 * 5xx for faults of ferryd or its metadata database. `ref` is a job id or
 * name, or a run id. Nothing is written when a call fails.
 */
json_t *svc_job_create(struct service *s, json_t *body, struct err *e);
json_t *svc_job_get(struct service *s, const char *ref, struct err *e);
json_t *svc_job_list(struct service *s, long limit, long offset, struct err *e);
json_t *svc_job_update(struct service *s, const char *ref, json_t *body, struct err *e);
bool svc_job_delete(struct service *s, const char *ref, struct err *e);
json_t *svc_job_plan(struct service *s, const char *ref, struct err *e);

/* body may be NULL (no request body). */
json_t *svc_run_trigger(struct service *s, const char *job_ref, json_t *body, struct err *e);
json_t *svc_run_list(struct service *s, const char *job_ref, long limit, long offset,
		     struct err *e);
json_t *svc_run_get(struct service *s, const char *run_id, struct err *e);
/*
 * The body of GET /api/v1/runs/{id} (see svc_body): a new string of *len
 * bytes, or NULL with e filled. Like svc_run_tables, kept in memory for a
 * run this ferryd is loading; svc_run_get always reads the database.
 */
char *svc_run_body(struct service *s, const char *run_id, size_t *len, struct err *e);
/*
 * The body of the run's table list ({"items": [...]}, see svc_body): a new
 * string of *len bytes, or NULL with e filled. One metadata query, or none
 * for a run this ferryd is loading: such a run's answer is kept up to a
 * quarter of a second (rows and bytes move between the flushes of the
 * copies' progress anyway) and never across a change of state this ferryd
 * makes to the run or its tables.
 */
char *svc_run_tables(struct service *s, const char *run_id, size_t *len, struct err *e);
json_t *svc_run_events(struct service *s, const char *run_id, long long after, long limit,
		       struct err *e);
json_t *svc_run_cancel(struct service *s, const char *run_id, struct err *e);
/* A new run of the tables that did not load in run_id (409 when it is active or all loaded). */
json_t *svc_run_retry(struct service *s, const char *run_id, struct err *e);

/* The high-water marks of a job's incremental tables: {"items": [...]}. */
json_t *svc_marks_list(struct service *s, const char *job_ref, struct err *e);
/* Forget one table's mark (table "schema.table"; 404 when it has none) or all (table NULL). */
bool svc_marks_reset(struct service *s, const char *job_ref, const char *table, struct err *e);

json_t *svc_connection_test(struct service *s, json_t *body, struct err *e);

/*
 * Schedules and backfills. Pause: the scheduler starts no run of the job
 * until it is resumed; resume: next_run_at from now, so slots missed while
 * paused do not fire. Both return the job.
 */
json_t *svc_job_pause(struct service *s, const char *ref, struct err *e);
json_t *svc_job_resume(struct service *s, const char *ref, struct err *e);
/* A new backfill of the job: body {"from", "to", "step"}; see backfill_create. */
json_t *svc_backfill_create(struct service *s, const char *job_ref, json_t *body, struct err *e);
json_t *svc_backfill_list(struct service *s, const char *job_ref, long limit, long offset,
			  struct err *e);
json_t *svc_backfill_get(struct service *s, const char *id, struct err *e);
json_t *svc_backfill_cancel(struct service *s, const char *id, struct err *e);

#endif

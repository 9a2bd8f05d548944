/* server/handlers.h: request handlers, one file per resource, and the route table */
#ifndef FERRY_HANDLERS_H
#define FERRY_HANDLERS_H

#include <stdbool.h>

#include "http.h"
#include "routes.h"

extern const struct route ferry_routes[];

/* Parse an integer query parameter in [lo, hi]; replies 400 and returns false when bad. */
bool query_long(struct req *r, const char *name, long dflt, long lo, long hi, long *out);
/* Parse the paging parameters limit (1..500, default 50) and offset; replies 400 when bad. */
bool query_page(struct req *r, long *limit, long *offset);
/* Reply with a service result: doc (stolen) with status ok, or the error. */
void reply_result(struct req *r, int ok_status, json_t *doc, const struct err *e);

/* server/h_system.c */
void h_healthz(struct req *r);
void h_readyz(struct req *r);
void h_openapi(struct req *r);
void h_index(struct req *r);
void h_asset(struct req *r);
void h_connection_test(struct req *r);

/* server/h_jobs.c */
void h_jobs_create(struct req *r);
void h_jobs_list(struct req *r);
void h_job_get(struct req *r);
void h_job_put(struct req *r);
void h_job_delete(struct req *r);
void h_job_plan(struct req *r);
void h_marks_list(struct req *r);
void h_marks_reset(struct req *r);
void h_mark_reset(struct req *r);
void h_job_pause(struct req *r);
void h_job_resume(struct req *r);

/* server/h_runs.c */
void h_runs_trigger(struct req *r);
void h_runs_list(struct req *r);
void h_run_get(struct req *r);
void h_run_tables(struct req *r);
void h_run_events(struct req *r);
void h_run_cancel(struct req *r);
void h_run_retry(struct req *r);

/* server/h_backfills.c */
void h_backfill_create(struct req *r);
void h_backfills_list(struct req *r);
void h_backfill_get(struct req *r);
void h_backfill_cancel(struct req *r);

#endif

/* server/route_table.c: every route ferryd serves, as data */
#include "handlers.h"

#include <errno.h>
#include <stdlib.h>

#include "banned.h"

const struct route ferry_routes[] = {
	{"GET", "/healthz", h_healthz, ROUTE_BODY_NONE},
	{"GET", "/readyz", h_readyz, ROUTE_BODY_NONE},
	{"GET", "/openapi.yaml", h_openapi, ROUTE_BODY_NONE},
	{"POST", "/api/v1/connections/test", h_connection_test, ROUTE_BODY_JSON},
	{"POST", "/api/v1/jobs", h_jobs_create, ROUTE_BODY_JSON},
	{"GET", "/api/v1/jobs", h_jobs_list, ROUTE_BODY_NONE},
	{"GET", "/api/v1/jobs/{}", h_job_get, ROUTE_BODY_NONE},
	{"PUT", "/api/v1/jobs/{}", h_job_put, ROUTE_BODY_JSON},
	{"DELETE", "/api/v1/jobs/{}", h_job_delete, ROUTE_BODY_NONE},
	{"GET", "/api/v1/jobs/{}/plan", h_job_plan, ROUTE_BODY_NONE},
	{"GET", "/api/v1/jobs/{}/marks", h_marks_list, ROUTE_BODY_NONE},
	{"DELETE", "/api/v1/jobs/{}/marks", h_marks_reset, ROUTE_BODY_NONE},
	{"DELETE", "/api/v1/jobs/{}/marks/{}", h_mark_reset, ROUTE_BODY_NONE},
	{"POST", "/api/v1/jobs/{}/runs", h_runs_trigger, ROUTE_BODY_OPTIONAL},
	{"GET", "/api/v1/jobs/{}/runs", h_runs_list, ROUTE_BODY_NONE},
	{"POST", "/api/v1/jobs/{}/pause", h_job_pause, ROUTE_BODY_OPTIONAL},
	{"POST", "/api/v1/jobs/{}/resume", h_job_resume, ROUTE_BODY_OPTIONAL},
	{"POST", "/api/v1/jobs/{}/backfill", h_backfill_create, ROUTE_BODY_JSON},
	{"GET", "/api/v1/jobs/{}/backfills", h_backfills_list, ROUTE_BODY_NONE},
	{"GET", "/api/v1/backfills/{}", h_backfill_get, ROUTE_BODY_NONE},
	{"POST", "/api/v1/backfills/{}/cancel", h_backfill_cancel, ROUTE_BODY_OPTIONAL},
	{"GET", "/api/v1/runs/{}", h_run_get, ROUTE_BODY_NONE},
	{"GET", "/api/v1/runs/{}/tables", h_run_tables, ROUTE_BODY_NONE},
	{"GET", "/api/v1/runs/{}/events", h_run_events, ROUTE_BODY_NONE},
	{"POST", "/api/v1/runs/{}/cancel", h_run_cancel, ROUTE_BODY_OPTIONAL},
	{"POST", "/api/v1/runs/{}/retry", h_run_retry, ROUTE_BODY_OPTIONAL},
	{"GET", "/", h_index, ROUTE_BODY_NONE},
	{"GET", "/{}", h_asset, ROUTE_BODY_NONE | ROUTE_FALLBACK},
	{NULL, NULL, NULL, 0},
};

bool query_long(struct req *r, const char *name, long dflt, long lo, long hi, long *out)
{
	const char *v = req_query(r, name);
	*out = dflt;
	if (!v)
		return true;
	char *end;
	errno = 0;
	long n = strtol(v, &end, 10);
	if (!*v || *end || errno || n < lo || n > hi) {
		reply_error(r, 400, "invalid_field", name,
			    "query parameter \"%s\" must be an integer from %ld to %ld", name, lo, hi);
		return false;
	}
	*out = n;
	return true;
}

bool query_page(struct req *r, long *limit, long *offset)
{
	return query_long(r, "limit", 50, 1, 500, limit) &&
	       query_long(r, "offset", 0, 0, 1000000000L, offset);
}

void reply_result(struct req *r, int ok_status, json_t *doc, const struct err *e)
{
	if (doc)
		reply_json(r, ok_status, doc);
	else
		reply_err(r, e);
}

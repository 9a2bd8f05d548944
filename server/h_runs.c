/* server/h_runs.c: runs of a job: trigger, history, live totals, tables, events, cancel */
#include "handlers.h"

#include <limits.h>
#include <stdio.h>

#include "banned.h"

/* 202 with a queued run (stolen) and its Location, or the error. */
static void reply_queued(struct req *r, json_t *run, const struct err *e)
{
	if (!run) {
		reply_err(r, e);
		return;
	}
	char loc[128];
	snprintf(loc, sizeof(loc), "/api/v1/runs/%s", json_string_value(json_object_get(run, "id")));
	reply_json(r, 202, run);
	reply_header(r, "Location", loc);
}

void h_runs_trigger(struct req *r)
{
	struct err e;
	err_clear(&e);
	reply_queued(r, svc_run_trigger(&r->app->svc, r->params.v[0], r->json, &e), &e);
}

void h_runs_list(struct req *r)
{
	struct err e;
	long limit, offset;
	err_clear(&e);
	if (!query_page(r, &limit, &offset))
		return;
	reply_result(r, 200, svc_run_list(&r->app->svc, r->params.v[0], limit, offset, &e), &e);
}

/* 200 with a body written by svc_body (stolen), or the error when there is none. */
static void reply_answer(struct req *r, char *body, size_t len, const struct err *e)
{
	if (body)
		reply_body(r, 200, body, len);
	else
		reply_err(r, e);
}

void h_run_get(struct req *r)
{
	struct err e;
	size_t len = 0;
	err_clear(&e);
	char *body = svc_run_body(&r->app->svc, r->params.v[0], &len, &e);
	reply_answer(r, body, len, &e);
}

void h_run_tables(struct req *r)
{
	struct err e;
	size_t len = 0;
	err_clear(&e);
	char *body = svc_run_tables(&r->app->svc, r->params.v[0], &len, &e);
	reply_answer(r, body, len, &e);
}

void h_run_events(struct req *r)
{
	struct err e;
	long after, limit;
	err_clear(&e);
	if (!query_long(r, "after", 0, 0, LONG_MAX, &after) ||
	    !query_long(r, "limit", 100, 1, 1000, &limit))
		return;
	reply_result(r, 200, svc_run_events(&r->app->svc, r->params.v[0], after, limit, &e), &e);
}

void h_run_cancel(struct req *r)
{
	struct err e;
	err_clear(&e);
	reply_result(r, 202, svc_run_cancel(&r->app->svc, r->params.v[0], &e), &e);
}

void h_run_retry(struct req *r)
{
	struct err e;
	err_clear(&e);
	reply_queued(r, svc_run_retry(&r->app->svc, r->params.v[0], &e), &e);
}

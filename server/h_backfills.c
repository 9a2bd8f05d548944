/* server/h_backfills.c: backfills of a job: start, list, read, cancel */
#include "handlers.h"

#include <stdio.h>

#include "banned.h"

void h_backfill_create(struct req *r)
{
	struct err e;
	err_clear(&e);
	json_t *b = svc_backfill_create(&r->app->svc, r->params.v[0], r->json, &e);
	if (!b) {
		reply_err(r, &e);
		return;
	}
	char loc[128];
	snprintf(loc, sizeof(loc), "/api/v1/backfills/%s", json_string_value(json_object_get(b, "id")));
	reply_json(r, 202, b);
	reply_header(r, "Location", loc);
}

void h_backfills_list(struct req *r)
{
	struct err e;
	long limit, offset;
	err_clear(&e);
	if (!query_page(r, &limit, &offset))
		return;
	reply_result(r, 200, svc_backfill_list(&r->app->svc, r->params.v[0], limit, offset, &e), &e);
}

void h_backfill_get(struct req *r)
{
	struct err e;
	err_clear(&e);
	reply_result(r, 200, svc_backfill_get(&r->app->svc, r->params.v[0], &e), &e);
}

void h_backfill_cancel(struct req *r)
{
	struct err e;
	err_clear(&e);
	reply_result(r, 200, svc_backfill_cancel(&r->app->svc, r->params.v[0], &e), &e);
}

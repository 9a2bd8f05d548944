/* server/h_jobs.c: /api/v1/jobs: create, list, read, replace, delete, plan, high-water marks, pause, resume */
#include "handlers.h"

#include <stdio.h>

#include "banned.h"

void h_jobs_create(struct req *r)
{
	struct err e;
	err_clear(&e);
	json_t *job = svc_job_create(&r->app->svc, r->json, &e);
	if (job) {
		char loc[128];
		snprintf(loc, sizeof(loc), "/api/v1/jobs/%s",
			 json_string_value(json_object_get(job, "id")));
		reply_json(r, 201, job);
		reply_header(r, "Location", loc);
		return;
	}
	reply_err(r, &e);
}

void h_jobs_list(struct req *r)
{
	struct err e;
	long limit, offset;
	err_clear(&e);
	if (!query_page(r, &limit, &offset))
		return;
	reply_result(r, 200, svc_job_list(&r->app->svc, limit, offset, &e), &e);
}

void h_job_get(struct req *r)
{
	struct err e;
	err_clear(&e);
	reply_result(r, 200, svc_job_get(&r->app->svc, r->params.v[0], &e), &e);
}

void h_job_put(struct req *r)
{
	struct err e;
	err_clear(&e);
	reply_result(r, 200, svc_job_update(&r->app->svc, r->params.v[0], r->json, &e), &e);
}

void h_job_delete(struct req *r)
{
	struct err e;
	err_clear(&e);
	if (svc_job_delete(&r->app->svc, r->params.v[0], &e))
		reply_empty(r, 204);
	else
		reply_err(r, &e);
}

void h_job_plan(struct req *r)
{
	struct err e;
	err_clear(&e);
	reply_result(r, 200, svc_job_plan(&r->app->svc, r->params.v[0], &e), &e);
}

void h_marks_list(struct req *r)
{
	struct err e;
	err_clear(&e);
	reply_result(r, 200, svc_marks_list(&r->app->svc, r->params.v[0], &e), &e);
}

void h_marks_reset(struct req *r)
{
	struct err e;
	err_clear(&e);
	if (svc_marks_reset(&r->app->svc, r->params.v[0], NULL, &e))
		reply_empty(r, 204);
	else
		reply_err(r, &e);
}

void h_mark_reset(struct req *r)
{
	struct err e;
	err_clear(&e);
	if (svc_marks_reset(&r->app->svc, r->params.v[0], r->params.v[1], &e))
		reply_empty(r, 204);
	else
		reply_err(r, &e);
}

void h_job_pause(struct req *r)
{
	struct err e;
	err_clear(&e);
	reply_result(r, 200, svc_job_pause(&r->app->svc, r->params.v[0], &e), &e);
}

void h_job_resume(struct req *r)
{
	struct err e;
	err_clear(&e);
	reply_result(r, 200, svc_job_resume(&r->app->svc, r->params.v[0], &e), &e);
}

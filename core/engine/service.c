/* core/engine/service.c: what the API does, independent of HTTP: one call per operation */
#include "service.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backfill.h"
#include "cron.h"
#include "planner.h"
#include "source.h"
#include "target.h"
#include "dsn.h"
#include "job.h"
#include "names.h"
#include "runcache.h"
#include "scheduler.h"
#include "sql.h"
#include "util.h"
#include "banned.h"

/* Parameters ($1 uuid or NULL, $2 name) that address a job by id or name. */
static void ref_params(const char *ref, const char *p[2])
{
	p[0] = str_is_uuid(ref) ? ref : NULL;
	p[1] = ref;
}

json_t *svc_job_get(struct service *s, const char *ref, struct err *e)
{
	const char *p[2];
	ref_params(ref, p);
	json_t *doc = meta_doc(s->meta, sql_job_get, 2, p, "job", e);
	if (!doc) {
		if (e->status == 404)
			err_set(e, 404, "not_found", NULL, "job \"%s\" not found", ref);
		return NULL;
	}
	json_t *out = job_render(doc);
	json_decref(doc);
	return out;
}

/* Load a job's stored definition (new reference) and its id. */
static json_t *job_spec(struct service *s, const char *ref, char id[37], struct err *e)
{
	const char *p[2];
	ref_params(ref, p);
	struct meta_rows *res = meta_exec(s->meta, sql_job_spec, 2, p, e);
	if (!res)
		return NULL;
	json_t *spec = NULL;
	if (meta_nrows(res) == 1) {
		str_copy(id, 37, meta_value(res, 0, 0));
		spec = json_loads(meta_value(res, 0, 1), 0, NULL);
	} else {
		err_set(e, 404, "not_found", NULL, "job \"%s\" not found", ref);
	}
	meta_rows_free(res);
	return spec;
}

static bool name_conflict(struct err *e, json_t *spec)
{
	if (e->status == 409)
		err_set(e, 409, "conflict", "name", "a job named \"%s\" already exists",
			json_string_value(json_object_get(spec, "name")));
	return false;
}

/*
 * Validate body and write it with sql ($1 id, $2 name, $3 definition,
 * $4 next_run_at from its schedule); the stored job or NULL.
 */
static json_t *job_store(struct service *s, const char *sql, const char *id, json_t *body,
			 struct err *e)
{
	json_t *spec = job_normalize(body, s->default_parallel, e);
	if (!spec)
		return NULL;
	char *text = json_dumps(spec, JSON_COMPACT);
	char next[32];
	sched_first_slot(json_object_get(spec, "schedule"), time(NULL), next);
	const char *p[] = {id, json_string_value(json_object_get(spec, "name")), text,
			   *next ? next : NULL};
	struct meta_rows *res = meta_exec(s->meta, sql, 4, p, e);
	free(text);
	if (!res)
		name_conflict(e, spec);
	meta_rows_free(res);
	json_decref(spec);
	return res ? svc_job_get(s, id, e) : NULL;
}

json_t *svc_job_create(struct service *s, json_t *body, struct err *e)
{
	char id[37];
	uuid_new(id);
	return job_store(s, sql_job_insert, id, body, e);
}

json_t *svc_job_list(struct service *s, long limit, long offset, struct err *e)
{
	char l[24], o[24];
	snprintf(l, sizeof(l), "%ld", limit);
	snprintf(o, sizeof(o), "%ld", offset);
	const char *p[] = {l, o};
	long long total = meta_count(s->meta, sql_job_count, 0, NULL, e);
	if (total < 0)
		return NULL;
	json_t *docs = meta_docs(s->meta, sql_job_list, 2, p, e);
	if (!docs)
		return NULL;
	json_t *items = json_array();
	size_t i;
	json_t *d;
	json_array_foreach(docs, i, d) {
		json_array_append_new(items, job_render(d));
	}
	json_decref(docs);
	return json_pack("{s:o,s:I,s:I,s:I}", "items", items, "total", (json_int_t)total, "limit",
			 (json_int_t)limit, "offset", (json_int_t)offset);
}

json_t *svc_job_update(struct service *s, const char *ref, json_t *body, struct err *e)
{
	char id[37];
	json_t *old = job_spec(s, ref, id, e);
	if (!old)
		return NULL;
	json_decref(old);
	json_t *given = json_object_get(body, "id");
	if (given && (!json_is_string(given) || strcmp(json_string_value(given), id))) {
		err_set(e, 400, "invalid_field", "id", "\"id\" does not match the job being replaced");
		return NULL;
	}
	return job_store(s, sql_job_update, id, body, e);
}

bool svc_job_delete(struct service *s, const char *ref, struct err *e)
{
	char id[37];
	json_t *old = job_spec(s, ref, id, e);
	if (!old)
		return false;
	json_decref(old);
	const char *p[] = {id, NULL};
	struct meta_rows *res = meta_exec(s->meta, sql_job_delete, 2, p, e);
	if (!res)
		return false;
	int n = meta_nrows(res);
	meta_rows_free(res);
	if (n == 0)
		return err_set(e, 409, "conflict", NULL,
			       "job \"%s\" has a queued or running run; cancel it first", ref);
	return true;
}

json_t *svc_job_pause(struct service *s, const char *ref, struct err *e)
{
	char id[37];
	json_t *spec = job_spec(s, ref, id, e);
	if (!spec)
		return NULL;
	json_decref(spec);
	const char *p[] = {id};
	struct meta_rows *res = meta_exec(s->meta, sql_job_pause, 1, p, e);
	meta_rows_free(res);
	return res ? svc_job_get(s, id, e) : NULL;
}

json_t *svc_job_resume(struct service *s, const char *ref, struct err *e)
{
	char id[37], next[32];
	json_t *spec = job_spec(s, ref, id, e);
	if (!spec)
		return NULL;
	/* slots missed while paused do not fire; @once keeps whether it has fired */
	const char *schedule = json_string_value(json_object_get(spec, "schedule"));
	struct cron c;
	bool once = schedule && cron_parse(schedule, &c, NULL, 0) && c.kind == CRON_ONCE;
	sched_first_slot(json_object_get(spec, "schedule"), time(NULL), next);
	json_decref(spec);
	const char *p[] = {id, *next ? next : NULL, once ? "true" : "false"};
	struct meta_rows *res = meta_exec(s->meta, sql_job_resume, 3, p, e);
	meta_rows_free(res);
	return res ? svc_job_get(s, id, e) : NULL;
}

json_t *svc_backfill_create(struct service *s, const char *job_ref, json_t *body, struct err *e)
{
	char id[37];
	json_t *spec = job_spec(s, job_ref, id, e);
	if (!spec)
		return NULL;
	json_decref(spec);
	return backfill_create(s->meta, id, body, e);
}

json_t *svc_backfill_list(struct service *s, const char *job_ref, long limit, long offset,
			  struct err *e)
{
	char id[37];
	json_t *spec = job_spec(s, job_ref, id, e);
	if (!spec)
		return NULL;
	json_decref(spec);
	return backfill_list(s->meta, id, limit, offset, e);
}

json_t *svc_backfill_get(struct service *s, const char *id, struct err *e)
{
	return backfill_get(s->meta, id, e);
}

json_t *svc_backfill_cancel(struct service *s, const char *id, struct err *e)
{
	return backfill_cancel(s->meta, s->engine, id, e);
}

/* True when a type name is one whose values do not mean the same in another database. */
static bool lossy_type(const char *type)
{
	static const char *const lossy[] = {"regclass", "regproc", "regprocedure", "regoper",
					    "regoperator", "regtype", "regconfig", "regdictionary",
					    "regnamespace", "regrole", "regcollation", "money", "oid",
					    "pg_catalog.regclass", "pg_catalog.money", NULL};
	for (const char *const *l = lossy; *l; l++)
		if (!strcmp(type, *l))
			return true;
	return false;
}

/* Warnings for one planned table: the pre-migration assessment. */
static json_t *plan_warnings(struct source *src, const struct job *job, const struct plan *p, int ti)
{
	const struct plan_table *t = &p->t[ti];
	json_t *w = json_array();
	struct err e;
	err_clear(&e);
	if (!t->st.has_pk && t->parent < 0)
		json_array_append_new(w, json_string("table has no primary key"));
	for (int i = 0; i < t->def.ncols; i++) {
		const struct tdef_column *c = &t->def.cols[i];
		if (c->generated && t->parent < 0)
			json_array_append_new(w, json_sprintf("column \"%s\" is generated: the target computes it, it is not copied",
							      c->target));
		if (lossy_type(c->type))
			json_array_append_new(w, json_sprintf("column \"%s\" has type %s, whose values do not carry over between databases",
							      c->target, c->type));
	}
	size_t i;
	json_t *ty;
	json_array_foreach(p->types, i, ty) {
		const char *ext = json_string_value(json_object_get(ty, "extension"));
		for (int c = 0; ext && c < t->def.ncols; c++)
			if (strstr(t->def.cols[c].type, json_string_value(json_object_get(ty, "type"))))
				json_array_append_new(w, json_sprintf("column \"%s\" needs extension \"%s\" on the target",
								      t->def.cols[c].target, ext));
	}
	src->ops->table_warnings(src, job, p, ti, w);
	const char *mode = job->load.mode;
	if (t->target_relkind && t->leaf) {
		const char *what = !strcmp(mode, "replace") ? "its rows will be replaced"
				   : !strcmp(mode, "append") ? "rows will be appended to it"
				   : !strcmp(mode, "drop")   ? "it will be dropped and created anew"
							     : "the load fails if it holds rows";
		json_array_append_new(w, json_sprintf("target table %s exists%s: %s (load.mode %s)",
						      t->st.dst_label,
						      t->target_rows > 0 ? " and holds rows" : "", what, mode));
	}
	if (!t->binary && t->leaf && !*t->error && src->ops->pg_binary)
		json_array_append_new(w, json_string("target column types differ from the source: the copy uses text format"));
	return w;
}

json_t *svc_job_plan(struct service *s, const char *ref, struct err *e)
{
	char id[37];
	json_t *spec = job_spec(s, ref, id, e), *out = NULL;
	struct source *src = NULL;
	struct target *dst = NULL;
	struct plan p = {0};
	if (!spec)
		return NULL;
	/* the stored definition, read as the engine reads a run's */
	struct job *job = job_parse(spec);
	json_decref(spec);
	if (!(src = source_open(job, e)))
		goto done;
	if (!src->ops->plan_begin(src, e))
		goto done;
	struct err de;
	err_clear(&de);
	json_t *warnings = json_array();
	if (!(dst = target_open(job, &de)))
		json_array_append_new(warnings, json_string(de.msg));
	if (!plan_build(src, dst, job, NULL, NULL, &p, e)) {
		json_decref(warnings);
		goto done;
	}
	json_t *tables = json_array();
	long long rows = 0, bytes = 0;
	int n = 0;
	for (int i = 0; i < p.n; i++) {
		const struct plan_table *t = &p.t[i];
		json_t *w = plan_warnings(src, job, &p, i);
		json_array_append_new(tables, json_pack("{s:s,s:s,s:s?,s:I,s:I,s:i,s:b,s:b,s:o,s:s?}",
			"source", t->st.src_label, "target", t->st.dst_label,
			"parent", t->parent_label[0] ? t->parent_label : NULL,
			"rows_estimate", (json_int_t)(t->leaf ? t->st.rows_estimate : 0),
			"bytes_estimate", (json_int_t)(t->leaf ? t->st.bytes_estimate : 0),
			"columns", t->def.ncols, "has_primary_key", t->st.has_pk,
			"target_exists", t->target_relkind != 0, "warnings", w,
			"error", *t->error ? t->error : NULL));
		if (!t->leaf)
			continue;
		n++;
		rows += t->st.rows_estimate;
		bytes += t->st.bytes_estimate;
	}
	if (p.n == 0)
		json_array_append_new(warnings,
				      json_string("no source table matches the job's include and exclude patterns"));
	if (p.objects)
		json_array_extend(warnings, p.objects->warnings);
	if (p.warnings)
		json_array_extend(warnings, p.warnings);
	out = json_pack("{s:s,s:o,s:{s:i,s:I,s:I},s:o}", "job_id", id, "tables", tables, "totals",
			"tables", n, "rows_estimate", (json_int_t)rows, "bytes_estimate",
			(json_int_t)bytes, "warnings", warnings);
	if (p.objects)
		json_object_set_new(out, "objects", objects_summary(p.objects));
done:
	plan_release(&p);
	source_close(src);
	target_close(dst);
	job_free(job);
	return out;
}

/*
 * params.from and params.to make a run a backfill of that cursor window of
 * the job's incremental tables: each a string (date, timestamp) or an
 * integer, both of one kind, from below to.
 */
static bool window_params_ok(json_t *p, struct err *e)
{
	json_t *from = json_object_get(p, "from"), *to = json_object_get(p, "to");
	const char *names[] = {"from", "to"};
	json_t *vals[] = {from, to};
	for (int i = 0; i < 2; i++) {
		char field[32];
		snprintf(field, sizeof(field), "params.%s", names[i]);
		if (vals[i] && !(json_is_integer(vals[i]) ||
				 (json_is_string(vals[i]) && *json_string_value(vals[i]) &&
				  strlen(json_string_value(vals[i])) < 200)))
			return err_set(e, 400, "invalid_field", field,
				       "\"%s\" must be a cursor value: a date or timestamp string, or an integer",
				       field);
	}
	if (from && to && json_is_integer(from) != json_is_integer(to))
		return err_set(e, 400, "invalid_field", "params.to",
			       "\"params.from\" and \"params.to\" must be of one kind (both strings or both integers)");
	if (from && to && json_is_integer(from) && json_integer_value(from) >= json_integer_value(to))
		return err_set(e, 400, "invalid_field", "params.to",
			       "\"params.to\" must be above \"params.from\" (the window is from <= cursor < to)");
	return true;
}

/* Validate a trigger body: {"tables": [names], "params": {}}; fills the two outputs. */
static bool trigger_body(json_t *body, json_t **tables, json_t **params, struct err *e)
{
	*tables = NULL;
	*params = NULL;
	if (!body)
		return true;
	if (!json_is_object(body))
		return err_set(e, 400, "invalid_json", NULL, "the request body must be a JSON object");
	const char *key;
	json_t *v;
	json_object_foreach(body, key, v) {
		if (strcmp(key, "tables") && strcmp(key, "params"))
			return err_set(e, 400, "unknown_field", key, "unknown field \"%s\"", key);
	}
	json_t *t = json_object_get(body, "tables");
	if (t && !json_is_null(t)) {
		if (!json_is_array(t) || json_array_size(t) == 0)
			return err_set(e, 400, "invalid_field", "tables",
				       "\"tables\" must be a non-empty array of schema.table names");
		size_t i;
		json_array_foreach(t, i, v) {
			char field[32];
			struct qualname q;
			snprintf(field, sizeof(field), "tables[%zu]", i);
			if (!json_is_string(v))
				return err_set(e, 400, "invalid_field", field, "\"%s\" must be a string", field);
			if (!qualname_parse(json_string_value(v), false, &q, field, e))
				return false;
		}
		*tables = t;
	}
	json_t *p = json_object_get(body, "params");
	if (p && !json_is_object(p))
		return err_set(e, 400, "invalid_field", "params", "\"params\" must be an object");
	if (!window_params_ok(p, e))
		return false;
	*params = p;
	return true;
}

/* Queue a run of job_id; tables (borrowed, may be NULL) narrows it. The new run, or NULL. */
static json_t *queue_run(struct service *s, const char *job_id, const char *job_ref,
			 const char *trigger, json_t *tables, json_t *params, struct err *e)
{
	char run_id[37];
	uuid_new(run_id);
	char *t = tables ? json_dumps(tables, JSON_COMPACT) : NULL;
	json_t *empty = json_object();
	char *p = json_dumps(params ? params : empty, JSON_COMPACT);
	json_decref(empty);
	const char *args[] = {run_id, job_id, trigger, p, t};
	struct meta_rows *res = meta_exec(s->meta, sql_run_insert, 5, args, e);
	free(t);
	free(p);
	if (!res) {
		if (e->status == 409)
			err_set(e, 409, "conflict", NULL,
				"job \"%s\" already has a queued or running run; wait for it or cancel it",
				job_ref);
		return NULL;
	}
	meta_rows_free(res);
	engine_wake(s->engine);
	return svc_run_get(s, run_id, e);
}

json_t *svc_run_trigger(struct service *s, const char *job_ref, json_t *body, struct err *e)
{
	char job_id[37];
	json_t *tables, *params;
	json_t *spec = job_spec(s, job_ref, job_id, e);
	if (!spec)
		return NULL;
	json_decref(spec);
	if (!trigger_body(body, &tables, &params, e))
		return NULL;
	return queue_run(s, job_id, job_ref, "api", tables, params, e);
}

json_t *svc_run_retry(struct service *s, const char *run_id, struct err *e)
{
	json_t *run = svc_run_get(s, run_id, e);
	if (!run)
		return NULL;
	char state[16];
	str_copy(state, sizeof(state), json_string_value(json_object_get(run, "state")));
	char job_id[37];
	str_copy(job_id, sizeof(job_id), json_string_value(json_object_get(run, "job_id")));
	bool active = !strcmp(state, "queued") || !strcmp(state, "running") ||
		      !strcmp(state, "cancelling");
	json_decref(run);
	if (!strcmp(state, "skipped")) {
		err_set(e, 409, "conflict", NULL,
			"run %s was skipped and never started: start a new run of the job instead", run_id);
		return NULL;
	}
	if (active) {
		err_set(e, 409, "conflict", NULL, "run %s is still %s; retry it once it has finished",
			run_id, state);
		return NULL;
	}
	const char *p[] = {run_id};
	struct meta_rows *res = meta_exec(s->meta, sql_run_not_loaded, 1, p, e);
	if (!res)
		return NULL;
	json_t *tables = json_array();
	for (int i = 0; i < meta_nrows(res); i++)
		json_array_append_new(tables, json_string(meta_value(res, i, 0)));
	meta_rows_free(res);
	json_t *out = NULL;
	if (json_array_size(tables) == 0)
		err_set(e, 409, "conflict", NULL,
			"every table of run %s loaded: there is nothing to retry", run_id);
	else {
		json_t *params = json_pack("{s:s}", "retry_of", run_id);
		out = queue_run(s, job_id, job_id, "retry", tables, params, e);
		json_decref(params);
	}
	json_decref(tables);
	return out;
}

json_t *svc_run_list(struct service *s, const char *job_ref, long limit, long offset,
		     struct err *e)
{
	char job_id[37], l[24], o[24];
	json_t *spec = job_spec(s, job_ref, job_id, e);
	if (!spec)
		return NULL;
	json_decref(spec);
	snprintf(l, sizeof(l), "%ld", limit);
	snprintf(o, sizeof(o), "%ld", offset);
	const char *p[] = {job_id, l, o};
	long long total = meta_count(s->meta, sql_run_count, 1, p, e);
	json_t *items = total < 0 ? NULL : meta_docs(s->meta, sql_run_list, 3, p, e);
	if (!items)
		return NULL;
	return json_pack("{s:o,s:I,s:I,s:I}", "items", items, "total", (json_int_t)total, "limit",
			 (json_int_t)limit, "offset", (json_int_t)offset);
}

static bool run_ref_ok(const char *run_id, struct err *e)
{
	if (!str_is_uuid(run_id))
		return err_set(e, 404, "not_found", NULL, "run \"%s\" not found", run_id);
	return true;
}

json_t *svc_run_get(struct service *s, const char *run_id, struct err *e)
{
	const char *p[] = {run_id};
	if (!run_ref_ok(run_id, e))
		return NULL;
	json_t *doc = meta_doc(s->meta, sql_run_get, 1, p, "run", e);
	if (!doc && e->status == 404)
		err_set(e, 404, "not_found", NULL, "run \"%s\" not found", run_id);
	return doc;
}

/* 404 unless the run exists. */
static bool run_exists(struct service *s, const char *run_id, struct err *e)
{
	const char *p[] = {run_id};
	if (!run_ref_ok(run_id, e))
		return false;
	long long n = meta_count(s->meta, sql_run_exists, 1, p, e);
	if (n == 0)
		err_set(e, 404, "not_found", NULL, "run \"%s\" not found", run_id);
	return n > 0;
}

char *svc_body(json_t *doc, size_t *len)
{
	char *text = json_dumps(doc, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
	size_t n = text ? strlen(text) : 0;
	/* the newline goes on in place: a body may be a whole run's table list */
	char *body = xrealloc(text, n + 2);
	body[n] = '\n';
	body[n + 1] = '\0';
	*len = n + 1;
	return body;
}

/* The body of a run's tables from the metadata database, in one query; 404 when there is no such run. */
static char *run_tables_fetch(void *arg, const char *run_id, size_t *len, struct err *e)
{
	struct service *s = arg;
	const char *p[] = {run_id};
	json_error_t jerr;
	json_t *items = NULL;
	struct meta_rows *res = meta_exec(s->meta, sql_run_tables, 1, p, e);
	if (!res)
		return NULL;
	if (meta_nrows(res) == 0)
		err_set(e, 404, "not_found", NULL, "run \"%s\" not found", run_id);
	else if (!(items = json_loads(meta_value(res, 0, 0), 0, &jerr)))
		err_set(e, 500, "internal", NULL, "metadata returned malformed JSON: %s", jerr.text);
	meta_rows_free(res);
	if (!items)
		return NULL;
	json_t *doc = json_pack("{s:o}", "items", items);
	char *body = svc_body(doc, len);
	json_decref(doc);
	return body;
}

/* The body of a run from the metadata database, in one query; 404 when there is no such run. */
static char *run_fetch(void *arg, const char *run_id, size_t *len, struct err *e)
{
	json_t *doc = svc_run_get(arg, run_id, e);
	if (!doc)
		return NULL;
	char *body = svc_body(doc, len);
	json_decref(doc);
	return body;
}

static bool run_live(void *arg, const char *run_id, uint64_t *gen, bool *changing)
{
	struct service *s = arg;
	return engine_owns_run(s->engine, run_id, gen, changing);
}

/* A change of a run is done: both caches look again. */
static void runs_poke(void *arg)
{
	struct service *s = arg;
	runcache_poke(s->runs);
	runcache_poke(s->tables);
}

/* An answer about run_id: from cache c (NULL: none) for a run this ferryd is loading, else from fetch. */
static char *run_answer(struct service *s, struct runcache *c,
			char *(*fetch)(void *, const char *, size_t *, struct err *),
			const char *run_id, size_t *len, struct err *e)
{
	if (!run_ref_ok(run_id, e))
		return NULL;
	return c ? runcache_get(c, run_id, len, e) : fetch(s, run_id, len, e);
}

char *svc_run_body(struct service *s, const char *run_id, size_t *len, struct err *e)
{
	return run_answer(s, s->runs, run_fetch, run_id, len, e);
}

char *svc_run_tables(struct service *s, const char *run_id, size_t *len, struct err *e)
{
	return run_answer(s, s->tables, run_tables_fetch, run_id, len, e);
}

void svc_start(struct service *s)
{
	struct runcache_source tables = {run_live, run_tables_fetch, s};
	struct runcache_source runs = {run_live, run_fetch, s};
	s->tables = runcache_start(&tables, &runcache_defaults);
	s->runs = runcache_start(&runs, &runcache_defaults);
	engine_watch(s->engine, runs_poke, s);
}

void svc_stop(struct service *s)
{
	if (!s->tables)
		return;
	engine_watch(s->engine, NULL, NULL);
	runcache_stop(s->tables);
	runcache_stop(s->runs);
}

void svc_release(struct service *s)
{
	runcache_free(s->tables);
	runcache_free(s->runs);
	s->tables = NULL;
	s->runs = NULL;
}

json_t *svc_run_events(struct service *s, const char *run_id, long long after, long limit,
		       struct err *e)
{
	char a[24], l[24];
	snprintf(a, sizeof(a), "%lld", after);
	snprintf(l, sizeof(l), "%ld", limit);
	const char *p[] = {run_id, a, l};
	if (!run_exists(s, run_id, e))
		return NULL;
	json_t *items = meta_docs(s->meta, sql_run_events, 3, p, e);
	if (!items)
		return NULL;
	json_t *last = json_array_get(items, json_array_size(items) - 1);
	json_int_t next = last ? json_integer_value(json_object_get(last, "id")) : after;
	return json_pack("{s:o,s:I}", "items", items, "next_after", next);
}

json_t *svc_run_cancel(struct service *s, const char *run_id, struct err *e)
{
	if (!run_ref_ok(run_id, e) || !engine_cancel_run(s->engine, run_id, e))
		return NULL;
	return svc_run_get(s, run_id, e);
}

json_t *svc_connection_test(struct service *s, json_t *body, struct err *e)
{
	(void)s;
	if (!json_is_object(body)) {
		err_set(e, 400, "invalid_json", NULL, "the request body must be a JSON object");
		return NULL;
	}
	const char *key;
	json_t *v;
	json_object_foreach(body, key, v) {
		if (strcmp(key, "dsn")) {
			err_set(e, 400, "unknown_field", key, "unknown field \"%s\"", key);
			return NULL;
		}
	}
	json_t *dsn = json_object_get(body, "dsn");
	if (!dsn) {
		err_set(e, 400, "missing_field", "dsn", "\"dsn\" is required");
		return NULL;
	}
	if (!json_is_string(dsn)) {
		err_set(e, 400, "invalid_field", "dsn", "\"dsn\" must be a string");
		return NULL;
	}
	if (!dsn_validate(json_string_value(dsn), "dsn", e))
		return NULL;
	char *shown = dsn_redact(json_string_value(dsn));
	struct err ce;
	err_clear(&ce);
	int64_t t0 = now_ms();
	json_t *spec = json_pack("{s:{s:O}}", "source", "dsn", dsn);
	struct job *job = job_parse(spec);
	json_decref(spec);
	struct source *c = source_open(job, &ce);
	double ms = (double)(now_ms() - t0);
	json_t *out;
	struct source_about about = {0};
	if (c && c->ops->about(c, &about, &ce)) {
		out = json_pack("{s:b,s:s,s:s,s:f,s:s}", "reachable", 1, "server_version", about.version,
				"kind", about.kind, "latency_ms", ms, "dsn", shown);
	} else {
		out = json_pack("{s:b,s:s,s:f,s:s}", "reachable", 0, "error", ce.cause[0] ? ce.cause : ce.msg,
				"latency_ms", ms, "dsn", shown);
	}
	source_close(c);
	job_free(job);
	free(shown);
	return out;
}

json_t *svc_marks_list(struct service *s, const char *job_ref, struct err *e)
{
	char id[37];
	json_t *spec = job_spec(s, job_ref, id, e);
	if (!spec)
		return NULL;
	json_decref(spec);
	const char *p[] = {id};
	json_t *items = meta_docs(s->meta, sql_marks_list, 1, p, e);
	return items ? json_pack("{s:o}", "items", items) : NULL;
}

bool svc_marks_reset(struct service *s, const char *job_ref, const char *table, struct err *e)
{
	char id[37];
	json_t *spec = job_spec(s, job_ref, id, e);
	if (!spec)
		return false;
	json_decref(spec);
	const char *p[] = {id, table};
	struct meta_rows *res = meta_exec(s->meta, sql_marks_reset, 2, p, e);
	if (!res)
		return false;
	int n = meta_nrows(res);
	meta_rows_free(res);
	if (table && n == 0)
		return err_set(e, 404, "not_found", NULL, "job \"%s\" has no high-water mark for table %s",
			       job_ref, table);
	return true;
}

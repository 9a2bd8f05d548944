/* tests/unit/jobview.h: a normalized job definition read as the engine reads it (job_parse), one field at a time */
#ifndef FERRY_TEST_JOBVIEW_H
#define FERRY_TEST_JOBVIEW_H

#include <jansson.h>
#include <string.h>

#include "job.h"

/*
 * Each parses spec (a normalized definition, kept by the caller), reads one
 * field and lets go of the parse: strings point into spec, or are defaults.
 */
#define JOB_VIEW(type, name, expr)                  \
	static inline type name(json_t *spec)       \
	{                                           \
		struct job *j = job_parse(spec);    \
		type v = (expr);                    \
		job_free(j);                        \
		return v;                           \
	}

JOB_VIEW(const char *, view_load_mode, j->load.mode)
JOB_VIEW(bool, view_load_create, j->load.create)
JOB_VIEW(int, view_load_parallel, j->load.parallel)
JOB_VIEW(int, view_index_parallel, j->load.index_parallel)
JOB_VIEW(long long, view_split_bytes, j->load.split_bytes)
JOB_VIEW(const char *, view_validate_mode, j->load.validate)
JOB_VIEW(bool, view_all_objects, j->all_objects)

static inline const char *view_value_rule(json_t *spec, const char *what)
{
	struct job *j = job_parse(spec);
	const char *v = !strcmp(what, "zero_dates") ? j->zero_dates : j->nul_characters;
	job_free(j);
	return v;
}

static inline const char *view_schema_target(json_t *spec, const char *schema)
{
	struct job *j = job_parse(spec);
	const char *v = job_schema_target(j, schema);
	job_free(j);
	return v;
}

static inline const char *view_table_mode(json_t *spec, const char *schema, const char *name)
{
	struct job *j = job_parse(spec);
	const char *v = job_table_mode(j, schema, name);
	job_free(j);
	return v;
}

static inline bool view_selects(json_t *spec, const char *schema, const char *name)
{
	struct job *j = job_parse(spec);
	bool v = job_selects(j, schema, name);
	job_free(j);
	return v;
}

/* The "tables" entry job_table_options finds for schema.name, as its JSON (borrowed from spec), or NULL. */
static inline json_t *view_table_options(json_t *spec, const char *schema, const char *name)
{
	struct job *j = job_parse(spec);
	const struct job_table *t = job_table_options(j, schema, name);
	json_t *v = t ? json_object_get(json_object_get(spec, "tables"), t->label) : NULL;
	job_free(j);
	return v;
}

#endif

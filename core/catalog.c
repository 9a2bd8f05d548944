/* core/catalog.c: what a source database holds: tables selected by a job, their columns */
#include "catalog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "job.h"
#include "sql.h"
#include "util.h"
#include "banned.h"

/* Count the rows of a table that was never analyzed (its reltuples is -1). */
static long long exact_count(PGconn *src, const struct qualname *q, struct err *e)
{
	char *rel = db_qualified(src, q->schema, q->name);
	char *sql = xasprintf("SELECT count(*) FROM %s", rel);
	PGresult *res = db_exec(src, sql, 0, NULL, e);
	long long n = res ? atoll(PQgetvalue(res, 0, 0)) : -1;
	PQclear(res);
	free(sql);
	free(rel);
	return n;
}

/* Fill the target name of t from the job's per-table options. */
static void table_target(json_t *spec, struct src_table *t)
{
	json_t *opts = job_table_options(spec, t->src.schema, t->src.name);
	const char *target = json_string_value(json_object_get(opts, "target"));
	const char *filter = json_string_value(json_object_get(opts, "where"));
	t->dst = t->src;
	if (target) {
		struct qualname q;
		if (qualname_parse(target, true, &q, "", NULL)) {
			t->dst = q;
			if (!*q.schema)
				memcpy(t->dst.schema, t->src.schema, sizeof(t->dst.schema));
		}
	}
	t->filter = filter ? xstrdup(filter) : NULL;
	qualname_format(&t->src, t->src_label, sizeof(t->src_label));
	qualname_format(&t->dst, t->dst_label, sizeof(t->dst_label));
}

/* True when name (a "schema.table" string) is in the requested list. */
static bool is_requested(json_t *requested, const struct qualname *q, bool *used)
{
	size_t i;
	json_t *v;
	json_array_foreach(requested, i, v) {
		struct qualname r;
		if (qualname_parse(json_string_value(v), false, &r, "", NULL) &&
		    !strcmp(r.schema, q->schema) && !strcmp(r.name, q->name)) {
			used[i] = true;
			return true;
		}
	}
	return false;
}

bool catalog_select(PGconn *src, json_t *spec, json_t *requested, struct src_table **out,
		    int *n, struct err *e)
{
	struct src_table *tables = NULL;
	int count = 0;
	size_t nreq = json_array_size(requested);
	bool *used = xcalloc(nreq + 1, sizeof(bool));
	PGresult *res = db_exec(src, sql_catalog_tables, 0, NULL, e);
	if (!res)
		goto fail;
	tables = xcalloc((size_t)PQntuples(res) + 1, sizeof(*tables));
	for (int i = 0; i < PQntuples(res); i++) {
		struct src_table *t = &tables[count];
		str_copy(t->src.schema, sizeof(t->src.schema), PQgetvalue(res, i, 0));
		str_copy(t->src.name, sizeof(t->src.name), PQgetvalue(res, i, 1));
		if (!job_selects(spec, t->src.schema, t->src.name))
			continue;
		if (requested && !is_requested(requested, &t->src, used))
			continue;
		t->rows_estimate = atoll(PQgetvalue(res, i, 2));
		t->bytes_estimate = atoll(PQgetvalue(res, i, 3));
		t->has_pk = PQgetvalue(res, i, 4)[0] == 't';
		table_target(spec, t);
		count++;
		if (PQgetvalue(res, i, 5)[0] != 't') {
			t->rows_estimate = exact_count(src, &t->src, e);
			if (t->rows_estimate < 0)
				goto fail;
		}
	}
	for (size_t i = 0; i < nreq; i++) {
		if (!used[i]) {
			char field[32];
			snprintf(field, sizeof(field), "tables[%zu]", i);
			err_set(e, 400, "invalid_field", field,
				"table \"%s\" does not exist in the source or is not selected by the job's include/exclude",
				json_string_value(json_array_get(requested, i)));
			goto fail;
		}
	}
	PQclear(res);
	free(used);
	*out = tables;
	*n = count;
	return true;
fail:
	PQclear(res);
	free(used);
	catalog_free(tables, count);
	return false;
}

void catalog_free(struct src_table *t, int n)
{
	if (!t)
		return;
	for (int i = 0; i < n; i++)
		free(t[i].filter);
	free(t);
}

int catalog_columns(PGconn *c, const struct qualname *q, struct column **out, struct err *e)
{
	const char *params[] = {q->schema, q->name};
	PGresult *res = db_exec(c, sql_catalog_columns, 2, params, e);
	*out = NULL;
	if (!res)
		return -1;
	int n = PQntuples(res);
	struct column *cols = xcalloc((size_t)n + 1, sizeof(*cols));
	for (int i = 0; i < n; i++) {
		str_copy(cols[i].name, sizeof(cols[i].name), PQgetvalue(res, i, 0));
		str_copy(cols[i].type, sizeof(cols[i].type), PQgetvalue(res, i, 1));
		cols[i].generated = PQgetvalue(res, i, 2)[0] == 't';
	}
	PQclear(res);
	*out = cols;
	return n;
}

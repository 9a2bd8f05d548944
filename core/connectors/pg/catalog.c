/* core/connectors/pg/catalog.c: what a source database holds: tables selected by a job, their columns */
#include "catalog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "job.h"
#include "sql.h"
#include "util.h"
#include "banned.h"

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

bool catalog_select(PGconn *src, const struct job *job, json_t *requested, struct src_table **out,
		    int *n, struct err *e)
{
	struct src_table *tables = NULL;
	int count = 0, nuncounted = 0;
	size_t nreq = json_array_size(requested);
	bool *used = xcalloc(nreq + 1, sizeof(bool));
	const struct qualname **uncounted = NULL;
	long long *counts = NULL;
	int *which = NULL;
	PGresult *res = db_exec(src, sql_catalog_tables, 0, NULL, e);
	if (!res)
		goto fail;
	tables = xcalloc((size_t)PQntuples(res) + 1, sizeof(*tables));
	uncounted = xcalloc((size_t)PQntuples(res) + 1, sizeof(*uncounted));
	which = xcalloc((size_t)PQntuples(res) + 1, sizeof(*which));
	for (int i = 0; i < PQntuples(res); i++) {
		struct src_table *t = &tables[count];
		str_copy(t->src.schema, sizeof(t->src.schema), PQgetvalue(res, i, 0));
		str_copy(t->src.name, sizeof(t->src.name), PQgetvalue(res, i, 1));
		if (!job_selects(job, t->src.schema, t->src.name))
			continue;
		if (requested && !is_requested(requested, &t->src, used))
			continue;
		t->rows_estimate = atoll(PQgetvalue(res, i, 2));
		t->bytes_estimate = atoll(PQgetvalue(res, i, 3));
		t->has_pk = PQgetvalue(res, i, 4)[0] == 't';
		src_table_target(job, t);
		/* never analyzed (reltuples -1): count its rows */
		if (PQgetvalue(res, i, 5)[0] != 't') {
			uncounted[nuncounted] = &t->src;
			which[nuncounted++] = count;
		}
		count++;
	}
	if (requested && !src_tables_found(requested, used, e))
		goto fail;
	counts = xcalloc((size_t)nuncounted + 1, sizeof(*counts));
	if (!catalog_count_rows(src, uncounted, nuncounted, 0, counts, e))
		goto fail;
	for (int i = 0; i < nuncounted; i++)
		tables[which[i]].rows_estimate = counts[i];
	PQclear(res);
	free(used);
	free(uncounted);
	free(which);
	free(counts);
	*out = tables;
	*n = count;
	return true;
fail:
	PQclear(res);
	free(used);
	free(uncounted);
	free(which);
	free(counts);
	src_tables_free(tables, count);
	return false;
}

/* Run sql with $1 and $2 the arrays of the schemas and of the names of the n tables q[i]. */
static PGresult *exec_on_names(PGconn *c, const char *sql, const struct qualname *const *q,
			       int n, struct err *e)
{
	struct sb schemas, names;
	sb_init(&schemas);
	sb_init(&names);
	for (int i = 0; i < n; i++) {
		db_array_add(&schemas, q[i]->schema);
		db_array_add(&names, q[i]->name);
	}
	db_array_end(&schemas);
	db_array_end(&names);
	const char *params[] = {schemas.buf, names.buf};
	PGresult *res = db_exec(c, sql, 2, params, e);
	sb_release(&schemas);
	sb_release(&names);
	return res;
}

bool catalog_relkinds(PGconn *c, const struct qualname *const *q, int n, char *kinds,
		      struct err *e)
{
	PGresult *res = exec_on_names(c, sql_catalog_relkinds, q, n, e);
	if (!res)
		return false;
	memset(kinds, 0, (size_t)n);
	for (int r = 0; r < PQntuples(res); r++)
		kinds[atoi(PQgetvalue(res, r, 0)) - 1] = PQgetvalue(res, r, 1)[0];
	PQclear(res);
	return true;
}

int catalog_columns(PGconn *c, const struct qualname *const *q, int n, struct column **out,
		    struct err *e)
{
	PGresult *res = exec_on_names(c, sql_catalog_columns, q, n, e);
	*out = NULL;
	if (!res)
		return -1;
	int rows = PQntuples(res);
	struct column *cols = xcalloc((size_t)rows + 1, sizeof(*cols));
	for (int i = 0; i < rows; i++) {
		cols[i].table = atoi(PQgetvalue(res, i, 0)) - 1;
		str_copy(cols[i].name, sizeof(cols[i].name), PQgetvalue(res, i, 1));
		str_copy(cols[i].type, sizeof(cols[i].type), PQgetvalue(res, i, 2));
		cols[i].generated = PQgetvalue(res, i, 3)[0] == 't';
	}
	PQclear(res);
	*out = cols;
	return rows;
}

#define COUNT_BATCH 100

/* One statement counting the rows of tables q[0..n): a row (position, count) each. */
static char *count_sql(PGconn *c, const struct qualname *const *q, int n, long long limit)
{
	struct sb sql;
	sb_init(&sql);
	for (int i = 0; i < n; i++) {
		char *rel = db_qualified(c, q[i]->schema, q[i]->name);
		if (limit > 0)
			sb_addf(&sql, "%sSELECT %d, count(*) FROM (SELECT FROM %s LIMIT %lld) s", i ? " UNION ALL " : "",
				i, rel, limit);
		else
			sb_addf(&sql, "%sSELECT %d, count(*) FROM %s", i ? " UNION ALL " : "", i, rel);
		free(rel);
	}
	return sb_detach(&sql);
}

bool catalog_count_rows(PGconn *c, const struct qualname *const *q, int n, long long limit,
			long long *counts, struct err *e)
{
	for (int at = 0; at < n; at += COUNT_BATCH) {
		int k = n - at < COUNT_BATCH ? n - at : COUNT_BATCH;
		char *sql = count_sql(c, q + at, k, limit);
		struct err ce;
		err_clear(&ce);
		PGresult *res = db_exec(c, sql, 0, NULL, &ce);
		free(sql);
		for (int r = 0; res && r < PQntuples(res); r++)
			counts[at + atoi(PQgetvalue(res, r, 0))] = atoll(PQgetvalue(res, r, 1));
		PQclear(res);
		if (res)
			continue;
		if (PQtransactionStatus(c) != PQTRANS_IDLE) {
			*e = ce;
			return false;
		}
		for (int i = 0; i < k; i++) {
			sql = count_sql(c, q + at + i, 1, limit);
			res = db_exec(c, sql, 0, NULL, &ce);
			counts[at + i] = res ? atoll(PQgetvalue(res, 0, 1)) : -1;
			PQclear(res);
			free(sql);
		}
	}
	return true;
}

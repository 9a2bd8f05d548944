/* core/connectors/pg/catalog.h: what a source database holds: tables selected by a job, their columns */
#ifndef FERRY_CATALOG_H
#define FERRY_CATALOG_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>

#include "err.h"
#include "job.h"
#include "model.h"
#include "names.h"

/*
 * List the tables of the source (regular and partitioned, not partitions)
 * that the job's include/exclude globs select, narrowed to `requested` (an
 * array of "schema.table" names, borrowed, may be NULL), biggest first.
 * A requested name the job does not select fails with 400 naming
 * "tables[i]". Row estimates come from the catalog, or from count(*) for a
 * table never analyzed. Returns false with e filled on failure; *out is a
 * new array the caller frees with src_tables_free.
 */
bool catalog_select(PGconn *src, const struct job *job, json_t *requested, struct src_table **out,
		    int *n, struct err *e);

/*
 * The kind (pg_class.relkind) of each of the n relations q[i] into kinds[i],
 * 0 for one that does not exist. False with e filled on failure.
 */
bool catalog_relkinds(PGconn *c, const struct qualname *const *q, int n, char *kinds,
		      struct err *e);

/*
 * Read the columns of the n tables q[i], table by table, each in column
 * order (none for a table that does not exist). Returns the count and a
 * new array in *out (caller frees), or -1 with e filled.
 */
int catalog_columns(PGconn *c, const struct qualname *const *q, int n, struct column **out,
		    struct err *e);

/*
 * Count the rows of each of the n tables q[i] into counts[i], up to limit
 * when limit > 0 (limit 1 asks whether a table holds rows), a hundred
 * tables to a statement. When a statement fails on a connection outside a
 * transaction, its tables are counted one by one and one whose count fails
 * gets -1; inside a transaction (which the failure aborted) returns false
 * with e filled.
 */
bool catalog_count_rows(PGconn *c, const struct qualname *const *q, int n, long long limit,
			long long *counts, struct err *e);

#endif

/* core/catalog.h: what a source database holds: tables selected by a job, their columns */
#ifndef FERRY_CATALOG_H
#define FERRY_CATALOG_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>

#include "err.h"
#include "names.h"

/* One source table a job selects, with where it goes. */
struct src_table {
	struct qualname src;
	struct qualname dst;
	char src_label[300];
	char dst_label[300];
	char *filter; /* owned; the job's "where" for it, or NULL */
	long long rows_estimate;
	long long bytes_estimate;
	bool has_pk;
};

/*
 * List the tables of the source (regular and partitioned, not partitions)
 * that the job's include/exclude globs select, narrowed to `requested` (an
 * array of "schema.table" names, borrowed, may be NULL), biggest first.
 * A requested name the job does not select fails with 400 naming
 * "tables[i]". Row estimates come from the catalog, or from count(*) for a
 * table never analyzed. Returns false with e filled on failure; *out is a
 * new array the caller frees with catalog_free.
 */
bool catalog_select(PGconn *src, json_t *spec, json_t *requested, struct src_table **out,
		    int *n, struct err *e);
void catalog_free(struct src_table *t, int n);

struct column {
	char name[128];
	char type[256];
	bool generated;
};

/*
 * Read the columns of schema.name. Returns the count (0 when the table does
 * not exist) and a new array in *out (caller frees), or -1 with e filled.
 */
int catalog_columns(PGconn *c, const struct qualname *q, struct column **out, struct err *e);

#endif

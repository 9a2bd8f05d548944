/* core/connectors/pg/tabledef.h: PostgreSQL tables described into ferry's table model (model.h) from pg_catalog, with the job's transformations; their DDL on the target */
#ifndef FERRY_TABLEDEF_H
#define FERRY_TABLEDEF_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>

#include "err.h"
#include "job.h"
#include "names.h"
#include "model.h"
#include "sb.h"


/*
 * Read table src from the source (a connection whose search_path is
 * pg_catalog, so every name comes back qualified) and apply the job's
 * per-table options `opts` (borrowed, may be NULL): columns renames,
 * drop_columns, expressions (their types are asked of the source) and casts.
 * dst is the target name. On a bad option or an expression the source
 * rejects, fills e (400, naming the table and column) and returns false.
 */
bool tdef_load(PGconn *src, const struct qualname *srcname, const struct qualname *dst,
	       const struct job_table *opts, struct tdef *out, struct err *e);

/* One table of tdef_load_all: what to read, and what came of it. */
struct tdef_item {
	struct qualname src; /* in */
	struct qualname dst; /* in */
	const struct job_table *opts; /* in, borrowed, may be NULL */
	bool ok;             /* out: def is filled */
	struct tdef def;     /* out: owned by the caller once ok */
	struct err err;      /* out: why not, when !ok (as tdef_load) */
};

/*
 * tdef_load for n tables at once: the source catalog is read with one query
 * per kind (relations, columns, sequences, constraints, indexes) for all of
 * them; only expressions and casts are asked of the source table by table.
 * A table the catalog does not hold, or whose options are bad, gets its own
 * ok = false and err. Returns false with e filled (every item released, the
 * source transaction possibly aborted) when a query fails for the tables
 * together, so the caller can describe them one by one inside savepoints.
 */
bool tdef_load_all(PGconn *src, struct tdef_item *items, int n, struct err *e);

/* CREATE TABLE for the target (partitioned, partition or plain), appended to out. */
void tdef_create_sql(PGconn *c, const struct tdef *t, struct sb *out);
/* The source query: SELECT <columns>[, <extra>] FROM <table> [WHERE (...)], appended to out. */
void tdef_select_sql(PGconn *c, const struct tdef *t, struct sb *out);
/*
 * When the source query is a plain read of the table's own columns (no
 * filter, expression or cast), the COPY source that reads it without the
 * executor, "schema"."table" ("a", "b"), appended to out; false (out
 * untouched) otherwise.
 */
bool tdef_copy_target(PGconn *c, const struct tdef *t, struct sb *out);
/* The target column list of the COPY ("a", "b"), appended to out. */
void tdef_column_list(PGconn *c, const struct tdef *t, struct sb *out);

/*
 * The user types (enums, domains, composite and range types) the columns
 * need, deepest dependency first, as a new JSON array of
 * {"name": "schema.type" quoted, "schema", "ddl", "extension": name|null}.
 */
json_t *tdef_types(PGconn *src, const struct tdef *tables, int n, struct err *e);

#endif

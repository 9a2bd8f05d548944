/* core/connectors/pg/tabledef.h: a source table as the target will hold it: columns after the job's transformations, its DDL, its post-load steps */
#ifndef FERRY_TABLEDEF_H
#define FERRY_TABLEDEF_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>

#include "err.h"
#include "job.h"
#include "names.h"
#include "sb.h"

/* A sequence that a column's default calls without owning it (plain CREATE SEQUENCE, then DEFAULT nextval(…)). */
struct tdef_seq {
	char *name;         /* owned: qualified and quoted, as on the source and the target */
	char *ddl;          /* owned or NULL: its CREATE SEQUENCE IF NOT EXISTS */
	char schema[128];   /* its schema, unquoted */
};

struct tdef_column {
	char source[128];      /* source column name ("" for an expression column) */
	char target[128];      /* target column name */
	char type[256];        /* type on the target, qualified */
	char *select;          /* owned: SQL producing it from the source row */
	char *default_expr;    /* owned or NULL */
	char *generated;       /* owned or NULL: GENERATED ALWAYS AS (...) STORED */
	char *sequence;        /* owned or NULL: the source sequence owned by the column */
	char *sequence_ddl;    /* owned or NULL: CREATE SEQUENCE for a serial column, the sequence options of an identity column */
	struct tdef_seq *uses; /* owned: the other sequences the default calls, shared or standalone */
	int nuses;
	char collation[200];   /* qualified collation when it is not the type's, or "" */
	char conv[12];         /* how the source connector turns its values into COPY text ("": as they come) */
	char *comment;         /* owned or NULL: COMMENT ON COLUMN, for sources whose comments are not objects */
	char identity;         /* 'a' always, 'd' by default, 0 none */
	bool notnull;
	long long type_oid;    /* on the source; 0 for expression columns */
};

/* A statement run on the target after the data is in. */
struct tdef_step {
	char kind[16];  /* primary_key, unique, check, exclusion, index, foreign_key */
	char name[128]; /* constraint or index name */
	char *sql;      /* owned */
	char *skip;     /* owned or NULL: why the step cannot be taken */
	struct qualname ref;   /* foreign keys: the referenced source table */
	char ref_printed[300]; /* foreign keys: that table as the definition prints it */
};

struct tdef {
	struct qualname src;
	struct qualname dst;
	char relkind;           /* 'r' table, 'p' partitioned */
	char *partkey;          /* owned: "RANGE (ts)" for a partitioned table */
	char *partbound;        /* owned: "FOR VALUES ..." or "DEFAULT" for a partition */
	char *reloptions;       /* owned or NULL: storage parameters, "fillfactor='80', toast.…" */
	struct qualname parent; /* the partition's parent on the target (schema empty when none) */
	struct tdef_column *cols; /* owned */
	int ncols;
	struct tdef_step *steps; /* owned */
	int nsteps;
	char *filter;           /* owned or NULL: the job's where */
	char *extra_select;     /* owned or NULL: one more source column the load reads but does not store */
	char *comment;          /* owned or NULL: COMMENT ON TABLE, for sources whose comments are not objects */
};

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
void tdef_release(struct tdef *t);
/* A new zeroed column or post-load step at the end of t's (for source connectors). */
struct tdef_column *tdef_add_column(struct tdef *t);
struct tdef_step *tdef_add_step(struct tdef *t, const char *kind, const char *name);

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

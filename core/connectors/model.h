/* core/connectors/model.h: ferry's own table model, which every source connector describes its tables in and the planner, engine and target read: tables with their columns and post-load steps, the selected tables with their estimates, the target's existing columns, and a schema's other objects */
#ifndef FERRY_MODEL_H
#define FERRY_MODEL_H

#include <jansson.h>
#include <stdbool.h>

#include "err.h"
#include "job.h"
#include "names.h"

/* ---- a table as the target will hold it: columns after the job's transformations, its post-load steps */

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

void tdef_release(struct tdef *t);
/* Free what one column owns (a column dropped from a table). */
void tdef_column_release(struct tdef_column *c);
/* A new zeroed column or post-load step at the end of t's (for source connectors). */
struct tdef_column *tdef_add_column(struct tdef *t);
struct tdef_step *tdef_add_step(struct tdef *t, const char *kind, const char *name);

/* ---- the tables a job selects */

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

/* Release n tables (NULL is fine). */
void src_tables_free(struct src_table *t, int n);
/* Fill t's target name (the job's schema map, its per-table target), filter and labels from t->src. */
void src_table_target(const struct job *job, struct src_table *t);
/*
 * After a connector matched its tables against `requested` (the run's
 * table names, used[i] set for each one found): false with e filled (400,
 * field the first one missing) naming every requested table the source
 * does not have or the job does not select.
 */
bool src_tables_found(json_t *requested, const bool *used, struct err *e);

/* ---- a column the target has already */

struct column {
	int table; /* the index of its table in the names asked about */
	char name[128];
	char type[256];
	bool generated;
};

/* ---- a schema's objects beyond its tables (types, functions, views, triggers, grants…) */

/* What becomes of one object. */
enum obj_fate {
	OBJ_CREATE, /* pg_dump's statements create it */
	OBJ_FERRY,  /* ferry creates it with its tables (the table, its defaults, keys, indexes) */
	OBJ_SKIP,   /* not created: see why */
};

struct obj {
	char type[40];     /* pg_dump's kind: TABLE, VIEW, FUNCTION, COMMENT, ACL, … */
	char schema[128];  /* "" for an object outside any schema */
	char *name;        /* owned: pg_dump's name for it ("actor", "actor last_updated", "TABLE actor") */
	char *sql;         /* owned: the statements to run (for OBJ_FERRY, those ferry's DDL leaves out), or "" */
	char *why;         /* owned or NULL: why it is skipped */
	enum obj_fate fate;
	bool post;         /* created after the data */
	bool failed;       /* creating it before the data failed: why holds the database's message */
	bool seq_made;     /* a sequence ferry may have made already: run only what follows its CREATE then */
	int table;         /* OBJ_FERRY tables: the plan's index of the table, else -1 */
	int parent;        /* comments and labels: the object they describe, else -1 */
	int task_seq;      /* once stored: the seq of its post-load step (0: none) */
};

struct objects {
	struct obj *o;    /* owned, in pg_dump's order, which satisfies dependencies */
	int n;
	char *preamble;   /* owned: the session settings pg_dump's statements expect */
	json_t *warnings; /* owned: array of strings for the plan */
	char **schemas;   /* owned: the schemas the objects were read from */
	int nschemas;
};

void objects_release(struct objects *o);
/* Whether objects of this kind describe another (a comment, a security label): they follow its fate. */
bool objects_describes(const char *type);
/*
 * The plan's view of the objects: per kind, what is created (and by whom)
 * and what is skipped and why. New reference.
 */
json_t *objects_summary(const struct objects *o);

/* The label of object i in events and the plan ("VIEW public.actor_info"); new string. */
char *objects_label(const struct objects *o, int i);

#endif

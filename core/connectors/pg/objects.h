/* core/connectors/pg/objects.h: a database's objects beyond its tables (types, functions, views, triggers, grants…), read from pg_dump and created around ferry's own tables */
#ifndef FERRY_OBJECTS_H
#define FERRY_OBJECTS_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>

#include "err.h"
#include "job.h"

struct plan;

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

/*
 * Read the objects of the schemas that p's tables live in, with pg_dump
 * (--schema-only, reading snapshot when it is not NULL) from the job's
 * source, and decide for each what the run does: pg_dump's statements,
 * ferry's own DDL (the plan's tables, their sequences, defaults, keys and
 * indexes), or a skip with its reason (a table the job does not select, an
 * object depending on one or on a table the job renames or reshapes, an
 * extension or role the target lacks). src is in the run's snapshot; dst
 * may be NULL (nothing is known of the target then). False with e filled
 * when pg_dump cannot be run or fails.
 */
bool objects_read(const struct job *job, PGconn *src, PGconn *dst, const char *snapshot,
		  const struct plan *p, struct objects *out, struct err *e);
void objects_release(struct objects *o);

/* Reports one object: level, kind, message. */
typedef void (*objects_note_fn)(void *arg, const char *level, const char *kind, const char *msg);
/* Creates plan table i on dst; false (with its error kept in the plan) when it could not be. */
typedef bool (*objects_table_fn)(void *arg, int i);

/*
 * Create the objects that go before the data on dst, in order, calling
 * table(arg, i) where a table of the plan belongs (pg_dump's order puts a
 * function a default calls before the table, and a view after it). Each
 * object is created in a transaction of its own; one that fails is
 * reported through note and marked skipped with the database's message, as
 * are the objects that depend on it. One already on the target is kept.
 */
void objects_create_before(PGconn *dst, struct objects *o, objects_table_fn table,
			   objects_note_fn note, void *arg);

/* The statements of post-load object i as a step runs them (new string). */
char *objects_step_sql(const struct objects *o, int i);

/*
 * The plan's view of the objects: per kind, what is created (and by whom)
 * and what is skipped and why. New reference.
 */
json_t *objects_summary(const struct objects *o);

/* The label of object i in events and the plan ("VIEW public.actor_info"); new string. */
char *objects_label(const struct objects *o, int i);

/* True when a statement failed because its object already exists (SQLSTATE state). */
bool objects_exists_error(const char *state);

#endif

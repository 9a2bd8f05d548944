/* core/connectors/pg/objects.h: a database's objects beyond its tables (types, functions, views, triggers, grants…), read from pg_dump and created around ferry's own tables */
#ifndef FERRY_OBJECTS_H
#define FERRY_OBJECTS_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>

#include "err.h"
#include "job.h"
#include "model.h"

struct plan;

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

#endif

/* core/connectors/pg/pgtarget.h: PostgreSQL as a target (see target.h) */
#ifndef FERRY_PGTARGET_H
#define FERRY_PGTARGET_H

#include <jansson.h>
#include <libpq-fe.h>

#include "err.h"
#include "job.h"
#include "target.h"

/* The connection of a PostgreSQL target, or NULL when t is of another kind. */
PGconn *pg_target_conn(struct target *t);

/*
 * Connect to the job's side ("source" or "target") as its object says:
 * dsn, and the password from the environment variable password_env names.
 * NULL with e filled (422 source_unreachable or target_unreachable).
 */
PGconn *pg_connect(const struct job *job, const char *side, struct err *e);

/* True when a statement failed because its object already exists (its SQLSTATE). */
bool pg_exists_error(const char *code);

/* The loader (load.c): target_ops' load and step. */
bool pg_load(const struct load_table *t, const struct load_hooks *h, struct load_result *r,
	     struct err *e);
bool pg_step(const struct job *job, const char *sql, const struct load_hooks *h,
	     struct load_session *session, struct err *e);

#endif

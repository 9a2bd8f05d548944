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

/* Loads (load.c): target_ops' load operations, for the engine's loader (see target.h). */
bool pg_target_idle(struct target *t);
bool pg_target_lost(struct target *t);
struct target_load *pg_load_open(struct target *tgt, const struct load_table *t,
				 const struct load_hooks *h, enum load_way way, bool part,
				 bool stream_sum);
void pg_load_close(struct target_load *x);
bool pg_prepare(struct target_load *x, int *streams, struct err *e);
bool pg_rows_begin(struct target_load *x, bool direct, bool commit, struct err *e);
bool pg_rows_write(struct target_load *x, const char *data, size_t len, struct err *e);
void pg_rows_poll(struct target_load *x);
void pg_rows_abort(struct target_load *x, const char *why);
bool pg_rows_end(struct target_load *x, long long *rows, struct err *e);
bool pg_merge(struct target_load *x, long long rows, struct err *e);
bool pg_merge_check(struct target_load *x, long long *staged, long long *found, struct err *e);
bool pg_check_send(struct target_load *x, bool checksum);
bool pg_check_read(struct target_load *x, const char *src_sum, long long *rows, bool *same_sum,
		   struct err *e);
bool pg_hash_rows(struct target_load *x, long long *rows, unsigned long long *sum, struct err *e);
bool pg_swap_in(struct target_load *x, struct err *e);
bool pg_set_sequence(struct target_load *x, const struct copy_seq *s, const char *last_value,
		     const char *is_called, struct err *e);
bool pg_mark_loaded(struct target_load *x, long long rows, struct err *e);
bool pg_commit(struct target_load *x, struct err *e);
void pg_rollback(struct target_load *x, bool empty);
bool pg_step(struct target *t, const char *sql, bool *gone, struct err *e);

#endif

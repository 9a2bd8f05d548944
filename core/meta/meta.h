/* core/meta/meta.h: the metadata store: jobs, runs, run tasks and events in schema "ferry" */
#ifndef FERRY_META_H
#define FERRY_META_H

#include <jansson.h>
#include <stdbool.h>

#include "err.h"

struct meta;

/*
 * The rows a metadata statement returned (none for a statement that returns
 * no rows). Read them with meta_nrows and meta_value; whoever gets them
 * frees them with meta_rows_free.
 */
struct meta_rows;
/* How many rows r holds (0 for NULL). */
int meta_nrows(const struct meta_rows *r);
/*
 * The text of column col (from 0) of row row (from 0), which must exist; ""
 * for SQL NULL. Borrowed: it lives as long as r.
 */
const char *meta_value(const struct meta_rows *r, int row, int col);
/* Free r; NULL is fine. */
void meta_rows_free(struct meta_rows *r);

/* A connection of the metadata store's pool, for statements that share a transaction. */
struct meta_conn;

/*
 * Connect to the metadata database, create or migrate schema "ferry" under
 * an advisory lock. Returns NULL and fills e when the database cannot be
 * reached or a migration fails.
 */
struct meta *meta_open(const char *dsn, struct err *e);
void meta_close(struct meta *m);

/*
 * Borrow a connection from the pool (reconnecting a broken one); give it
 * back with meta_release. NULL with e filled (503) when the database is down.
 */
struct meta_conn *meta_acquire(struct meta *m, struct err *e);
void meta_release(struct meta *m, struct meta_conn *c);

/*
 * Run one statement on c, inside its transaction if one is open: the rows
 * (new, caller frees) or NULL with e filled, as meta_exec without its
 * patience. The statement is not prepared: sql may be any text.
 */
struct meta_rows *meta_exec_on(struct meta_conn *c, const char *sql, int n,
			       const char *const *params, struct err *e);
/* meta_exec_on for a statement whose rows are not needed: false with e filled. */
bool meta_run_on(struct meta_conn *c, const char *sql, int n, const char *const *params,
		 struct err *e);
/* Open a transaction on c; false with e filled. */
bool meta_begin(struct meta_conn *c, struct err *e);
/* Commit c's transaction; false with e filled. */
bool meta_commit(struct meta_conn *c, struct err *e);
/* Roll c's transaction back; a failure is ignored (meta_release then closes c). */
void meta_rollback(struct meta_conn *c);

/*
 * Run one embedded statement on a pooled connection. Returns its rows (new,
 * caller frees) or NULL with e filled, as db_exec. The statement is
 * prepared on the connection the first time and known by its address from
 * then on: sql must be an embedded sql_* text or a literal, never a string
 * built at run time.
 */
struct meta_rows *meta_exec(struct meta *m, const char *sql, int n, const char *const *params,
			    struct err *e);
/* One statement of a meta_batch: its text (as for meta_exec) and parameters; then its outcome. */
struct meta_stmt {
	const char *sql;
	int n;
	const char *const *params;
	struct meta_rows *res; /* its rows (caller frees), or NULL with e filled */
	struct err e;
	bool done;
};

/*
 * Run n statements in order, each in a transaction of its own, in one round
 * trip to the metadata database; a failed statement does not stop the next
 * ones. A statement the batch could not get to (a broken connection) is run
 * again on its own, as meta_exec does. False when that happened.
 */
bool meta_batch(struct meta *m, struct meta_stmt *s, int n);

/*
 * Make meta_exec on the calling thread wait (up to two minutes, retrying)
 * while the metadata database is unreachable, instead of failing at once.
 * The engine's threads are patient; request threads are not.
 */
void meta_set_patient(bool patient);
/* meta_exec that returns the first column of every row parsed as JSON, in a new array. */
json_t *meta_docs(struct meta *m, const char *sql, int n, const char *const *params,
		  struct err *e);
/* The first row's first column as JSON (new reference); NULL + 404 when no row. */
json_t *meta_doc(struct meta *m, const char *sql, int n, const char *const *params,
		 const char *what, struct err *e);
/* The first row's first column as a 64-bit integer (or -1 with e filled). */
long long meta_count(struct meta *m, const char *sql, int n, const char *const *params,
		     struct err *e);

/* Append an event to a run's log; failures are logged, not returned. */
void meta_event(struct meta *m, const char *run_id, const char *level, const char *table,
		const char *kind, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* Only the log line of an event, for events a statement of its own records. */
void meta_event_log(const char *run_id, const char *level, const char *table, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* meta_event on a given metadata connection (inside its transaction, if one is open). */
void meta_event_on(struct meta_conn *c, const char *run_id, const char *level,
		   const char *table, const char *kind, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

/*
 * How many times a new connection has found the metadata server started
 * again since meta_open: what it had not flushed to disk when it stopped
 * (commits made with synchronous_commit off) may be gone.
 */
unsigned meta_restarts(struct meta *m);

/* True when the metadata database answers a trivial query. */
bool meta_ping(struct meta *m, struct err *e);

#endif

/* core/load.h: load one table: prepare the target, stream the rows, finish the target */
#ifndef FERRY_LOAD_H
#define FERRY_LOAD_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>

#include "err.h"
#include "names.h"

struct load_table {
	const char *run_id;
	struct qualname src;
	struct qualname dst;
	const char *filter;   /* "where" expression or NULL */
	const char *snapshot; /* exported source snapshot to read in */
	json_t *spec;         /* borrowed: the run's job definition */
};

struct load_hooks {
	/* Called with both connections once they are open, and with NULLs before they close. */
	void (*connections)(void *arg, PGconn *src, PGconn *dst);
	/* Called at most a few times a second; return false to stop the load. */
	bool (*progress)(void *arg, long long rows, long long bytes);
	/* A step worth recording in the run's events. */
	void (*step)(void *arg, const char *kind, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
	void *arg;
};

struct load_result {
	long long rows;
	long long bytes;
	json_t *validation; /* owned: {state, source_rows, target_rows} */
};

/*
 * Copy one table from source to target inside one target transaction:
 * create or truncate or drop the target as load.mode says, stream the rows
 * with COPY (binary when the column types agree, text otherwise), add the
 * primary key of a table it created, validate, commit. On failure everything
 * on the target is rolled back; returns false with e filled (the database's
 * message, without passwords).
 */
bool load_run(const struct load_table *t, const struct load_hooks *h, struct load_result *r,
	      struct err *e);

#endif

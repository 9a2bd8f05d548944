/* core/engine/load.h: load one table: prepare the target, stream the rows, validate, commit */
#ifndef FERRY_LOAD_H
#define FERRY_LOAD_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>

#include "err.h"
#include "copydesc.h"
#include "names.h"
#include "source.h"

/*
 * The connections a worker keeps from one table to the next, so that a run
 * of many small tables does not open two new connections per table. A
 * connection is kept only after a load that succeeded (the source's
 * transaction committed, the target idle), is used again only for the same
 * database (the job's source or target object) and is checked first.
 */
struct load_session {
	struct source *src; /* owned */
	PGconn *dst;        /* owned */
	json_t *key[2];     /* owned: the job's source and target objects they were opened for */
};

/* Close what the session keeps. */
void load_session_close(struct load_session *s);

struct load_table {
	const char *run_id;
	long long task_id;
	struct qualname dst;  /* the target table (or partition) */
	const char *dst_label;
	const char *snapshot; /* exported source snapshot to read in */
	json_t *spec;         /* borrowed: the run's job definition */
	const struct copy_desc *copy; /* borrowed: the task's copy description (copydesc.h) */
	struct load_session *session; /* or NULL: new connections, closed at the end */
	int attempt;          /* 1 for the task's first attempt: only then may it load in parts */
};

struct load_hooks {
	/* Called with both connections once they are open, and with NULLs before they close. */
	void (*connections)(void *arg, struct source *src, PGconn *dst);
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
	char *mark;         /* owned or NULL: an incremental table's new high-water mark */
};

/*
 * Copy one table inside one target transaction as its mode says: empty the
 * target (or refuse a non-empty one), delete its cursor window, stage the
 * rows and merge them by key, or load a shadow table and swap it in; stream
 * the rows with COPY
 * (binary when the column types agree, text otherwise), carry owned
 * sequences over, validate (count or checksum, source and target at once),
 * commit. On failure everything on the target is rolled back; returns false
 * with e filled (the database's message, without passwords).
 */
bool load_run(const struct load_table *t, const struct load_hooks *h, struct load_result *r,
	      struct err *e);

/*
 * Run one post-load statement (an index, a constraint, an object) on the
 * target, in a session whose maintenance_work_mem is at least 256MB: the
 * target connection session keeps (NULL: a new one), kept there again
 * after. Returns false with e filled when it fails.
 */
bool load_step(json_t *spec, const char *sql, const struct load_hooks *h,
	       struct load_session *session, struct err *e);

#endif

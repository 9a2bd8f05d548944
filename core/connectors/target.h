/* core/connectors/target.h: what the engine asks of a target database, whatever its kind */
#ifndef FERRY_TARGET_H
#define FERRY_TARGET_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "copydesc.h"
#include "err.h"
#include "job.h"
#include "names.h"
#include "sb.h"
#include "source.h"

struct plan;
struct tdef;
struct column;

/*
 * An open connection to a target. Each connector's handle starts with this
 * and says through ops what kind it is; the engine and planner only call ops.
 */
struct target {
	const struct target_ops *ops;
};

/*
 * The connections a worker keeps from one table to the next, so that a run
 * of many small tables does not open two new connections per table. A
 * connection is kept only after a load that succeeded (the source's
 * transaction committed, the target idle), is used again only for the same
 * database (the job's source or target object) and is checked first.
 */
struct load_session {
	struct source *src; /* owned */
	struct target *dst; /* owned */
	json_t *key[2];     /* owned: the job's source and target objects they were opened for */
};

/* Close what the session keeps. */
void load_session_close(struct load_session *s);

/* One table's load, as the engine hands it to the target's connector. */
struct load_table {
	const char *run_id;
	long long task_id;
	struct qualname dst;  /* the target table (or partition) */
	const char *dst_label;
	const char *snapshot; /* the run's consistent source point to read in */
	const struct job *job;         /* borrowed: the run's job definition */
	const struct copy_desc *copy; /* borrowed: the task's copy description (copydesc.h) */
	struct load_session *session; /* or NULL: new connections, closed at the end */
	int attempt;          /* 1 for the task's first attempt: only then may it load in parts */
};

struct load_hooks {
	/* Called with both connections once they are open, and with NULLs before they close. */
	void (*connections)(void *arg, struct source *src, struct target *dst);
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
	int parts;          /* the parts its rows were read in at once (0 or 1: read whole) */
};

/*
 * How a table's rows reach the target, as its load mode and copy say
 * (chosen by the engine's loader, carried out by the target's connector).
 */
enum load_way {
	LOAD_EMPTY,  /* empty the table, then copy (replace, drop, a table this run created) */
	LOAD_APPEND, /* copy after the rows already there (append, fail) */
	LOAD_WINDOW, /* delete the cursor window's rows, then copy (incremental without a key) */
	LOAD_MERGE,  /* copy into a staging table, then merge by key (upsert, incremental with a key) */
	LOAD_SWAP,   /* copy into a shadow table, index it, rename it into place (swap) */
};

/* One table's load on a target: the connector's own. */
struct target_load;

/* Reports a step of creating the plan's targets: level, table label or NULL, kind, message. */
typedef void (*plan_note_fn)(void *arg, const char *level, const char *table, const char *kind,
			     const char *msg);

struct target_ops {
	const char *kind; /* "postgresql" */

	/* ---- connections */
	/* Connect as the job's target says (dsn, password_env). NULL with e filled (422 target_unreachable). */
	struct target *(*open)(const struct job *job, struct err *e);
	void (*close)(struct target *t);
	/* A handle that stops what t is doing from another thread (new; see cancel_free). */
	void *(*cancel_new)(struct target *t);
	void (*cancel)(void *handle);
	void (*cancel_free)(void *handle);

	/* ---- the target's SQL */
	/* A quoted identifier, and a quoted schema-qualified name (new strings). */
	char *(*ident)(struct target *t, const char *name);
	char *(*qualified)(struct target *t, const char *schema, const char *name);
	/* The target's column list of def's loaded columns, quoted, appended to out. */
	void (*column_list)(struct target *t, const struct tdef *def, struct sb *out);

	/* ---- what exists */
	/* The kind of each table q[0..n) on the target ('r', 'p', …; 0 when missing) into kinds. */
	bool (*relkinds)(struct target *t, const struct qualname *const *q, int n, char *kinds,
			 struct err *e);
	/* The rows each of q[0..n) holds, counting no further than limit (1: empty or not). */
	bool (*count_rows)(struct target *t, const struct qualname *const *q, int n, long long limit,
			   long long *rows, struct err *e);
	/* The columns of q[0..n) (new array in *out, each with its table's index); -1 with e filled. */
	int (*columns)(struct target *t, const struct qualname *const *q, int n, struct column **out,
		       struct err *e);

	/* ---- making the plan's targets */
	/*
	 * Create what the plan says: for load modes append and fail, the record
	 * in which every load notes, in its own transaction, that it committed
	 * (p->mark); schemas, user types, sequences, tables (dropped first for
	 * load.mode drop), each table in its own transaction, and with the job's
	 * "objects": "all" the objects that go before the data. A table whose
	 * DDL fails gets its `error`. False only when the target cannot be worked
	 * on at all.
	 */
	bool (*create)(struct target *t, const struct job *job, struct plan *p, plan_note_fn note, void *arg,
		       struct err *e);

	/* ---- loads: the engine's loader (core/engine/loader.c) drives each table's through these */
	/* Whether t may serve the next table: connected, and outside any transaction. */
	bool (*idle)(struct target *t);
	/* Whether t's connection is gone (a kept one the server closed: what failed on it never ran). */
	bool (*lost)(struct target *t);
	/*
	 * The load of table lt on t, the way the engine chose for its mode;
	 * `part`: one part of a table loaded in parts (the table is empty and
	 * its rows are only appended); `stream_sum`: validation will compare
	 * the rows' hashes (hash_rows), so prepare reads those of the rows
	 * an append keeps. Freed by load_close.
	 */
	struct target_load *(*load_open)(struct target *t, const struct load_table *lt,
					 const struct load_hooks *h, enum load_way way, bool part,
					 bool stream_sum);
	void (*load_close)(struct target_load *l);
	/*
	 * Begin the load's transaction and bring the table into the state its
	 * way asks for: refuse a non-empty one (mode fail), note what an append
	 * keeps (for validation), delete the cursor window, create the staging
	 * or shadow table. A LOAD_EMPTY table to load in *streams > 1 parts
	 * that holds rows after all is emptied here and *streams set to 1.
	 */
	bool (*prepare)(struct target_load *l, int *streams, struct err *e);
	/*
	 * Start taking rows. `direct` (LOAD_EMPTY, in one go, without prepare):
	 * begin, empty the table and start in one message, and with `commit`
	 * commit as soon as the rows end well, which rows_end confirms.
	 */
	bool (*rows_begin)(struct target_load *l, bool direct, bool commit, struct err *e);
	/* Rows in the source's stream format (source_read), any cut; false with e filled when refused. */
	bool (*rows_write)(struct target_load *l, const char *data, size_t len, struct err *e);
	/* Notice what the target said meanwhile (an error mid-stream) without waiting. */
	void (*rows_poll)(struct target_load *l);
	/* Give up the rows started, telling the target why; the transaction is then failed. */
	void (*rows_abort)(struct target_load *l, const char *why);
	/* The rows ended: how many the target took, in *rows. */
	bool (*rows_end)(struct target_load *l, long long *rows, struct err *e);
	/*
	 * LOAD_MERGE: merge the staged rows into the table by the copy's key
	 * (`rows` were staged), and tell, for validation, how many rows were
	 * staged and how many of them are on the target as staged (or gone,
	 * when flagged deleted).
	 */
	bool (*merge)(struct target_load *l, long long rows, struct err *e);
	bool (*merge_check)(struct target_load *l, long long *staged, long long *found,
			    struct err *e);
	/*
	 * Validation by the target's database: check_send asks for the count
	 * (and with `checksum` the rows' hash sum, computed as the source's
	 * validation_sql does) of the rows loaded; check_read reads it and
	 * tells, net of what an append kept, the rows and whether the sum
	 * equals the source's (a decimal string; NULL when the source's side
	 * failed: only the answer is read).
	 */
	bool (*check_send)(struct target_load *l, bool checksum);
	bool (*check_read)(struct target_load *l, const char *src_sum, long long *rows,
			   bool *same_sum, struct err *e);
	/* The loaded rows read back and hashed as rowhash.h says (net of what an append kept). */
	bool (*hash_rows)(struct target_load *l, long long *rows, unsigned long long *sum,
			  struct err *e);
	/* LOAD_SWAP: index the shadow table like the table, carry grants over, rename it into place. */
	bool (*swap_in)(struct target_load *l, struct err *e);
	/* Set a sequence the table uses to the source's value (last_value, is_called). */
	bool (*set_sequence)(struct target_load *l, const struct copy_seq *s, const char *last_value,
			     const char *is_called, struct err *e);
	/* Record, in the load's transaction, that this task's rows are in (see create's p->mark). */
	bool (*mark_loaded)(struct target_load *l, long long rows, struct err *e);
	bool (*commit)(struct target_load *l, struct err *e);
	/*
	 * Roll the load back; with `empty` also empty the table, whose other
	 * parts committed (a failure there is logged).
	 */
	void (*rollback)(struct target_load *l, bool empty);
	/*
	 * Run one post-load statement (an index, a constraint, an object;
	 * statements in one implicit transaction). False with e filled when it
	 * fails; *gone set too when t's connection turned out closed before
	 * the statement was sent (so that nothing ran).
	 */
	bool (*step)(struct target *t, const char *sql, bool *gone, struct err *e);
	/*
	 * The statements of a post-load step that creates one of a schema's
	 * other objects (see model.h), as the target runs them: the object's
	 * statements with the session settings they expect (new string).
	 */
	char *(*object_sql)(struct target *t, const char *sql);
	/* Whether a statement failed because its object is on the target already (the error's code). */
	bool (*exists_error)(const char *code);
	/* Whether the index or constraint `name` (of `kind`) of table q is on the target already. */
	bool (*step_done)(struct target *t, const struct qualname *q, const char *name,
			  const char *kind);
	/*
	 * The rows the load of copy task `task` of run `run` recorded when it
	 * committed (see create), or -1 when it did not commit or cannot be told.
	 */
	long long (*loaded_rows)(struct target *t, const char *run, const char *task);
};

/* The connector for a job's target (by its DSN), or NULL with e filled. */
const struct target_ops *target_kind(const struct job *job, struct err *e);
/* Open the job's target with its connector. */
struct target *target_open(const struct job *job, struct err *e);
void target_close(struct target *t);
/* exists_error of the job's target connector (false when it has none). */
bool target_exists_error(const struct job *job, const char *code);
/* The PostgreSQL connector. */
extern const struct target_ops pg_target_ops;

#endif

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
};

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

	/* ---- loads */
	/*
	 * Load one table from src's stream inside one target transaction as its
	 * mode says: empty the target (or refuse a non-empty one), delete its
	 * cursor window, stage the rows and merge them by key, or load a shadow
	 * table and swap it in; carry sequences over, validate (count or
	 * checksum), commit. Opens (or takes from t->session) its own
	 * connections to both sides, and more for a table loaded in parts. On
	 * failure everything on the target is rolled back; false with e filled
	 * (the database's message, without passwords).
	 */
	bool (*load)(const struct load_table *t, const struct load_hooks *h, struct load_result *r,
		     struct err *e);
	/*
	 * Run one post-load statement (an index, a constraint, an object) on the
	 * target, on the session's connection (NULL: a new one), kept there
	 * again after. False with e filled when it fails.
	 */
	bool (*step)(const struct job *job, const char *sql, const struct load_hooks *h,
		     struct load_session *session, struct err *e);
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
/* Load one table, or run one post-load step, with the job's target connector (see target_ops). */
bool target_load(const struct load_table *t, const struct load_hooks *h, struct load_result *r,
		 struct err *e);
bool target_step(const struct job *job, const char *sql, const struct load_hooks *h,
		 struct load_session *session, struct err *e);
/* exists_error of the job's target connector (false when it has none). */
bool target_exists_error(const struct job *job, const char *code);
/* The PostgreSQL connector. */
extern const struct target_ops pg_target_ops;

#endif

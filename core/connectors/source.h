/* core/connectors/source.h: what the engine asks of a source database, whatever its kind */
#ifndef FERRY_SOURCE_H
#define FERRY_SOURCE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "err.h"
#include "job.h"
#include "names.h"
#include "sb.h"

struct plan;
struct plan_ctx;
struct tdef;
struct target;

/*
 * An open connection to a source. Each connector's handle starts with this
 * and says through ops what kind it is; the engine, planner and loader only
 * call ops.
 */
struct source {
	const struct source_ops *ops;
};

/* One read of one table (or a part of it), as the copy description says. */
struct source_read {
	const char *select;  /* the source query, in the source's SQL */
	const char *plain;   /* or NULL: a plain read of the table the source can do faster */
	const char *part;    /* or NULL: the condition selecting this part of the rows */
	const char *relation; /* or NULL: the source table the rows come from (quoted), to check it
				 is the one the run's consistent point saw */
	bool filtered;       /* select has a WHERE of its own: part joins it with AND */
	bool binary;         /* PostgreSQL's binary COPY format; text otherwise */
	json_t *conv;        /* borrowed, may be NULL: how the connector turns each column into COPY text */
	const struct job *job;        /* borrowed: the run's job, for what it says of values */
	json_t *kinds;       /* borrowed, may be NULL: sum the rows' hashes as they stream (see rowhash.h) */
	bool last;           /* nothing else is read: the read's transaction ends with the stream */
};

/* What the source said about itself (POST /connections/test). */
struct source_about {
	char version[160];
	char kind[32]; /* "postgresql", "mysql", "mariadb" */
};

struct source_ops {
	const char *kind; /* "postgresql", "mysql" */
	bool pg_binary;   /* reads can be PostgreSQL's binary COPY format */

	/* ---- connections */
	/* Connect as the job's source says (dsn, password_env). NULL with e filled (422 source_unreachable). */
	struct source *(*open)(const struct job *job, struct err *e);
	void (*close)(struct source *s);
	/* Connected and outside a transaction: fit to keep for the next table. */
	bool (*idle)(struct source *s);
	/* The connection is gone (the server closed it): opening a new one may help. */
	bool (*lost)(struct source *s);
	/* Who the server is, and the round trip of one statement. */
	bool (*about)(struct source *s, struct source_about *out, struct err *e);

	/* ---- the source's SQL */
	/* A quoted identifier, and a quoted schema-qualified name (new strings). */
	char *(*ident)(struct source *s, const char *name);
	char *(*qualified)(struct source *s, const char *schema, const char *name);
	/* A quoted string literal (new string). */
	char *(*literal)(struct source *s, const char *value);

	/* ---- the run's consistent point */
	/*
	 * Make s hold the consistent point every table of a run is read at,
	 * until s is closed: its id in id (at most n bytes) and, in *info (a new
	 * object, or NULL), what is worth recording (a binary log position).
	 * readers: how many connections may read in it at once. Warnings go to
	 * *warning (a new string, or NULL).
	 */
	bool (*hold_point)(struct source *s, const struct job *job, int readers, char *id, size_t n,
			   json_t **info, char **warning, struct err *e);

	/* Whether the point s holds is still there (its connection answers). */
	bool (*point_alive)(struct source *s);

	/* ---- planning, inside the point */
	/* Start a read-only transaction for a plan that no run reads at (GET …/plan). */
	bool (*plan_begin)(struct source *s, struct err *e);
	/*
	 * Fill p->t with the tables the job selects (narrowed to `requested`),
	 * each described (def) or with its error, partitions under their
	 * parents, and p->types with the user types they need; warnings about
	 * what does not carry over go to p->warnings. False only when the plan
	 * as a whole cannot be made.
	 */
	bool (*plan)(struct source *s, const struct job *job, json_t *requested, const struct plan_ctx *ctx,
		     struct plan *p, struct err *e);
	/* p->types: the user types the tables defs[0..n) need, deepest dependency first. */
	bool (*types)(struct source *s, struct plan *p, const struct tdef *defs, int n, struct err *e);
	/*
	 * The pre-migration assessment of one planned table: warnings about what
	 * will not carry over, appended to w (strings).
	 */
	void (*table_warnings)(struct source *s, const struct job *job, const struct plan *p, int i, json_t *w);
	/* The primary key's columns of a source table (a new array of names, empty when none). */
	json_t *(*primary_key)(struct source *s, const struct qualname *table, struct err *e);
	/*
	 * The kind of a source column for a cursor: "integer", "numeric",
	 * "timestamp", "timestamptz", "date", "text" or "other", into kind; its
	 * type's name into type. False when the column does not exist.
	 */
	bool (*column_kind)(struct source *s, const struct qualname *table, const char *column,
			    char *kind, size_t kn, char *type, size_t tn, struct err *e);
	/* Whether value is a valid bound for a column of the given type; false with e filled. */
	bool (*bound_ok)(struct source *s, const char *type, const char *value, struct err *e);
	/*
	 * The expression printing the largest value of column `quoted` (of a
	 * cursor kind) so that it reads back exactly on either side (new string).
	 */
	char *(*mark_expr)(struct source *s, const char *kind, const char *quoted);
	/* The expression reading a delete-flag column as a boolean, false for NULL (new string). */
	char *(*flag_expr)(struct source *s, const char *quoted);
	/* The query reading def's rows (after the job's transformations), appended to out. */
	void (*select_sql)(struct source *s, const struct tdef *def, struct sb *out);
	/* How the rows of def are read when the source can read them plainly, or false. */
	bool (*plain_sql)(struct source *s, const struct tdef *def, struct sb *out);
	/*
	 * Split the read of relation (the copy description's split relation)
	 * into at most n parts of about equal size: conds[0..k) get the
	 * conditions selecting each part (new strings, in the source's SQL).
	 * Returns k, which may be less than n (1: the table is read whole, conds
	 * left NULL), or -1 with e filled. Called inside the read, before it
	 * streams; the parts' reads begin in the same point afterwards.
	 */
	int (*split)(struct source *s, const char *relation, int n, char **conds, struct err *e);
	/*
	 * With the job's "objects": "all", read the schemas' other objects into
	 * p->objects (dst: the target, for what it holds already). NULL when the
	 * connector cannot: such jobs are refused.
	 */
	bool (*objects)(struct source *s, const struct job *job, struct target *dst, const char *point,
			struct plan *p, struct err *e);

	/* ---- reading a table */
	/*
	 * Start a read: join the run's point and start streaming rd (or, with
	 * rd NULL, only join it). Sent, not awaited: begun reads the answer, so
	 * that the target can be prepared meanwhile. stream starts streaming rd
	 * in a read already begun. With rd->last, the read ends with the stream
	 * (end is not called).
	 */
	bool (*begin)(struct source *s, const char *point, const struct source_read *rd);
	bool (*stream)(struct source *s, const struct source_read *rd);
	bool (*begun)(struct source *s, bool streaming, struct err *e);
	/*
	 * The next piece of COPY data in the format asked for: its length
	 * (*buf valid until the next call) and in *rows how many rows it holds;
	 * 0 at the end, -1 with e filled.
	 */
	int (*read)(struct source *s, const char **buf, int *rows, struct err *e);
	/* After read returned 0: the stream ended well. */
	bool (*read_end)(struct source *s, struct err *e);
	/* What the read converted on its way, for the run's events (new string), or NULL. */
	char *(*read_note)(struct source *s);
	/*
	 * Send a one-row query in the read's point: the validation count, a
	 * high-water mark, a sequence's value; row reads its answer (ncols values,
	 * NULL for SQL NULL, new strings).
	 */
	bool (*query)(struct source *s, const char *sql);
	bool (*row)(struct source *s, char **vals, int ncols, struct err *e);
	/* The validation query of the rows of `select`: count and, with checksum, a sum. */
	char *(*validation_sql)(struct source *s, bool checksum, const char *select);
	/*
	 * Connectors whose databases cannot compute the checksum the target
	 * computes sum the rows' hashes (rowhash.h) as they stream them, when
	 * the read has kinds: the rows and the sum of the read that ended.
	 * NULL for connectors that validate with validation_sql.
	 */
	void (*checksum)(struct source *s, long long *rows, unsigned long long *sum);
	/* A handle that stops what s is doing from another thread (new; see cancel_free). */
	void *(*cancel_new)(struct source *s);
	void (*cancel)(void *handle);
	void (*cancel_free)(void *handle);
	/* End the read (its transaction), sent; ended waits for it. */
	bool (*end)(struct source *s);
	bool (*ended)(struct source *s, struct err *e);
};

/* The connector for a job's source (by its DSN), or NULL with e filled. */
const struct source_ops *source_kind(const struct job *job, struct err *e);
/* Open the job's source with its connector. */
struct source *source_open(const struct job *job, struct err *e);
void source_close(struct source *s);
/* The PostgreSQL and MySQL connectors. */
extern const struct source_ops pg_source_ops;
extern const struct source_ops mysql_source_ops;

#endif

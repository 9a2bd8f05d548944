/* core/connectors/mysql/mysource.h: MySQL and MariaDB as a source (see source.h): what its files share */
#ifndef FERRY_MYSOURCE_H
#define FERRY_MYSOURCE_H

#include <pthread.h>

#include <mysql.h>
#include <stdbool.h>

#include "err.h"
#include "job.h"
#include "mytypes.h"
#include "rowhash.h"
#include "sb.h"
#include "source.h"

struct my_point;

struct my_source {
	struct source base;
	struct job *job;      /* owned: the job it reads for */
	MYSQL *m;          /* the connection: its own (planning), or borrowed from point; set
			      under cancel_lock (my_set_conn) */
	pthread_mutex_t cancel_lock; /* m as a cancel from another thread sees it */
	bool cancelled;    /* a cancel came (under cancel_lock): a connection borrowed later is not used */
	bool mariadb;      /* the server is MariaDB */
	struct my_point *held;  /* the run's point this handle holds (see hold_point) */
	struct my_point *point; /* the point m was borrowed from, or NULL */
	int slot;
	bool lost;         /* the connection was lost: connecting again may help */
	char defer[64];    /* the point a read begun without rows joins when it first needs its
			      connection (see begin), or "" */
	bool begin_ok;
	struct err begin_err;
	char *pending;     /* owned: the statement begun runs, or query's */
	bool last;         /* the connection goes back to the point when the stream ends */
	MYSQL_RES *res;    /* the rows being read (unbuffered) */
	bool reading;
	int ncols;
	enum my_conv *conv; /* owned: one a column read */
	int nconv;
	struct my_value_rules rules;
	struct my_value_counts counts;
	long long rows;    /* rows read in this stream */
	struct sb chunk;   /* COPY text handed to the loader */
	enum rh_kind *kinds; /* owned, or NULL: no checksum of the stream */
	int nkinds;
	unsigned long long sum; /* the stream's rows' hashes, summed */
	struct sb scratch;
	json_t *warnings;  /* owned: {"schema.table": [warning, …]} from the plan */
};

/* Fill e from m's last error, prefixed "source: " and what (may be NULL); always false. */
bool my_fail(MYSQL *m, struct err *e, const char *what);
/* Run one statement whose result is not needed; false with e filled. */
bool my_exec(MYSQL *m, const char *sql, struct err *e);
/* The stored result of sql, or NULL with e filled. */
MYSQL_RES *my_query(MYSQL *m, const char *sql, struct err *e);
/* The handle's own connection, connecting first when it has none. */
MYSQL *my_conn(struct source *src, struct err *e);
/* `name` backquoted; a string literal (hex, so no sql_mode changes how it reads). New strings. */
char *my_ident(struct source *s, const char *name);
char *my_literal(struct source *s, const char *value);
/* `schema`.`name` (new string). */
char *my_qualified_name(struct my_source *s, const char *schema, const char *name);
/* The first column of the first row of sql as a new string ("" for NULL), or NULL with e filled. */
char *scalar_query(MYSQL *m, const char *sql, struct err *e);

/* Planning (plan.c): the source_ops of the same names. */
bool my_plan_begin(struct source *s, struct err *e);
bool my_plan(struct source *s, const struct job *job, json_t *requested, const struct plan_ctx *ctx,
	     struct plan *p, struct err *e);
bool my_types(struct source *s, struct plan *p, const struct tdef *defs, int n, struct err *e);
void my_table_warnings(struct source *s, const struct job *job, const struct plan *p, int i, json_t *w);
json_t *my_primary_key(struct source *s, const struct qualname *table, struct err *e);
bool my_column_kind(struct source *s, const struct qualname *table, const char *column, char *kind,
		    size_t kn, char *type, size_t tn, struct err *e);
bool my_bound_ok(struct source *s, const char *type, const char *value, struct err *e);
char *my_mark_expr(struct source *s, const char *kind, const char *quoted);
char *my_flag_expr(struct source *s, const char *quoted);
void my_select_sql(struct source *s, const struct tdef *def, struct sb *out);
bool my_plain_sql(struct source *s, const struct tdef *def, struct sb *out);

#endif

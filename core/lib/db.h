/* core/lib/db.h: the one libpq wrapper every query goes through */
#ifndef FERRY_DB_H
#define FERRY_DB_H

#include <libpq-fe.h>
#include <stdbool.h>

#include "err.h"
#include "sb.h"

/*
 * Connect to dsn. `what` names the database in messages ("source",
 * "target", "metadata"). Returns NULL and fills e (status 422 for source and
 * target, 503 for metadata, code "<what>_unreachable") on failure; messages
 * never carry the password. The session's TimeZone is UTC.
 */
PGconn *db_connect(const char *dsn, const char *what, struct err *e);
/* db_connect with a password that overrides the DSN's (NULL: none given). */
PGconn *db_connect_password(const char *dsn, const char *password, const char *what,
			    struct err *e);

/*
 * Run one parameterised statement (text parameters, NULL for SQL NULL).
 * Returns the result (caller PQclears) when it succeeded, or NULL with e
 * filled: SQLSTATE 23505 → 409 conflict, 08xxx/57Pxx → 503 unavailable,
 * anything else → 500 internal. The message is the server's primary message.
 */
PGresult *db_exec(PGconn *c, const char *sql, int nparams, const char *const *params,
		  struct err *e);
/* res when it succeeded; otherwise NULL, with e filled as db_exec does and res cleared. */
PGresult *db_checked(PGconn *c, PGresult *res, struct err *e);
/* db_exec of a statement prepared on c under name. */
PGresult *db_exec_prepared(PGconn *c, const char *name, int nparams, const char *const *params,
			   struct err *e);
/* db_exec for statements whose result is not needed. */
bool db_run(PGconn *c, const char *sql, int nparams, const char *const *params, struct err *e);
/* Run a simple (possibly multi-statement) command string without parameters. */
bool db_simple(PGconn *c, const char *sql, struct err *e);

/*
 * Fill e from a failed result on one side of a load (res NULL: the
 * connection's own message): "<side>: <the server's message> (<where in a
 * COPY>)", on one line, code the SQLSTATE (or "copy_failed"), with the
 * SQLSTATE and message as e's detail. Always false.
 */
bool db_side_error(PGconn *c, const PGresult *res, const char *side, struct err *e);

/*
 * Parse a PostgreSQL connection string (key=value pairs or a URI) as libpq
 * does, without connecting. True when libpq takes it; otherwise false, with
 * *why (when why is not NULL) set to libpq's message (new string, caller
 * frees; NULL when libpq gave none).
 */
bool db_conninfo_check(const char *dsn, char **why);
/*
 * The value the PostgreSQL connection string dsn gives keyword key, as libpq
 * parses it (new string, caller frees); NULL when it gives none or libpq
 * cannot parse dsn.
 */
char *db_conninfo_value(const char *dsn, const char *key);

/* The SQLSTATE of a failed result, or "" (never NULL). */
const char *db_sqlstate(const PGresult *res);

/* Quote an identifier (new string, caller frees); never fails for valid UTF-8. */
char *db_ident(PGconn *c, const char *name);
/* Quote "schema"."name" (new string, caller frees). */
char *db_qualified(PGconn *c, const char *schema, const char *name);
/*
 * The condition "column" >= 'from' AND "column" < 'to' with the bounds as
 * literals (a NULL bound is left out); NULL when both are. Caller frees.
 */
char *db_range_condition(PGconn *c, const char *column, const char *from, const char *to);

/*
 * Build an array literal ({"a","b"}) for a $n parameter of type text[] or
 * oid[]: db_array_add appends s, quoted, to the literal in arr (an empty arr
 * starts one); db_array_end closes it ("{}" when nothing was added).
 */
void db_array_add(struct sb *arr, const char *s);
void db_array_end(struct sb *arr);

#endif

/* core/lib/db.c: the one libpq wrapper every query goes through */
#include "db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dsn.h"
#include "log.h"
#include "util.h"
#include "banned.h"

/* Strip the trailing newline libpq puts on messages and scrub the password. */
static void clean_message(const char *msg, const char *dsn, char *out, size_t n)
{
	char *scrubbed = dsn_scrub(msg ? msg : "", dsn);
	str_copy(out, n, scrubbed);
	free(scrubbed);
	size_t len = strlen(out);
	while (len && (out[len - 1] == '\n' || out[len - 1] == ' '))
		out[--len] = '\0';
	for (char *p = out; *p; p++)
		if (*p == '\n')
			*p = ' ';
}

/* Server notices ("schema already exists, skipping") go to the debug log, not raw stderr. */
static void notice_to_log(void *arg, const char *message)
{
	(void)arg;
	char buf[1024];
	clean_message(message, NULL, buf, sizeof(buf));
	log_debug("%s", buf);
}

PGconn *db_connect_password(const char *dsn, const char *password, const char *what,
			    struct err *e)
{
	/* dbname comes before password so that a given password wins over the DSN's */
	const char *keys[] = {"fallback_application_name", "connect_timeout", "options", "dbname",
			      password ? "password" : NULL, NULL};
	const char *vals[] = {"ferryd", "10", "-c TimeZone=UTC", dsn, password, NULL};
	PGconn *c = PQconnectdbParams(keys, vals, 1);
	if (PQstatus(c) == CONNECTION_OK) {
		PQsetNoticeProcessor(c, notice_to_log, NULL);
		return c;
	}
	char msg[900], code[48];
	clean_message(PQerrorMessage(c), dsn, msg, sizeof(msg));
	bool meta = !strcmp(what, "metadata");
	snprintf(code, sizeof(code), "%s_unreachable", what);
	char *shown = dsn_redact(dsn);
	err_set(e, meta ? 503 : 422, meta ? "unavailable" : code, NULL,
		"could not connect to %s database \"%s\": %s", what, shown, msg);
	err_detail(e, "08001", msg);
	free(shown);
	PQfinish(c);
	return NULL;
}

PGconn *db_connect(const char *dsn, const char *what, struct err *e)
{
	return db_connect_password(dsn, NULL, what, e);
}

bool db_conninfo_check(const char *dsn, char **why)
{
	char *errmsg = NULL;
	PQconninfoOption *opts = PQconninfoParse(dsn, &errmsg);
	if (why)
		*why = !opts && errmsg ? xstrdup(errmsg) : NULL;
	PQfreemem(errmsg);
	PQconninfoFree(opts);
	return opts != NULL;
}

char *db_conninfo_value(const char *dsn, const char *key)
{
	char *val = NULL;
	PQconninfoOption *opts = PQconninfoParse(dsn, NULL);
	for (PQconninfoOption *o = opts; o && o->keyword && !val; o++)
		if (!strcmp(o->keyword, key) && o->val)
			val = xstrdup(o->val);
	PQconninfoFree(opts);
	return val;
}

const char *db_sqlstate(const PGresult *res)
{
	const char *s = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	return s ? s : "";
}

bool db_side_error(PGconn *c, const PGresult *res, const char *side, struct err *e)
{
	const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	char buf[900];
	str_copy(buf, sizeof(buf), msg ? msg : PQerrorMessage(c));
	size_t n = strlen(buf);
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	/* where in a COPY: "COPY t, line 7, column c: "…"" names the row and the column */
	const char *ctx = res ? PQresultErrorField(res, PG_DIAG_CONTEXT) : NULL;
	if (ctx && !strncmp(ctx, "COPY ", 5) && strlen(buf) + 4 < sizeof(buf)) {
		size_t at = strlen(buf);
		snprintf(buf + at, sizeof(buf) - at, " (%.*s)", (int)strcspn(ctx, "\n"), ctx);
	}
	/* one line: libpq's connection messages span several */
	for (char *q = buf; *q; q++)
		if (*q == '\n' || *q == '\t')
			*q = ' ';
	const char *state = db_sqlstate(res);
	err_set(e, 500, *state ? state : "copy_failed", NULL, "%s: %s", side, buf);
	err_detail(e, state, buf);
	return false;
}

static void map_error(PGconn *c, const PGresult *res, struct err *e)
{
	const char *state = db_sqlstate(res);
	const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	char msg[900];
	clean_message(primary ? primary : PQerrorMessage(c), NULL, msg, sizeof(msg));
	if (!strcmp(state, "23505"))
		err_set(e, 409, "conflict", NULL, "%s", msg);
	else if (!strncmp(state, "08", 2) || !strncmp(state, "57P", 3) || !*state)
		err_set(e, 503, "unavailable", NULL, "database unavailable: %s", msg);
	else
		err_set(e, 500, "internal", NULL, "database error %s: %s", state, msg);
	err_detail(e, state, msg);
}

PGresult *db_checked(PGconn *c, PGresult *res, struct err *e)
{
	ExecStatusType st = PQresultStatus(res);
	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
		return res;
	map_error(c, res, e);
	PQclear(res);
	return NULL;
}

PGresult *db_exec(PGconn *c, const char *sql, int nparams, const char *const *params,
		  struct err *e)
{
	return db_checked(c, PQexecParams(c, sql, nparams, NULL, params, NULL, NULL, 0), e);
}

PGresult *db_exec_prepared(PGconn *c, const char *name, int nparams, const char *const *params,
			   struct err *e)
{
	return db_checked(c, PQexecPrepared(c, name, nparams, params, NULL, NULL, 0), e);
}

bool db_run(PGconn *c, const char *sql, int nparams, const char *const *params, struct err *e)
{
	PGresult *res = db_exec(c, sql, nparams, params, e);
	PQclear(res);
	return res != NULL;
}

bool db_simple(PGconn *c, const char *sql, struct err *e)
{
	PGresult *res = PQexec(c, sql);
	ExecStatusType st = PQresultStatus(res);
	bool ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
	if (!ok)
		map_error(c, res, e);
	PQclear(res);
	return ok;
}

char *db_ident(PGconn *c, const char *name)
{
	char *q = PQescapeIdentifier(c, name, strlen(name));
	if (!q) {
		log_error("could not quote identifier: %s", PQerrorMessage(c));
		abort();
	}
	char *out = xstrdup(q);
	PQfreemem(q);
	return out;
}

char *db_qualified(PGconn *c, const char *schema, const char *name)
{
	char *s = db_ident(c, schema);
	char *n = db_ident(c, name);
	char *out = xasprintf("%s.%s", s, n);
	free(s);
	free(n);
	return out;
}

char *db_range_condition(PGconn *c, const char *column, const char *from, const char *to)
{
	if (!from && !to)
		return NULL;
	char *col = db_ident(c, column);
	char *lf = from ? PQescapeLiteral(c, from, strlen(from)) : NULL;
	char *lt = to ? PQescapeLiteral(c, to, strlen(to)) : NULL;
	char *out = xasprintf("%s%s%s%s%s%s%s", lf ? col : "", lf ? " >= " : "", lf ? lf : "",
			      lf && lt ? " AND " : "", lt ? col : "", lt ? " < " : "", lt ? lt : "");
	PQfreemem(lf);
	PQfreemem(lt);
	free(col);
	return out;
}

void db_array_add(struct sb *arr, const char *s)
{
	sb_adds(arr, arr->len ? ",\"" : "{\"");
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			sb_addc(arr, '\\');
		sb_addc(arr, *s);
	}
	sb_addc(arr, '"');
}

void db_array_end(struct sb *arr)
{
	if (!arr->len)
		sb_addc(arr, '{');
	sb_addc(arr, '}');
}

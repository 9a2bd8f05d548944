/* core/load.c: load one table: prepare the target, stream the rows, finish the target */
#include "load.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "db.h"
#include "job.h"
#include "sb.h"
#include "sql.h"
#include "util.h"
#include "banned.h"

#define PROGRESS_EVERY_MS 250

struct load_ctx {
	const struct load_table *t;
	const struct load_hooks *h;
	PGconn *src; /* owned */
	PGconn *dst; /* owned */
	char *src_rel; /* owned, quoted */
	char *dst_rel; /* owned, quoted */
	struct column *scols; /* owned */
	int nscols;
	bool created;
	bool emptied;
	bool binary;
	char dst_relkind;
	long long rows_before;
};

/* Set e from a failed result on one side, prefixing the side's name. */
static bool side_error(PGconn *c, PGresult *res, const char *side, struct err *e)
{
	const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	char buf[900];
	str_copy(buf, sizeof(buf), msg ? msg : PQerrorMessage(c));
	size_t n = strlen(buf);
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	const char *state = db_sqlstate(res);
	return err_set(e, 500, *state ? state : "copy_failed", NULL, "%s: %s", side, buf);
}

/* Run sql on one side of the load; false with e prefixed by the side on failure. */
static bool side_exec(PGconn *c, const char *side, const char *sql, int n,
		      const char *const *params, PGresult **out, struct err *e)
{
	PGresult *res = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(res);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		side_error(c, res, side, e);
		PQclear(res);
		return false;
	}
	if (out)
		*out = res;
	else
		PQclear(res);
	return true;
}

static bool open_source(struct load_ctx *x, struct err *e)
{
	char *snap = PQescapeLiteral(x->src, x->t->snapshot, strlen(x->t->snapshot));
	char *set = xasprintf("SET TRANSACTION SNAPSHOT %s", snap ? snap : "''");
	PQfreemem(snap);
	bool ok = side_exec(x->src, "source", "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0,
			    NULL, NULL, e) &&
		  side_exec(x->src, "source", set, 0, NULL, NULL, e);
	free(set);
	if (!ok)
		return false;
	struct err ce;
	err_clear(&ce);
	x->nscols = catalog_columns(x->src, &x->t->src, &x->scols, &ce);
	if (x->nscols < 0)
		return err_set(e, 500, "source", NULL, "source: %s", ce.msg);
	if (x->nscols == 0)
		return err_set(e, 500, "source", NULL, "source: table %s no longer exists",
			       x->src_rel);
	return true;
}

static bool create_target(struct load_ctx *x, struct err *e)
{
	struct sb sql;
	sb_init(&sql);
	char *schema = db_ident(x->dst, x->t->dst.schema);
	sb_addf(&sql, "CREATE SCHEMA IF NOT EXISTS %s", schema);
	free(schema);
	bool ok = side_exec(x->dst, "target", sql.buf, 0, NULL, NULL, e);
	sb_reset(&sql);
	sb_addf(&sql, "CREATE TABLE %s (", x->dst_rel);
	for (int i = 0; i < x->nscols; i++) {
		char *col = db_ident(x->dst, x->scols[i].name);
		sb_addf(&sql, "%s%s %s%s", i ? ", " : "", col, x->scols[i].type,
			x->scols[i].notnull ? " NOT NULL" : "");
		free(col);
	}
	sb_addc(&sql, ')');
	ok = ok && side_exec(x->dst, "target", sql.buf, 0, NULL, NULL, e);
	if (ok && x->h->step) {
		char label[300];
		qualname_format(&x->t->dst, label, sizeof(label));
		x->h->step(x->h->arg, "create", "created target table %s", label);
	}
	sb_release(&sql);
	x->created = ok;
	x->dst_relkind = 'r';
	return ok;
}

static bool target_relkind(struct load_ctx *x, struct err *e)
{
	const char *params[] = {x->t->dst.schema, x->t->dst.name};
	PGresult *res = NULL;
	if (!side_exec(x->dst, "target", sql_catalog_relkind, 2, params, &res, e))
		return false;
	x->dst_relkind = PQntuples(res) ? PQgetvalue(res, 0, 0)[0] : 0;
	PQclear(res);
	return true;
}

static long long target_count(struct load_ctx *x, struct err *e)
{
	char *sql = xasprintf("SELECT count(*) FROM %s", x->dst_rel);
	PGresult *res = NULL;
	long long n = -1;
	if (side_exec(x->dst, "target", sql, 0, NULL, &res, e))
		n = atoll(PQgetvalue(res, 0, 0));
	PQclear(res);
	free(sql);
	return n;
}

/* Bring the target table into the state load.mode asks for, inside the open transaction. */
static bool prepare_target(struct load_ctx *x, struct err *e)
{
	const char *mode = job_load_mode(x->t->spec);
	if (!side_exec(x->dst, "target", "BEGIN", 0, NULL, NULL, e) || !target_relkind(x, e))
		return false;
	if (x->dst_relkind && x->dst_relkind != 'r' && x->dst_relkind != 'p')
		return err_set(e, 400, "target", NULL,
			       "target: %s exists and is not a table (relkind '%c')", x->dst_rel,
			       x->dst_relkind);
	if (x->dst_relkind && !strcmp(mode, "drop")) {
		char *sql = xasprintf("DROP TABLE %s", x->dst_rel);
		bool ok = side_exec(x->dst, "target", sql, 0, NULL, NULL, e);
		free(sql);
		if (!ok)
			return false;
		x->dst_relkind = 0;
	}
	if (!x->dst_relkind) {
		if (!job_load_create(x->t->spec) && strcmp(mode, "drop"))
			return err_set(e, 400, "target", NULL,
				       "target: table %s does not exist and load.create is false",
				       x->dst_rel);
		return create_target(x, e);
	}
	if (!strcmp(mode, "replace")) {
		char *sql = xasprintf("TRUNCATE %s", x->dst_rel);
		bool ok = side_exec(x->dst, "target", sql, 0, NULL, NULL, e);
		free(sql);
		x->emptied = ok;
		return ok;
	}
	long long n = target_count(x, e);
	if (n < 0)
		return false;
	if (!strcmp(mode, "fail") && n > 0)
		return err_set(e, 409, "target_not_empty", NULL,
			       "target: table %s holds %lld rows and load.mode is fail", x->dst_rel, n);
	x->rows_before = n;
	return true;
}

/* Build the two COPY statements from the source columns that the target has. */
static bool build_copy_sql(struct load_ctx *x, struct sb *out_src, struct sb *out_dst,
			   struct err *e)
{
	struct column *dcols = NULL;
	struct err ce;
	err_clear(&ce);
	int nd = catalog_columns(x->dst, &x->t->dst, &dcols, &ce);
	if (nd < 0)
		return err_set(e, 500, "target", NULL, "target: %s", ce.msg);
	struct sb cols;
	sb_init(&cols);
	x->binary = true;
	bool ok = true;
	int used = 0;
	for (int i = 0; i < x->nscols && ok; i++) {
		int j = 0;
		while (j < nd && strcmp(dcols[j].name, x->scols[i].name))
			j++;
		if (j == nd) {
			ok = err_set(e, 400, "target", NULL,
				     "target: table %s has no column \"%s\" for the source column of that name",
				     x->dst_rel, x->scols[i].name);
			break;
		}
		if (dcols[j].generated)
			continue;
		if (strcmp(dcols[j].type, x->scols[i].type))
			x->binary = false;
		char *col = db_ident(x->dst, x->scols[i].name);
		sb_addf(&cols, "%s%s", used++ ? ", " : "", col);
		free(col);
	}
	if (ok) {
		const char *fmt = x->binary ? "binary" : "text";
		sb_addf(out_src, "COPY (SELECT %s FROM %s", cols.buf, x->src_rel);
		if (x->t->filter)
			sb_addf(out_src, " WHERE (%s)", x->t->filter);
		sb_addf(out_src, ") TO STDOUT (FORMAT %s)", fmt);
		sb_addf(out_dst, "COPY %s (%s) FROM STDIN (FORMAT %s%s)", x->dst_rel, cols.buf, fmt,
			(x->created || x->emptied) && x->dst_relkind == 'r' ? ", FREEZE" : "");
	}
	sb_release(&cols);
	free(dcols);
	return ok;
}

/* Drain what is left of a failed COPY on the target so its error can be read. */
static void abort_copy_in(PGconn *dst, const char *why)
{
	PQputCopyEnd(dst, why);
	PGresult *res;
	while ((res = PQgetResult(dst)))
		PQclear(res);
}

static bool finish_source_copy(struct load_ctx *x, struct err *e)
{
	PGresult *res = PQgetResult(x->src);
	bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
	if (!ok)
		side_error(x->src, res, "source", e);
	PQclear(res);
	while ((res = PQgetResult(x->src)))
		PQclear(res);
	return ok;
}

/* Stream rows from the source COPY into the target COPY. */
static bool stream(struct load_ctx *x, const char *src_sql, const char *dst_sql,
		   struct load_result *r, struct err *e)
{
	PGresult *res = PQexec(x->src, src_sql);
	if (PQresultStatus(res) != PGRES_COPY_OUT) {
		side_error(x->src, res, "source", e);
		PQclear(res);
		return false;
	}
	PQclear(res);
	res = PQexec(x->dst, dst_sql);
	if (PQresultStatus(res) != PGRES_COPY_IN) {
		side_error(x->dst, res, "target", e);
		PQclear(res);
		return false;
	}
	PQclear(res);
	long long msgs = 0, bytes = 0;
	int64_t last = now_ms();
	char *buf = NULL;
	int n;
	while ((n = PQgetCopyData(x->src, &buf, 0)) > 0) {
		int put = PQputCopyData(x->dst, buf, n);
		PQfreemem(buf);
		if (put != 1) {
			/* the target rejected the data: its error is the pending result */
			res = PQgetResult(x->dst);
			side_error(x->dst, res, "target", e);
			PQclear(res);
			return false;
		}
		msgs++;
		bytes += n;
		if ((msgs & 255) == 0 && now_ms() - last >= PROGRESS_EVERY_MS) {
			last = now_ms();
			/* notice an error the target sent mid-copy without waiting for the end */
			PQconsumeInput(x->dst);
			if (x->h->progress && !x->h->progress(x->h->arg, msgs, bytes)) {
				abort_copy_in(x->dst, "load stopped");
				return err_set(e, 499, "cancelled", NULL, "cancelled");
			}
		}
	}
	r->bytes = bytes;
	if (n == -2 || !finish_source_copy(x, e)) {
		if (n == -2)
			side_error(x->src, NULL, "source", e);
		abort_copy_in(x->dst, "source failed");
		return false;
	}
	if (PQputCopyEnd(x->dst, NULL) != 1)
		return side_error(x->dst, NULL, "target", e);
	res = PQgetResult(x->dst);
	bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
	if (ok)
		r->rows = atoll(PQcmdTuples(res));
	else
		side_error(x->dst, res, "target", e);
	PQclear(res);
	while ((res = PQgetResult(x->dst)))
		PQclear(res);
	return ok;
}

static bool add_primary_key(struct load_ctx *x, struct err *e)
{
	struct sb sql;
	sb_init(&sql);
	int npk = 0;
	for (int pos = 1;; pos++) {
		int i = 0;
		while (i < x->nscols && x->scols[i].pk_pos != pos)
			i++;
		if (i == x->nscols)
			break;
		char *col = db_ident(x->dst, x->scols[i].name);
		sb_addf(&sql, "%s%s", npk++ ? ", " : "", col);
		free(col);
	}
	bool ok = true;
	if (npk) {
		char *stmt = xasprintf("ALTER TABLE %s ADD PRIMARY KEY (%s)", x->dst_rel, sql.buf);
		int64_t t0 = now_ms();
		ok = side_exec(x->dst, "target", stmt, 0, NULL, NULL, e);
		if (ok && x->h->step)
			x->h->step(x->h->arg, "primary_key", "added primary key (%s) in %lld ms",
				   sql.buf, (long long)(now_ms() - t0));
		free(stmt);
	}
	sb_release(&sql);
	return ok;
}

/* Compare row counts of source (same snapshot) and target (same transaction). */
static bool validate_count(struct load_ctx *x, struct load_result *r, struct err *e)
{
	char *sql = xasprintf("SELECT count(*) FROM %s%s%s%s", x->src_rel,
			      x->t->filter ? " WHERE (" : "", x->t->filter ? x->t->filter : "",
			      x->t->filter ? ")" : "");
	PGresult *res = NULL;
	bool ok = side_exec(x->src, "source", sql, 0, NULL, &res, e);
	free(sql);
	if (!ok)
		return false;
	long long src_rows = atoll(PQgetvalue(res, 0, 0));
	PQclear(res);
	long long dst_rows = target_count(x, e);
	if (dst_rows < 0)
		return false;
	dst_rows -= x->rows_before;
	bool passed = src_rows == dst_rows;
	json_decref(r->validation);
	r->validation = json_pack("{s:s,s:I,s:I}", "state", passed ? "passed" : "failed",
				  "source_rows", (json_int_t)src_rows, "target_rows",
				  (json_int_t)dst_rows);
	if (!passed)
		return err_set(e, 500, "validation_failed", NULL,
			       "validation failed: source has %lld rows, target received %lld",
			       src_rows, dst_rows);
	return true;
}

static void ctx_release(struct load_ctx *x)
{
	if (x->h->connections)
		x->h->connections(x->h->arg, NULL, NULL);
	PQfinish(x->src);
	PQfinish(x->dst);
	free(x->src_rel);
	free(x->dst_rel);
	free(x->scols);
}

bool load_run(const struct load_table *t, const struct load_hooks *h, struct load_result *r,
	      struct err *e)
{
	struct load_ctx x = {.t = t, .h = h};
	struct sb src_sql, dst_sql;
	bool ok = false;
	sb_init(&src_sql);
	sb_init(&dst_sql);
	r->rows = r->bytes = 0;
	r->validation = json_pack("{s:s,s:n,s:n}", "state", "skipped", "source_rows", "target_rows");
	if (!(x.src = db_connect(job_source_dsn(t->spec), "source", e)) ||
	    !(x.dst = db_connect(job_target_dsn(t->spec), "target", e)))
		goto out;
	if (h->connections)
		h->connections(h->arg, x.src, x.dst);
	x.src_rel = db_qualified(x.src, t->src.schema, t->src.name);
	x.dst_rel = db_qualified(x.dst, t->dst.schema, t->dst.name);
	if (!open_source(&x, e) || !prepare_target(&x, e) ||
	    !build_copy_sql(&x, &src_sql, &dst_sql, e) || !stream(&x, src_sql.buf, dst_sql.buf, r, e))
		goto out;
	if (x.created && !add_primary_key(&x, e))
		goto out;
	if (!strcmp(job_validate_mode(t->spec), "count") && !validate_count(&x, r, e))
		goto out;
	if (!side_exec(x.dst, "target", "COMMIT", 0, NULL, NULL, e))
		goto out;
	side_exec(x.src, "source", "COMMIT", 0, NULL, NULL, NULL);
	ok = true;
out:
	sb_release(&src_sql);
	sb_release(&dst_sql);
	ctx_release(&x);
	return ok;
}

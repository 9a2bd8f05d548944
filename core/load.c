/* core/load.c: load one table: prepare the target, stream the rows, validate, commit */
#include "load.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
	char *dst_rel; /* owned, quoted */
	const char *select; /* borrowed from the copy description */
	const char *columns;
	bool binary;
	bool emptied;
	char relkind;
	char before_rows[32]; /* append mode: what the target held before, for validation */
	char before_sum[64];
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
	/* one line: libpq's connection messages span several */
	for (char *q = buf; *q; q++)
		if (*q == '\n' || *q == '\t')
			*q = ' ';
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
	return ok;
}

/* The validation query of one side: row count and an order-independent hash of the rows. */
static char *validation_sql(bool checksum, const char *from)
{
	if (!checksum)
		return xasprintf("SELECT count(*), 0 FROM (%s) s", from);
	return xasprintf("SELECT count(*), coalesce(sum(('x' || left(md5(s::text), 16))::bit(64)::bigint::numeric), 0) FROM (%s) s",
			 from);
}

static char *target_rows_sql(struct load_ctx *x)
{
	return xasprintf("SELECT %s FROM %s", x->columns, x->dst_rel);
}

/* Bring the target table into the state load.mode asks for, inside the open transaction. */
static bool prepare_target(struct load_ctx *x, struct err *e)
{
	const char *mode = job_load_mode(x->t->spec);
	bool created = json_is_true(json_object_get(x->t->copy, "created"));
	if (!side_exec(x->dst, "target", "BEGIN", 0, NULL, NULL, e))
		return false;
	if (!strcmp(mode, "replace") || !strcmp(mode, "drop") || created) {
		char *sql = xasprintf("TRUNCATE %s", x->dst_rel);
		bool ok = side_exec(x->dst, "target", sql, 0, NULL, NULL, e);
		free(sql);
		x->emptied = ok;
		return ok;
	}
	char *sql = xasprintf("SELECT EXISTS (SELECT 1 FROM %s)", x->dst_rel);
	PGresult *res = NULL;
	bool ok = side_exec(x->dst, "target", sql, 0, NULL, &res, e);
	free(sql);
	if (!ok)
		return false;
	bool has_rows = PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	if (!strcmp(mode, "fail") && has_rows) {
		char *count = xasprintf("SELECT count(*) FROM %s", x->dst_rel);
		long long n = -1;
		if (side_exec(x->dst, "target", count, 0, NULL, &res, e)) {
			n = atoll(PQgetvalue(res, 0, 0));
			PQclear(res);
		}
		free(count);
		return err_set(e, 409, "target_not_empty", NULL,
			       "target: table %s holds %lld rows and load.mode is fail",
			       x->t->dst_label, n);
	}
	const char *vmode = job_validate_mode(x->t->spec);
	if (strcmp(vmode, "none") && has_rows) {
		char *rows = target_rows_sql(x);
		char *v = validation_sql(!strcmp(vmode, "checksum"), rows);
		ok = side_exec(x->dst, "target", v, 0, NULL, &res, e);
		if (ok) {
			str_copy(x->before_rows, sizeof(x->before_rows), PQgetvalue(res, 0, 0));
			str_copy(x->before_sum, sizeof(x->before_sum), PQgetvalue(res, 0, 1));
			PQclear(res);
		}
		free(v);
		free(rows);
	}
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

static bool start_copies(struct load_ctx *x, struct err *e)
{
	const char *fmt = x->binary ? "binary" : "text";
	char *src_sql = xasprintf("COPY (%s) TO STDOUT (FORMAT %s)", x->select, fmt);
	char *dst_sql = xasprintf("COPY %s (%s) FROM STDIN (FORMAT %s%s)", x->dst_rel, x->columns,
				  fmt, x->emptied && x->relkind == 'r' ? ", FREEZE" : "");
	PGresult *res = PQexec(x->src, src_sql);
	bool ok = PQresultStatus(res) == PGRES_COPY_OUT;
	if (!ok)
		side_error(x->src, res, "source", e);
	PQclear(res);
	if (ok) {
		res = PQexec(x->dst, dst_sql);
		ok = PQresultStatus(res) == PGRES_COPY_IN;
		if (!ok)
			side_error(x->dst, res, "target", e);
		PQclear(res);
	}
	free(src_sql);
	free(dst_sql);
	return ok;
}

/* Stream rows from the source COPY into the target COPY. */
static bool stream(struct load_ctx *x, struct load_result *r, struct err *e)
{
	if (!start_copies(x, e))
		return false;
	long long msgs = 0, bytes = 0;
	int64_t last = now_ms();
	char *buf = NULL;
	int n;
	PGresult *res;
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

/* Set each owned sequence of the target to the source's current value. */
static bool carry_sequences(struct load_ctx *x, struct err *e)
{
	size_t i;
	json_t *s;
	json_array_foreach(json_object_get(x->t->copy, "sequences"), i, s) {
		char *sql = xasprintf("SELECT last_value, is_called FROM %s",
				      json_string_value(json_object_get(s, "source")));
		PGresult *res = NULL;
		bool ok = side_exec(x->src, "source", sql, 0, NULL, &res, e);
		free(sql);
		if (!ok)
			return false;
		const char *table = json_string_value(json_object_get(s, "table"));
		const char *p[] = {table ? table : x->dst_rel, json_string_value(json_object_get(s, "column")),
				   PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1)};
		ok = side_exec(x->dst, "target", sql_target_sequence_set, 4, p, NULL, e);
		PQclear(res);
		if (!ok)
			return false;
	}
	return true;
}

/* Send q to c and wait for its one result; NULL with e filled on failure. */
static PGresult *collect(PGconn *c, const char *side, struct err *e)
{
	PGresult *res, *last = NULL;
	while ((res = PQgetResult(c))) {
		PQclear(last);
		last = res;
	}
	if (PQresultStatus(last) != PGRES_TUPLES_OK) {
		side_error(c, last, side, e);
		PQclear(last);
		return NULL;
	}
	return last;
}

/* Validate: the same count (and hash) on both sides, computed by both databases at once. */
static bool validate(struct load_ctx *x, struct load_result *r, struct err *e)
{
	const char *vmode = job_validate_mode(x->t->spec);
	bool checksum = !strcmp(vmode, "checksum");
	char *rows = target_rows_sql(x);
	char *sq = validation_sql(checksum, x->select);
	char *dq = validation_sql(checksum, rows);
	int64_t t0 = now_ms();
	bool sent = PQsendQuery(x->src, sq) && PQsendQuery(x->dst, dq);
	free(rows);
	free(sq);
	free(dq);
	if (!sent)
		return side_error(x->src, NULL, "validation", e);
	PGresult *rs = collect(x->src, "source", e);
	PGresult *rd = collect(x->dst, "target", e);
	if (!rs || !rd) {
		PQclear(rs);
		PQclear(rd);
		return false;
	}
	long long src_rows = atoll(PQgetvalue(rs, 0, 0));
	long long dst_rows = atoll(PQgetvalue(rd, 0, 0)) - atoll(x->before_rows);
	const char *p[] = {PQgetvalue(rd, 0, 1), *x->before_sum ? x->before_sum : "0",
			   PQgetvalue(rs, 0, 1)};
	PGresult *cmp = NULL;
	bool same_sum = side_exec(x->dst, "target", "SELECT $1::numeric - $2::numeric = $3::numeric",
				  3, p, &cmp, e) && PQgetvalue(cmp, 0, 0)[0] == 't';
	PQclear(cmp);
	PQclear(rs);
	PQclear(rd);
	bool passed = src_rows == dst_rows && same_sum;
	json_decref(r->validation);
	r->validation = json_pack("{s:s,s:I,s:I}", "state", passed ? "passed" : "failed",
				  "source_rows", (json_int_t)src_rows, "target_rows",
				  (json_int_t)dst_rows);
	if (x->h->step)
		x->h->step(x->h->arg, "validation", "%s validation %s in %lld ms: %lld source rows, %lld target rows",
			   vmode, passed ? "passed" : "failed", (long long)(now_ms() - t0), src_rows,
			   dst_rows);
	if (!passed)
		return err_set(e, 500, "validation_failed", NULL,
			       src_rows != dst_rows
				       ? "validation failed: the source has %lld rows, the target received %lld"
				       : "validation failed: %lld rows on each side, but their checksums differ",
			       src_rows, dst_rows);
	return true;
}

/* Record, in the load's own transaction, that this task's rows are in. */
static bool mark_loaded(struct load_ctx *x, const struct load_result *r, struct err *e)
{
	char task[32], rows[32];
	snprintf(task, sizeof(task), "%lld", x->t->task_id);
	snprintf(rows, sizeof(rows), "%lld", r->rows);
	const char *p[] = {x->t->run_id, task, rows};
	return side_exec(x->dst, "target", sql_target_marker_add, 3, p, NULL, e);
}

static void ctx_release(struct load_ctx *x)
{
	if (x->h->connections)
		x->h->connections(x->h->arg, NULL, NULL);
	PQfinish(x->src);
	PQfinish(x->dst);
	free(x->dst_rel);
}

bool load_run(const struct load_table *t, const struct load_hooks *h, struct load_result *r,
	      struct err *e)
{
	struct load_ctx x = {.t = t, .h = h};
	bool ok = false;
	r->rows = r->bytes = 0;
	r->validation = json_pack("{s:s,s:n,s:n}", "state", "skipped", "source_rows", "target_rows");
	x.select = json_string_value(json_object_get(t->copy, "select"));
	x.columns = json_string_value(json_object_get(t->copy, "columns"));
	x.binary = !strcmp(json_string_value(json_object_get(t->copy, "format")), "binary");
	x.relkind = json_string_value(json_object_get(t->copy, "relkind"))[0];
	str_copy(x.before_rows, sizeof(x.before_rows), "0");
	if (!(x.src = job_connect(t->spec, "source", e)) ||
	    !(x.dst = job_connect(t->spec, "target", e)))
		goto out;
	if (h->connections)
		h->connections(h->arg, x.src, x.dst);
	x.dst_rel = db_qualified(x.dst, t->dst.schema, t->dst.name);
	if (!open_source(&x, e) || !prepare_target(&x, e) || !stream(&x, r, e) ||
	    !carry_sequences(&x, e))
		goto out;
	if (strcmp(job_validate_mode(t->spec), "none") && !validate(&x, r, e))
		goto out;
	if (json_is_true(json_object_get(t->copy, "mark")) && !mark_loaded(&x, r, e))
		goto out;
	if (!side_exec(x.dst, "target", "COMMIT", 0, NULL, NULL, e))
		goto out;
	side_exec(x.src, "source", "COMMIT", 0, NULL, NULL, NULL);
	ok = true;
out:
	ctx_release(&x);
	return ok;
}

bool load_step(json_t *spec, const char *sql, const struct load_hooks *h, struct err *e)
{
	PGconn *dst = job_connect(spec, "target", e);
	if (!dst)
		return false;
	if (h->connections)
		h->connections(h->arg, NULL, dst);
	bool ok = side_exec(dst, "target", sql, 0, NULL, NULL, e);
	if (h->connections)
		h->connections(h->arg, NULL, NULL);
	PQfinish(dst);
	return ok;
}

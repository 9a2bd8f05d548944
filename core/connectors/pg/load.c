/* core/connectors/pg/load.c: PostgreSQL as a target: one table's load (prepared for its way, rows in by COPY, merged or swapped in, checked, committed) and post-load steps */
#include "pgtarget.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "copydesc.h"
#include "db.h"
#include "job.h"
#include "log.h"
#include "sb.h"
#include "sql.h"
#include "rowhash.h"
#include "util.h"
#include "banned.h"

#define STAGE "ferry_stage"
#define DELETED_COLUMN "_ferry_deleted"

struct swap;

/* One table's load on a PostgreSQL connection (target.h's struct target_load). */
struct target_load {
	const struct load_table *t;
	const struct load_hooks *h;
	PGconn *dst;   /* borrowed: the target's connection */
	enum load_way how;
	bool part;     /* one part of a table loaded in parts */
	char *dst_rel; /* owned, quoted: where COPY writes (the table, its staging or shadow table) */
	char *table_rel; /* owned, quoted: the target table itself */
	const char *columns; /* borrowed from the copy description */
	char *copy_columns; /* owned: the COPY column list (columns, and the delete flag) */
	bool binary;
	bool emptied;
	char relkind;
	char *window_sql; /* owned or NULL: the cursor window as a condition on the target */
	char before_rows[32]; /* append mode: what the target held before, for validation */
	char before_sum[64];
	bool stream_sum;  /* validation hashes the rows (hash_rows): note those an append keeps */
	bool commit;      /* the COPY's message ends with COMMIT (rows_begin's direct, commit) */
	bool check_sent;  /* check_send sent its query */
	struct swap *swap;  /* owned: swap mode's shadow table */
	json_t *stage_cols; /* owned: a merge's staged columns, quoted */
	json_t *qkey;       /* owned: a merge's key columns, quoted */
};

typedef struct target_load load_t;

/* Set e from a failed result on one side, prefixing the side's name. */
static bool side_error(PGconn *c, PGresult *res, const char *side, struct err *e)
{
	return db_side_error(c, res, side, e);
}

/* Run sql on the target; false with e prefixed by "target: " on failure. */
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

/* The last result of what was sent; false with e set when any failed. */
static bool side_collect(PGconn *c, const char *side, struct err *e)
{
	PGresult *res, *bad = NULL;
	bool any = false;
	while ((res = PQgetResult(c))) {
		any = true;
		ExecStatusType st = PQresultStatus(res);
		if (!bad && st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
			bad = res;
		else
			PQclear(res);
	}
	if (!bad && any)
		return true;
	side_error(c, bad, side, e);
	PQclear(bad);
	return false;
}

/* The validation query of one side: row count and an order-independent hash of the rows. */
static char *validation_sql(bool checksum, const char *from)
{
	if (!checksum)
		return xasprintf("SELECT count(*), 0 FROM (%s) s", from);
	return xasprintf("SELECT count(*), coalesce(sum(('x' || left(md5(s::text), 16))::bit(64)::bigint::numeric), 0) FROM (%s) s",
			 from);
}

static char *target_rows_sql(load_t *x)
{
	if (x->window_sql)
		return xasprintf("SELECT %s FROM %s WHERE %s", x->columns, x->dst_rel, x->window_sql);
	return xasprintf("SELECT %s FROM %s", x->columns, x->dst_rel);
}

/* The table's load mode: its copy description's, else (older plans) load.mode. */
static const char *copy_mode(const struct load_table *t)
{
	return t->copy->mode ? t->copy->mode : t->job->load.mode;
}

/* The cursor window as a condition on the target, or NULL for a whole table. */
static char *window_condition(PGconn *c, const struct copy_desc *d)
{
	return d->window ? db_range_condition(c, d->window_column, d->window_from, d->window_to) : NULL;
}

/* Delete the target's rows in the cursor window (they are loaded again from the source). */
static bool delete_window(load_t *x, struct err *e)
{
	char *sql = xasprintf("DELETE FROM %s WHERE %s", x->table_rel, x->window_sql);
	PGresult *res = NULL;
	bool ok = side_exec(x->dst, "target", sql, 0, NULL, &res, e);
	free(sql);
	if (ok && x->h->step)
		x->h->step(x->h->arg, "window", "deleted %s target rows in the cursor window %s",
			   PQcmdTuples(res), x->window_sql);
	PQclear(res);
	return ok;
}

static bool prepare_merge(load_t *x, struct err *e);
static bool prepare_swap(load_t *x, struct err *e);

/* Whether the target table holds any row, in *has_rows; false with e filled on failure. */
static bool target_has_rows(load_t *x, bool *has_rows, struct err *e)
{
	char *sql = xasprintf("SELECT EXISTS (SELECT 1 FROM %s)", x->dst_rel);
	PGresult *res = NULL;
	bool ok = side_exec(x->dst, "target", sql, 0, NULL, &res, e);
	free(sql);
	if (ok)
		*has_rows = PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	return ok;
}

/*
 * A table to load in parts: the parts append from sessions of their own,
 * so the table must be empty and stay unlocked. One that holds rows after
 * all is emptied here and loaded in one go.
 */
static bool prepare_parts(load_t *x, int *streams, struct err *e)
{
	bool has_rows;
	if (!target_has_rows(x, &has_rows, e))
		return false;
	if (!has_rows)
		return true;
	*streams = 1;
	char *sql = xasprintf("TRUNCATE %s", x->dst_rel);
	x->emptied = side_exec(x->dst, "target", sql, 0, NULL, NULL, e);
	free(sql);
	return x->emptied;
}

/*
 * The target's rows (in the cursor window) read back with COPY and hashed
 * as the source connector hashed them while streaming: their count and sum.
 */
static bool target_hash(load_t *x, long long *rows, unsigned long long *sum,
			struct err *e)
{
	json_t *jk = x->t->copy->kinds;
	int n = (int)json_array_size(jk);
	enum rh_kind *kinds = xcalloc((size_t)n + 1, sizeof(*kinds));
	for (int i = 0; i < n; i++)
		kinds[i] = rh_kind_parse(json_string_value(json_array_get(jk, (size_t)i)));
	char *from = target_rows_sql(x);
	char *sql = xasprintf("COPY (%s) TO STDOUT", from);
	free(from);
	PGresult *res = PQexec(x->dst, sql);
	free(sql);
	bool ok = PQresultStatus(res) == PGRES_COPY_OUT;
	if (!ok)
		side_error(x->dst, res, "target", e);
	PQclear(res);
	struct sb scratch;
	sb_init(&scratch);
	*rows = 0;
	*sum = 0;
	char *buf = NULL;
	int len;
	while (ok && (len = PQgetCopyData(x->dst, &buf, 0)) > 0) {
		size_t l = (size_t)len;
		if (l && buf[l - 1] == '\n')
			l--;
		*sum += rh_row(buf, l, kinds, n, &scratch);
		(*rows)++;
		PQfreemem(buf);
	}
	if (ok) {
		res = PQgetResult(x->dst);
		ok = PQresultStatus(res) == PGRES_COMMAND_OK;
		if (!ok)
			side_error(x->dst, res, "target", e);
		PQclear(res);
		while ((res = PQgetResult(x->dst)))
			PQclear(res);
	}
	sb_release(&scratch);
	free(kinds);
	return ok;
}

/* Bring the target table into the state its load way asks for, inside a new transaction. */
bool pg_prepare(load_t *x, int *streams, struct err *e)
{
	if (!side_exec(x->dst, "target", "BEGIN", 0, NULL, NULL, e))
		return false;
	if (x->part) /* the load's first part prepared the table */
		return true;
	switch (x->how) {
	case LOAD_EMPTY:
		/* a table emptied in one go starts in rows_begin (direct): this one loads in parts */
		return prepare_parts(x, streams, e);
	case LOAD_WINDOW:
		return delete_window(x, e);
	case LOAD_MERGE:
		return prepare_merge(x, e);
	case LOAD_SWAP:
		return prepare_swap(x, e);
	case LOAD_APPEND:
		break;
	}
	const char *mode = copy_mode(x->t);
	bool has_rows, ok = true;
	PGresult *res = NULL;
	if (!target_has_rows(x, &has_rows, e))
		return false;
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
	const char *vmode = x->t->job->load.validate;
	if (x->stream_sum && has_rows) {
		long long n = 0;
		unsigned long long sum = 0;
		ok = target_hash(x, &n, &sum, e);
		snprintf(x->before_rows, sizeof(x->before_rows), "%lld", n);
		snprintf(x->before_sum, sizeof(x->before_sum), "%llu", sum);
	} else if (strcmp(vmode, "none") && has_rows) {
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

/* Drain what is left of a COPY on the target (ended with `why`) so that its error can be read. */
void pg_rows_abort(load_t *x, const char *why)
{
	PQputCopyEnd(x->dst, why);
	PGresult *res;
	while ((res = PQgetResult(x->dst)))
		PQclear(res);
}

/* The target's COPY statement (new string); FREEZE once the table was emptied in this transaction. */
static char *copy_in_sql(const load_t *x)
{
	return xasprintf("COPY %s (%s) FROM STDIN (FORMAT %s%s)", x->dst_rel, x->copy_columns,
			 x->binary ? "binary" : "text", x->emptied && x->relkind == 'r' ? ", FREEZE" : "");
}

/*
 * Read the answers to a message whose last statement is a COPY: true once
 * the connection is in the COPY (want), every statement before it having
 * succeeded; false with e filled otherwise.
 */
static bool copy_started(PGconn *c, ExecStatusType want, const char *side, struct err *e)
{
	PGresult *res;
	while ((res = PQgetResult(c))) {
		ExecStatusType st = PQresultStatus(res);
		if (st == want) {
			PQclear(res);
			return true;
		}
		if (st != PGRES_COMMAND_OK) {
			side_error(c, res, side, e);
			PQclear(res);
			while ((res = PQgetResult(c)))
				PQclear(res);
			return false;
		}
		PQclear(res);
	}
	return side_error(c, NULL, side, e);
}

/*
 * Start the COPY. `direct`: "BEGIN; TRUNCATE; COPY … FROM STDIN (FREEZE)"
 * in one message, and with `commit` a "COMMIT" after it, which the server
 * runs as soon as the COPY ends well (and skips when it fails).
 */
bool pg_rows_begin(load_t *x, bool direct, bool commit, struct err *e)
{
	if (!direct) {
		char *sql = copy_in_sql(x);
		PGresult *res = PQexec(x->dst, sql);
		free(sql);
		bool in = PQresultStatus(res) == PGRES_COPY_IN;
		if (!in)
			side_error(x->dst, res, "target", e);
		PQclear(res);
		return in;
	}
	x->emptied = true;
	x->commit = commit;
	char *in_sql = copy_in_sql(x);
	char *sql = xasprintf("BEGIN; TRUNCATE %s; %s%s", x->dst_rel, in_sql, commit ? "; COMMIT" : "");
	bool in = PQsendQuery(x->dst, sql) && copy_started(x->dst, PGRES_COPY_IN, "target", e);
	free(in_sql);
	free(sql);
	x->emptied = in;
	return in;
}

/* Hand len bytes of COPY data to the target; false with e filled when it rejected them. */
bool pg_rows_write(load_t *x, const char *data, size_t len, struct err *e)
{
	if (PQputCopyData(x->dst, data, (int)len) == 1)
		return true;
	PGresult *res = PQgetResult(x->dst);
	side_error(x->dst, res, "target", e);
	PQclear(res);
	return false;
}

void pg_rows_poll(load_t *x)
{
	PQconsumeInput(x->dst);
}

bool pg_rows_end(load_t *x, long long *rows, struct err *e)
{
	if (PQputCopyEnd(x->dst, NULL) != 1)
		return side_error(x->dst, NULL, "target", e);
	PGresult *res = PQgetResult(x->dst);
	bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
	if (ok)
		*rows = atoll(PQcmdTuples(res));
	else
		side_error(x->dst, res, "target", e);
	PQclear(res);
	if (ok && x->commit) /* the COMMIT that ended the message */
		return side_collect(x->dst, "target", e);
	while ((res = PQgetResult(x->dst)))
		PQclear(res);
	return ok;
}

bool pg_set_sequence(load_t *x, const struct copy_seq *s, const char *last_value,
			    const char *is_called, struct err *e)
{
	const char *p[] = {s->table ? s->table : x->table_rel, s->column, last_value, is_called};
	const char *pn[] = {s->target, last_value, is_called};
	return s->target ? side_exec(x->dst, "target", sql_target_sequence_setval, 3, pn, NULL, e)
			 : side_exec(x->dst, "target", sql_target_sequence_set, 4, p, NULL, e);
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

bool pg_check_send(load_t *x, bool checksum)
{
	char *rows = target_rows_sql(x);
	char *sql = validation_sql(checksum, rows);
	x->check_sent = PQsendQuery(x->dst, sql);
	free(rows);
	free(sql);
	return x->check_sent;
}

bool pg_check_read(load_t *x, const char *src_sum, long long *rows, bool *same_sum,
			  struct err *e)
{
	if (!x->check_sent)
		return side_error(x->dst, NULL, "target", e);
	x->check_sent = false;
	PGresult *rd = collect(x->dst, "target", e);
	if (!rd)
		return false;
	*rows = atoll(PQgetvalue(rd, 0, 0)) - atoll(x->before_rows);
	*same_sum = false;
	if (src_sum) {
		/* numeric: a sum of many 64-bit hashes outgrows every integer type */
		const char *p[] = {PQgetvalue(rd, 0, 1), *x->before_sum ? x->before_sum : "0", src_sum};
		PGresult *cmp = NULL;
		struct err ce;
		err_clear(&ce);
		*same_sum = side_exec(x->dst, "target", "SELECT $1::numeric - $2::numeric = $3::numeric",
				      3, p, &cmp, &ce) &&
			    PQgetvalue(cmp, 0, 0)[0] == 't';
		PQclear(cmp);
	}
	PQclear(rd);
	return true;
}

bool pg_hash_rows(load_t *x, long long *rows, unsigned long long *sum, struct err *e)
{
	if (!target_hash(x, rows, sum, e))
		return false;
	*rows -= atoll(x->before_rows);
	*sum -= strtoull(x->before_sum[0] ? x->before_sum : "0", NULL, 10);
	return true;
}

/* Record, in the load's own transaction, that this task's rows are in. */
bool pg_mark_loaded(load_t *x, long long rows, struct err *e)
{
	char task[32], nrows[32];
	snprintf(task, sizeof(task), "%lld", x->t->task_id);
	snprintf(nrows, sizeof(nrows), "%lld", rows);
	const char *p[] = {x->t->run_id, task, nrows};
	return side_exec(x->dst, "target", sql_target_marker_add, 3, p, NULL, e);
}

bool pg_commit(load_t *x, struct err *e)
{
	return side_exec(x->dst, "target", "COMMIT", 0, NULL, NULL, e);
}

/*
 * A failed load leaves its transaction to the connection's close, which
 * the loader does after a failure. One whose other parts committed rolls
 * back and empties the table (this run created it), so that no part of
 * its rows stays behind; a failure here is logged, and the next attempt
 * empties it too.
 */
void pg_rollback(load_t *x, bool empty)
{
	if (!empty)
		return;
	PGresult *res = PQexec(x->dst, "ROLLBACK");
	PQclear(res);
	char *sql = xasprintf("TRUNCATE %s", x->table_rel);
	struct err e;
	err_clear(&e);
	if (!side_exec(x->dst, "target", sql, 0, NULL, NULL, &e))
		log_warn("run %s table %s: could not empty the table after its load failed: %s",
			 x->t->run_id, x->t->dst_label, e.msg);
	free(sql);
}

/* ---- merge by key: upsert, and incremental with a key */

/* The loaded columns, read back from the staging table (quoted names, new array). */
static json_t *stage_columns(load_t *x, struct err *e)
{
	PGresult *res = NULL;
	if (!side_exec(x->dst, "target", sql_target_stage_columns, 0, NULL, &res, e))
		return NULL;
	json_t *out = json_array();
	for (int i = 0; i < PQntuples(res); i++) {
		char *q = db_ident(x->dst, PQgetvalue(res, i, 0));
		json_array_append_new(out, json_string(q));
		free(q);
	}
	PQclear(res);
	return out;
}

static bool prepare_merge(load_t *x, struct err *e)
{
	bool flag = x->t->copy->delete_flag;
	char *sql = xasprintf("CREATE TEMP TABLE " STAGE " ON COMMIT DROP AS SELECT %s%s FROM %s WITH NO DATA",
			      x->columns, flag ? ", false AS \"" DELETED_COLUMN "\"" : "", x->table_rel);
	bool ok = side_exec(x->dst, "target", sql, 0, NULL, NULL, e);
	free(sql);
	/* a backfill replaces its window: rows gone from the source go from the target too */
	if (ok && x->window_sql && !x->t->copy->track)
		ok = delete_window(x, e);
	if (!ok)
		return false;
	free(x->dst_rel);
	x->dst_rel = xstrdup("pg_temp." STAGE);
	x->emptied = true;
	if (flag) {
		free(x->copy_columns);
		x->copy_columns = xasprintf("%s, \"" DELETED_COLUMN "\"", x->columns);
	}
	return true;
}

/* Key match of target row t and staged row s: t."k" = s."k" AND … */
static void key_match(json_t *qkey, struct sb *out)
{
	size_t i;
	json_t *k;
	json_array_foreach(qkey, i, k) {
		sb_addf(out, "%st.%s = s.%s", i ? " AND " : "", json_string_value(k), json_string_value(k));
	}
}

/* The copy description's key columns, quoted (new array). */
static json_t *quoted_key(load_t *x)
{
	json_t *out = json_array();
	size_t i;
	json_t *k;
	json_array_foreach(x->t->copy->key, i, k) {
		char *q = db_ident(x->dst, json_string_value(k));
		json_array_append_new(out, json_string(q));
		free(q);
	}
	return out;
}

/*
 * For validation: the rows staged, and how many of them are on the target
 * exactly as staged (or gone, when flagged deleted).
 */
bool pg_merge_check(load_t *x, long long *staged, long long *found, struct err *e)
{
	bool flag = x->t->copy->delete_flag;
	struct sb on, tc, sc, sql;
	sb_init(&on);
	sb_init(&tc);
	sb_init(&sc);
	sb_init(&sql);
	key_match(x->qkey, &on);
	size_t i;
	json_t *c;
	json_array_foreach(x->stage_cols, i, c) {
		sb_addf(&tc, "%st.%s", i ? ", " : "", json_string_value(c));
		sb_addf(&sc, "%ss.%s", i ? ", " : "", json_string_value(c));
	}
	const char *del = flag ? "s.\"" DELETED_COLUMN "\"" : "false";
	sb_addf(&sql,
		"SELECT count(*), count(*) FILTER (WHERE NOT %s AND EXISTS (SELECT 1 FROM %s t WHERE %s AND ROW(%s)::text IS NOT DISTINCT FROM ROW(%s)::text)), "
		"count(*) FILTER (WHERE %s AND NOT EXISTS (SELECT 1 FROM %s t WHERE %s)) FROM pg_temp." STAGE " s",
		del, x->table_rel, on.buf, tc.buf, sc.buf, del, x->table_rel, on.buf);
	PGresult *rd = NULL;
	bool ok = side_exec(x->dst, "target", sql.buf, 0, NULL, &rd, e);
	sb_release(&on);
	sb_release(&tc);
	sb_release(&sc);
	sb_release(&sql);
	if (!ok)
		return false;
	*staged = atoll(PQgetvalue(rd, 0, 0));
	*found = atoll(PQgetvalue(rd, 0, 1)) + atoll(PQgetvalue(rd, 0, 2));
	PQclear(rd);
	return true;
}

/* Merge the `rows` staged rows into the table in the open transaction. */
bool pg_merge(load_t *x, long long rows, struct err *e)
{
	json_t *key = x->t->copy->key;
	bool flag = x->t->copy->delete_flag;
	json_t *cols = stage_columns(x, e);
	if (!cols)
		return false;
	char *key_json = json_dumps(key, JSON_COMPACT);
	const char *p[] = {x->table_rel, key_json};
	PGresult *res = NULL;
	bool ok = side_exec(x->dst, "target", sql_target_unique_key, 2, p, &res, e);
	free(key_json);
	bool unique = ok && PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	struct sb on, keys, set, sql;
	sb_init(&on);
	sb_init(&keys);
	sb_init(&set);
	sb_init(&sql);
	json_t *qkey = quoted_key(x);
	key_match(qkey, &on);
	size_t i, j;
	json_t *k, *kk;
	json_array_foreach(qkey, i, k) {
		sb_addf(&keys, "%s%s", i ? ", " : "", json_string_value(k));
	}
	int nset = 0;
	json_array_foreach(cols, i, k) {
		bool is_key = false;
		json_array_foreach(qkey, j, kk) {
			is_key = is_key || json_equal(k, kk);
		}
		if (!is_key)
			sb_addf(&set, "%s%s = EXCLUDED.%s", nset++ ? ", " : "", json_string_value(k),
				json_string_value(k));
	}

	const char *live = flag ? " WHERE NOT s.\"" DELETED_COLUMN "\"" : "";
	long long deleted = 0, merged = 0;
	int64_t t0 = now_ms();
	if (ok && (flag || !unique)) {
		/* without a unique index: delete every staged key, then insert; with one: delete flagged keys */
		sb_addf(&sql, "DELETE FROM %s t USING pg_temp." STAGE " s WHERE %s%s", x->table_rel, on.buf,
			unique ? " AND s.\"" DELETED_COLUMN "\"" : "");
		ok = side_exec(x->dst, "target", sql.buf, 0, NULL, &res, e);
		if (ok) {
			deleted = atoll(PQcmdTuples(res));
			PQclear(res);
		}
	}
	if (ok) {
		sb_release(&sql);
		sb_init(&sql);
		sb_addf(&sql, "INSERT INTO %s AS t (%s) OVERRIDING SYSTEM VALUE SELECT %s FROM pg_temp." STAGE " s%s",
			x->table_rel, x->columns, x->columns, live);
		if (unique && nset)
			sb_addf(&sql, " ON CONFLICT (%s) DO UPDATE SET %s", keys.buf, set.buf);
		else if (unique)
			sb_addf(&sql, " ON CONFLICT (%s) DO NOTHING", keys.buf);
		res = PQexec(x->dst, sql.buf);
		ok = PQresultStatus(res) == PGRES_COMMAND_OK;
		if (ok)
			merged = atoll(PQcmdTuples(res));
		else if (!strcmp(db_sqlstate(res), "21000"))
			err_set(e, 409, "duplicate_key", NULL,
				"target: the key (%s) is not unique among the rows read from the source, so they cannot be merged",
				keys.buf);
		else
			side_error(x->dst, res, "target", e);
		PQclear(res);
	}
	if (ok && x->h->step)
		x->h->step(x->h->arg, "merge",
			   "merged %lld staged rows by key (%s) in %lld ms: %lld %s, %lld target rows %s",
			   rows, keys.buf, (long long)(now_ms() - t0), merged,
			   unique ? "inserted or updated" : "inserted", deleted,
			   unique ? "deleted by the delete flag" : "deleted first (no unique index on the key)");
	sb_release(&on);
	sb_release(&keys);
	sb_release(&set);
	sb_release(&sql);
	x->qkey = qkey;
	x->stage_cols = cols;
	return ok;
}

/* ---- swap: load a shadow table, index it, rename it into place */

struct swap {
	char name[64];  /* the shadow's name, unquoted */
	char *rel;      /* owned: the shadow, quoted and qualified */
	json_t *names;  /* owned: [[kind, temporary name, final name], …] to rename after the swap */
	json_t *after;  /* owned: statements to run once the shadow has the table's name */
};

static void swap_release(struct swap *w)
{
	if (!w)
		return;
	free(w->rel);
	json_decref(w->names);
	json_decref(w->after);
	free(w);
}

static bool prepare_swap(load_t *x, struct err *e)
{
	const char *p[] = {x->table_rel};
	PGresult *res = NULL;
	if (!side_exec(x->dst, "target", sql_target_swap_blockers, 1, p, &res, e))
		return false;
	if (*PQgetvalue(res, 0, 0)) {
		err_set(e, 409, "swap_blocked", NULL,
			"target: %s cannot be swapped for a new table: %s; use mode replace, or drop those first",
			x->t->dst_label, PQgetvalue(res, 0, 0));
		PQclear(res);
		return false;
	}
	PQclear(res);
	struct swap *w = xcalloc(1, sizeof(*w));
	x->swap = w;
	snprintf(w->name, sizeof(w->name), "ferry_swap_%lld", x->t->task_id);
	w->rel = db_qualified(x->dst, x->t->dst.schema, w->name);
	w->names = json_array();
	w->after = json_array();
	char *sql = xasprintf("CREATE TABLE %s (LIKE %s INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING GENERATED INCLUDING IDENTITY INCLUDING STORAGE INCLUDING COMMENTS%s)",
			      w->rel, x->table_rel,
			      PQserverVersion(x->dst) >= 140000 ? " INCLUDING COMPRESSION" : "");
	bool ok = side_exec(x->dst, "target", sql, 0, NULL, NULL, e);
	free(sql);
	if (!ok)
		return false;
	free(x->dst_rel);
	x->dst_rel = xstrdup(w->rel);
	x->emptied = true;
	return true;
}

/* Run the statements of one query's result rows (column `col`) whose kind (column 0) is `kind`. */
static bool run_rows(load_t *x, PGresult *res, const char *kind, int col, int *n,
		     struct err *e)
{
	for (int i = 0; i < PQntuples(res); i++) {
		if (strcmp(PQgetvalue(res, i, 0), kind))
			continue;
		if (!side_exec(x->dst, "target", PQgetvalue(res, i, col), 0, NULL, NULL, e))
			return false;
		(*n)++;
	}
	return true;
}

/* Index the loaded shadow like the table, give it the table's grants, and rename it into place. */
bool pg_swap_in(load_t *x, struct err *e)
{
	struct swap *w = x->swap;
	const char *p[] = {x->table_rel, w->rel, w->name};
	PGresult *idx = NULL, *carry = NULL;
	int64_t t0 = now_ms();
	int built = 0, carried = 0;
	if (!side_exec(x->dst, "target", sql_target_swap_indexes, 3, p, &idx, e))
		return false;
	bool ok = true;
	for (int i = 0; ok && i < PQntuples(idx); i++) {
		if (PQgetisnull(idx, i, 3)) {
			ok = err_set(e, 500, "swap_failed", NULL,
				     "target: cannot rebuild %s %s of %s on the new table", PQgetvalue(idx, i, 0),
				     PQgetvalue(idx, i, 1), x->t->dst_label);
			break;
		}
		ok = side_exec(x->dst, "target", PQgetvalue(idx, i, 3), 0, NULL, NULL, e);
		built++;
	}
	ok = ok && side_exec(x->dst, "target", sql_target_swap_carry, 2, p, &carry, e) &&
	     run_rows(x, carry, "before", 1, &carried, e);
	if (ok && x->h->step)
		for (int i = 0; i < PQntuples(carry); i++)
			if (!strcmp(PQgetvalue(carry, i, 0), "warning"))
				x->h->step(x->h->arg, "swap", "%s", PQgetvalue(carry, i, 1));
	if (ok) {
		char *an = xasprintf("ANALYZE %s", w->rel);
		ok = side_exec(x->dst, "target", an, 0, NULL, NULL, e);
		free(an);
	}
	int64_t t1 = now_ms();
	if (ok) {
		char *name = db_ident(x->dst, x->t->dst.name);
		char *sql = xasprintf("DROP TABLE %s; ALTER TABLE %s RENAME TO %s", x->table_rel, w->rel, name);
		PGresult *res = PQexec(x->dst, sql);
		ok = PQresultStatus(res) == PGRES_COMMAND_OK;
		if (!ok)
			side_error(x->dst, res, "target", e);
		PQclear(res);
		free(sql);
		free(name);
	}
	for (int i = 0; ok && i < PQntuples(idx); i++) {
		char *tmp = db_ident(x->dst, PQgetvalue(idx, i, 2));
		char *fin = db_ident(x->dst, PQgetvalue(idx, i, 1));
		char *schema = db_ident(x->dst, x->t->dst.schema);
		char *sql = !strcmp(PQgetvalue(idx, i, 0), "constraint")
				    ? xasprintf("ALTER TABLE %s RENAME CONSTRAINT %s TO %s", x->table_rel, tmp, fin)
				    : xasprintf("ALTER INDEX %s.%s RENAME TO %s", schema, tmp, fin);
		ok = side_exec(x->dst, "target", sql, 0, NULL, NULL, e);
		free(sql);
		free(schema);
		free(tmp);
		free(fin);
	}
	int renamed = 0;
	ok = ok && run_rows(x, carry, "after", 1, &renamed, e);
	if (ok) {
		free(x->dst_rel);
		x->dst_rel = xstrdup(x->table_rel);
		if (x->h->step)
			x->h->step(x->h->arg, "swap",
				   "built %d indexes and constraints and carried %d grants and settings over in %lld ms; renamed the new table into place in %lld ms",
				   built, carried, (long long)(t1 - t0), (long long)(now_ms() - t1));
	}
	PQclear(idx);
	PQclear(carry);
	return ok;
}

struct target_load *pg_load_open(struct target *tgt, const struct load_table *t,
					const struct load_hooks *h, enum load_way way, bool part,
					bool stream_sum)
{
	load_t *x = xcalloc(1, sizeof(*x));
	x->t = t;
	x->h = h;
	x->dst = pg_target_conn(tgt);
	x->how = way;
	x->part = part;
	x->stream_sum = stream_sum;
	x->columns = t->copy->columns;
	x->binary = t->copy->binary;
	x->relkind = t->copy->relkind;
	x->dst_rel = db_qualified(x->dst, t->dst.schema, t->dst.name);
	x->table_rel = xstrdup(x->dst_rel);
	x->copy_columns = xstrdup(x->columns);
	x->window_sql = window_condition(x->dst, t->copy);
	str_copy(x->before_rows, sizeof(x->before_rows), "0");
	return x;
}

void pg_load_close(load_t *x)
{
	if (!x)
		return;
	free(x->dst_rel);
	free(x->table_rel);
	free(x->copy_columns);
	free(x->window_sql);
	swap_release(x->swap);
	json_decref(x->stage_cols);
	json_decref(x->qkey);
	free(x);
}

/* Connected and outside any transaction. */
bool pg_target_idle(struct target *t)
{
	PGconn *c = pg_target_conn(t);
	return c && PQstatus(c) == CONNECTION_OK && PQtransactionStatus(c) == PQTRANS_IDLE;
}

bool pg_target_lost(struct target *t)
{
	return PQstatus(pg_target_conn(t)) == CONNECTION_BAD;
}

bool pg_step(struct target *tgt, const char *sql, bool *gone, struct err *e)
{
	PGconn *dst = pg_target_conn(tgt);
	/* index builds sort in memory up to maintenance_work_mem: raise a small one, never lower it */
	struct err me;
	err_clear(&me);
	if (!side_exec(dst, "target", sql_target_step_memory, 0, NULL, NULL, &me) &&
	    PQstatus(dst) == CONNECTION_BAD) {
		*gone = true;
		*e = me;
		return false;
	}
	/* the simple protocol: an after step may be several statements (one implicit transaction) */
	PGresult *res = PQexec(dst, sql);
	ExecStatusType st = PQresultStatus(res);
	bool ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
	if (!ok)
		side_error(dst, res, "target", e);
	PQclear(res);
	return ok;
}


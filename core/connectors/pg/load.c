/* core/connectors/pg/load.c: PostgreSQL as a target: load one table (prepare it, stream the rows in, validate, commit) and run post-load steps */
#include "pgtarget.h"

#include <pthread.h>
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
#include "source.h"
#include "util.h"
#include "banned.h"

#define PROGRESS_EVERY_MS 250
/* the most COPY data gathered into one message to the target */
#define COPY_CHUNK (64 * 1024)

/* How a table's rows reach the target (see pick_strategy). */
enum strategy {
	S_TRUNCATE, /* empty the table, then copy (replace, drop, a table this run created) */
	S_APPEND,   /* copy after the rows already there (append, fail) */
	S_WINDOW,   /* delete the cursor window's rows, then copy (incremental without a key) */
	S_MERGE,    /* copy into a staging table, then merge by key (upsert, incremental with a key) */
	S_SWAP,     /* copy into a shadow table, index it, rename it into place (swap) */
};

#define STAGE "ferry_stage"
#define DELETED_COLUMN "_ferry_deleted"

struct load_ctx {
	const struct load_table *t;
	const struct load_hooks *h;
	struct source *src; /* owned */
	struct target *tgt; /* owned */
	PGconn *dst; /* tgt's connection */
	struct source_read rd; /* what the source reads */
	char *dst_rel; /* owned, quoted: where COPY writes (the table, its staging or shadow table) */
	char *table_rel; /* owned, quoted: the target table itself */
	const char *select; /* borrowed from the copy description */
	const char *columns;
	char *copy_columns; /* owned: the COPY column list (columns, and the delete flag) */
	bool binary;
	bool emptied;
	char relkind;
	enum strategy how;
	char *window_sql; /* owned or NULL: the cursor window as a condition on the target */
	char before_rows[32]; /* append mode: what the target held before, for validation */
	char before_sum[64];
	bool stream_sum;      /* the checksum is the rows' hashes (rowhash.h) summed on both sides by ferry */
	struct swap *swap;    /* owned: swap mode's shadow table */
	bool kept;            /* the load committed: its connections may serve the next table */
	bool reused[2];       /* [SOURCE], [TARGET]: the connection served an earlier table */
	int streams;          /* parts copied at once into the empty table (see split_wanted), or 1 */
	char *part;           /* owned or NULL: the condition selecting this connection pair's part */
	bool parts_committed; /* the other parts committed: a failure must empty the table */
	long long parts_rows; /* with stream_sum: the rows and hash sum the other parts' reads summed */
	unsigned long long parts_sum;
	bool started;         /* both COPYs are under way */
	bool commit_in_copy;  /* nothing runs between the COPYs' end and the commits: each side's
				 message ends with its COMMIT (see direct_start) */
};

/* Set e from a failed result on one side, prefixing the side's name. */
static bool side_error(PGconn *c, PGresult *res, const char *side, struct err *e)
{
	return db_side_error(c, res, side, e);
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

enum { SOURCE, TARGET };
static const char *const side_names[] = {"source", "target"};

/*
 * A connection to one side: the session's when it has one to the same
 * database, a new one otherwise (*reused tells which). The session lets go
 * of it until give_back. A kept connection is not asked whether it still
 * answers: the first statement on it tells (again), which saves a round trip.
 */
static struct target *take_target(const struct load_table *t, bool *reused, struct err *e)
{
	struct load_session *s = t->session;
	*reused = false;
	if (s && s->dst) {
		struct target *c = s->dst;
		PGconn *pc = pg_target_conn(c);
		bool same = json_equal(s->key[TARGET], t->job->target.obj);
		s->dst = NULL;
		if (same && pc && PQstatus(pc) == CONNECTION_OK && PQtransactionStatus(pc) == PQTRANS_IDLE) {
			*reused = true;
			return c;
		}
		target_close(c);
	}
	return pg_target_ops.open(t->job, e);
}

static struct source *take_source(const struct load_table *t, bool *reused, struct err *e)
{
	struct load_session *s = t->session;
	*reused = false;
	if (s && s->src) {
		struct source *c = s->src;
		bool same = json_equal(s->key[SOURCE], t->job->source.obj);
		s->src = NULL;
		if (same && c->ops->idle(c)) {
			*reused = true;
			return c;
		}
		source_close(c);
	}
	return source_open(t->job, e);
}

static void hook_connections(struct load_ctx *x)
{
	if (x->h->connections)
		x->h->connections(x->h->arg, x->src, x->tgt);
}

/*
 * The first statement on a kept connection failed because the connection
 * is gone (the server restarted, or closed it): nothing ran, so connect
 * again and let the caller try once more. False (e set) otherwise.
 */
static bool reconnect(struct load_ctx *x, int side, struct err *e)
{
	bool lost = side == SOURCE ? x->src->ops->lost(x->src) : PQstatus(x->dst) == CONNECTION_BAD;
	if (!x->reused[side] || !lost)
		return false;
	x->reused[side] = false;
	log_info("run %s table %s: the %s connection kept from the table before was closed; connecting again",
		 x->t->run_id, x->t->dst_label, side_names[side]);
	struct err ce;
	err_clear(&ce);
	bool ok;
	if (side == SOURCE) {
		source_close(x->src);
		x->src = source_open(x->t->job, &ce);
		ok = x->src != NULL;
	} else {
		target_close(x->tgt);
		x->tgt = pg_target_ops.open(x->t->job, &ce);
		x->dst = pg_target_conn(x->tgt);
		ok = x->tgt != NULL;
	}
	hook_connections(x);
	if (!ok) {
		*e = ce;
		return false;
	}
	err_clear(e);
	return true;
}

/* Keep an idle connection in the session for the next table, or close it. */
static void give_back_target(const struct load_table *t, struct target *c)
{
	struct load_session *s = t->session;
	if (!c)
		return;
	PGconn *pc = pg_target_conn(c);
	if (!s || PQstatus(pc) != CONNECTION_OK || PQtransactionStatus(pc) != PQTRANS_IDLE) {
		target_close(c);
		return;
	}
	target_close(s->dst);
	json_decref(s->key[TARGET]);
	s->dst = c;
	s->key[TARGET] = json_incref(t->job->target.obj);
}

static void give_back_source(const struct load_table *t, struct source *c)
{
	struct load_session *s = t->session;
	if (!c)
		return;
	if (!s || !c->ops->idle(c)) {
		source_close(c);
		return;
	}
	source_close(s->src);
	json_decref(s->key[SOURCE]);
	s->src = c;
	s->key[SOURCE] = json_incref(t->job->source.obj);
}

/* The last result of what was sent on one side; false with e set when any failed. */
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

/* Read the answer to the source's begin, connecting again once when a kept connection was closed. */
static bool source_begun(struct load_ctx *x, bool sent, struct err *e)
{
	if (sent && x->src->ops->begun(x->src, false, e))
		return true;
	if (!sent)
		err_set(e, 500, "copy_failed", NULL, "source: the connection is closed");
	return reconnect(x, SOURCE, e) && x->src->ops->begin(x->src, x->t->snapshot, NULL) &&
	       x->src->ops->begun(x->src, false, e);
}

static bool prepare_target(struct load_ctx *x, struct err *e);

/*
 * Open both sides' transactions: the source's in the run's snapshot and the
 * target's with the table prepared for its load mode, the two at once.
 */
static bool begin_load(struct load_ctx *x, struct err *e)
{
	bool sent = x->src->ops->begin(x->src, x->t->snapshot, NULL);
	bool ok = prepare_target(x, e) || (reconnect(x, TARGET, e) && prepare_target(x, e));
	struct err se;
	err_clear(&se);
	/* always read the source's answer, so that the connection stays usable */
	bool src_ok = source_begun(x, sent, &se);
	if (ok && !src_ok)
		*e = se;
	return ok && src_ok;
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
	if (x->window_sql)
		return xasprintf("SELECT %s FROM %s WHERE %s", x->columns, x->dst_rel, x->window_sql);
	return xasprintf("SELECT %s FROM %s", x->columns, x->dst_rel);
}

/* The table's load mode: its copy description's, else (older plans) load.mode. */
static const char *copy_mode(const struct load_table *t)
{
	return t->copy->mode ? t->copy->mode : t->job->load.mode;
}

static enum strategy pick_strategy(const struct load_table *t)
{
	const char *mode = copy_mode(t);
	bool created = t->copy->created;
	bool whole = !t->copy->window || (!t->copy->window_from && !t->copy->window_to);
	if (t->copy->key)
		return S_MERGE;
	if (!strcmp(mode, "swap"))
		return created ? S_TRUNCATE : S_SWAP;
	if (!strcmp(mode, "incremental"))
		return whole ? S_TRUNCATE : S_WINDOW;
	if (created || !strcmp(mode, "replace") || !strcmp(mode, "drop"))
		return S_TRUNCATE;
	return S_APPEND;
}

/* The cursor window as a condition on the target, or NULL for a whole table. */
static char *window_condition(PGconn *c, const struct copy_desc *d)
{
	return d->window ? db_range_condition(c, d->window_column, d->window_from, d->window_to) : NULL;
}

/* Delete the target's rows in the cursor window (they are loaded again from the source). */
static bool delete_window(struct load_ctx *x, struct err *e)
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

static bool prepare_merge(struct load_ctx *x, struct err *e);
static bool prepare_swap(struct load_ctx *x, struct err *e);

/* Whether the target table holds any row, in *has_rows; false with e filled on failure. */
static bool target_has_rows(struct load_ctx *x, bool *has_rows, struct err *e)
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
static bool prepare_parts(struct load_ctx *x, struct err *e)
{
	bool has_rows;
	if (!target_has_rows(x, &has_rows, e))
		return false;
	if (!has_rows)
		return true;
	x->streams = 1;
	char *sql = xasprintf("TRUNCATE %s", x->dst_rel);
	x->emptied = side_exec(x->dst, "target", sql, 0, NULL, NULL, e);
	free(sql);
	return x->emptied;
}

/*
 * The target's rows (in the cursor window) read back with COPY and hashed
 * as the source connector hashed them while streaming: their count and sum.
 */
static bool target_hash(struct load_ctx *x, long long *rows, unsigned long long *sum,
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

/* Bring the target table into the state its load mode asks for, inside the open transaction. */
static bool prepare_target(struct load_ctx *x, struct err *e)
{
	if (!side_exec(x->dst, "target", "BEGIN", 0, NULL, NULL, e))
		return false;
	switch (x->how) {
	case S_TRUNCATE:
		/* a table emptied in one go starts in direct_start: this one loads in parts */
		return prepare_parts(x, e);
	case S_WINDOW:
		return delete_window(x, e);
	case S_MERGE:
		return prepare_merge(x, e);
	case S_SWAP:
		return prepare_swap(x, e);
	case S_APPEND:
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

/* Drain what is left of a failed COPY on the target so its error can be read. */
static void abort_copy_in(PGconn *dst, const char *why)
{
	PQputCopyEnd(dst, why);
	PGresult *res;
	while ((res = PQgetResult(dst)))
		PQclear(res);
}

/* The target's COPY statement (new string); FREEZE once the table was emptied in this transaction. */
static char *copy_in_sql(const struct load_ctx *x)
{
	return xasprintf("COPY %s (%s) FROM STDIN (FORMAT %s%s)", x->dst_rel, x->copy_columns,
			 x->binary ? "binary" : "text", x->emptied && x->relkind == 'r' ? ", FREEZE" : "");
}

static bool start_copies(struct load_ctx *x, struct err *e)
{
	char *dst_sql = copy_in_sql(x);
	/* both sides start at once: the source's answer is read once the target's is in */
	bool sent = x->src->ops->stream(x->src, &x->rd);
	PGresult *res = PQexec(x->dst, dst_sql);
	bool in = PQresultStatus(res) == PGRES_COPY_IN;
	if (!in)
		side_error(x->dst, res, "target", e);
	PQclear(res);
	struct err se;
	err_clear(&se);
	bool out = sent ? x->src->ops->begun(x->src, true, &se)
			: err_set(&se, 500, "copy_failed", NULL, "source: the connection is closed");
	if (in && !out)
		*e = se;
	if (in && !out)
		abort_copy_in(x->dst, "source failed");
	free(dst_sql);
	x->started = in && out;
	return in && out;
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
 * Start a load that empties the table, in one message a side: "BEGIN;
 * TRUNCATE; COPY … FROM STDIN (FREEZE)" on the target and the snapshot's
 * transaction with its COPY on the source, both at once. With
 * commit_in_copy each message ends with "COMMIT", which the server runs as
 * soon as the COPY ends well (and skips when it fails): the commit costs no
 * round trip of its own. A kept connection that turns out closed is
 * replaced and sent its message again.
 */
static bool direct_start(struct load_ctx *x, struct err *e)
{
	x->emptied = true;
	const char *end = x->commit_in_copy ? "; COMMIT" : "";
	char *in_sql = copy_in_sql(x);
	char *dst_sql = xasprintf("BEGIN; TRUNCATE %s; %s%s", x->dst_rel, in_sql, end);
	x->rd.last = x->commit_in_copy;
	bool sent = x->src->ops->begin(x->src, x->t->snapshot, &x->rd);
	bool in = PQsendQuery(x->dst, dst_sql) && copy_started(x->dst, PGRES_COPY_IN, "target", e);
	if (!in && reconnect(x, TARGET, e))
		in = PQsendQuery(x->dst, dst_sql) && copy_started(x->dst, PGRES_COPY_IN, "target", e);
	struct err se;
	err_clear(&se);
	/* always read the source's answer, so that what it says is known */
	bool out = sent ? x->src->ops->begun(x->src, true, &se)
			: err_set(&se, 500, "copy_failed", NULL, "source: the connection is closed");
	if (!out && reconnect(x, SOURCE, &se))
		out = x->src->ops->begin(x->src, x->t->snapshot, &x->rd) &&
		      x->src->ops->begun(x->src, true, &se);
	if (in && !out) {
		*e = se;
		abort_copy_in(x->dst, "source failed");
	}
	/* when only the source started, its connection streams on: it is closed, never kept */
	free(in_sql);
	free(dst_sql);
	x->emptied = in;
	x->started = in && out;
	return in && out;
}

/*
 * Hand len bytes of COPY data to the target; false with e filled when the
 * target rejected them (its error is the pending result).
 */
static bool put_copy(struct load_ctx *x, const char *data, size_t len, struct err *e)
{
	if (PQputCopyData(x->dst, data, (int)len) == 1)
		return true;
	PGresult *res = PQgetResult(x->dst);
	side_error(x->dst, res, "target", e);
	PQclear(res);
	return false;
}

/*
 * Stream rows from the source COPY into the target COPY. The source sends a
 * message a row; rows are gathered into messages of up to COPY_CHUNK bytes
 * for the target (COPY data need not break at rows), so the target server
 * handles one protocol message and libpq one send for many rows.
 */
static bool stream(struct load_ctx *x, struct load_result *r, struct err *e)
{
	if (!x->started && !start_copies(x, e))
		return false;
	long long msgs = 0, bytes = 0;
	int64_t last = now_ms();
	const char *buf = NULL;
	char *chunk = xmalloc(COPY_CHUNK);
	size_t fill = 0;
	int n;
	PGresult *res;
	bool ok = true;
	struct err se;
	err_clear(&se);
	long long reads = 0;
	int nrows = 0;
	while (ok && (n = x->src->ops->read(x->src, &buf, &nrows, &se)) > 0) {
		bool big = (size_t)n > COPY_CHUNK / 2; /* goes on its own, after what is gathered */
		if (fill && (big || fill + (size_t)n > COPY_CHUNK)) {
			ok = put_copy(x, chunk, fill, e);
			fill = 0;
		}
		if (ok && big) {
			ok = put_copy(x, buf, (size_t)n, e);
		} else if (ok) {
			memcpy(chunk + fill, buf, (size_t)n);
			fill += (size_t)n;
		}
		msgs += nrows;
		bytes += n;
		/* a message a row (PostgreSQL) is looked at every 256; a chunk of rows each time */
		if (ok && (nrows > 1 || (++reads & 255) == 0) && now_ms() - last >= PROGRESS_EVERY_MS) {
			last = now_ms();
			/* notice an error the target sent mid-copy without waiting for the end */
			PQconsumeInput(x->dst);
			if (x->h->progress && !x->h->progress(x->h->arg, msgs, bytes)) {
				abort_copy_in(x->dst, "load stopped");
				free(chunk);
				return err_set(e, 499, "cancelled", NULL, "cancelled");
			}
		}
	}
	if (ok && fill)
		ok = put_copy(x, chunk, fill, e);
	free(chunk);
	if (!ok)
		return false;
	r->bytes = bytes;
	if (n < 0 || !x->src->ops->read_end(x->src, &se)) {
		*e = se;
		abort_copy_in(x->dst, "source failed");
		return false;
	}
	char *note = x->src->ops->read_note ? x->src->ops->read_note(x->src) : NULL;
	if (note && x->h->step)
		x->h->step(x->h->arg, "values", "%s", note);
	free(note);
	if (PQputCopyEnd(x->dst, NULL) != 1)
		return side_error(x->dst, NULL, "target", e);
	res = PQgetResult(x->dst);
	ok = PQresultStatus(res) == PGRES_COMMAND_OK;
	if (ok)
		r->rows = atoll(PQcmdTuples(res));
	else
		side_error(x->dst, res, "target", e);
	PQclear(res);
	if (ok && x->commit_in_copy) {
		/* the COMMIT that ended the message; the source's ended its own */
		return side_collect(x->dst, "target", e);
	}
	while ((res = PQgetResult(x->dst)))
		PQclear(res);
	return ok;
}

/*
 * Split loads. A big table that this run created, and that is still empty,
 * is copied by several connection pairs at once, each reading its own range
 * of the source's pages (ctid ranges, in the run's snapshot) and appending
 * to the table in its own target transaction. Part 0 runs on the load's own
 * connections, the others on threads of their own. The other parts commit
 * once every part has streamed all its rows; part 0 commits last, with the
 * load's sequences and validation. Should anything fail after the others
 * committed, the table is emptied again, so that it never holds a part of
 * its rows; a later attempt loads it in one go.
 */

/* What the parts of one split load share. */
struct split {
	pthread_mutex_t lock;
	bool stop;             /* a part failed or the load was stopped: every part ends */
	bool stopped;          /* the load's own hook stopped it */
	long long rows, bytes; /* streamed so far by the parts on threads */
	const struct load_hooks *outer; /* the load's own hooks */
};

/* One part on a thread of its own. */
struct part {
	struct split *sp;
	struct load_ctx x; /* its own connections and range; the rest borrowed from the load's */
	struct load_hooks hooks;
	struct load_result r;
	long long seen_rows, seen_bytes; /* what it reported last */
	bool ok;
	struct err e;
	pthread_t thread;
};

/* A part's progress: add it to the split's and go on unless the split stops. */
static bool part_progress(void *arg, long long rows, long long bytes)
{
	struct part *pt = arg;
	pthread_mutex_lock(&pt->sp->lock);
	pt->sp->rows += rows - pt->seen_rows;
	pt->sp->bytes += bytes - pt->seen_bytes;
	bool go = !pt->sp->stop;
	pthread_mutex_unlock(&pt->sp->lock);
	pt->seen_rows = rows;
	pt->seen_bytes = bytes;
	return go;
}

/* Part 0's progress: the load's hook sees the sum of the parts. */
static bool first_part_progress(void *arg, long long rows, long long bytes)
{
	struct split *sp = arg;
	pthread_mutex_lock(&sp->lock);
	bool go = !sp->stop;
	long long all_rows = rows + sp->rows, all_bytes = bytes + sp->bytes;
	pthread_mutex_unlock(&sp->lock);
	if (go && sp->outer->progress && !sp->outer->progress(sp->outer->arg, all_rows, all_bytes)) {
		pthread_mutex_lock(&sp->lock);
		sp->stopped = true;
		pthread_mutex_unlock(&sp->lock);
		go = false;
	}
	return go;
}

static void split_stop(struct split *sp)
{
	pthread_mutex_lock(&sp->lock);
	sp->stop = true;
	pthread_mutex_unlock(&sp->lock);
}

/* A part on its thread: connect, open both transactions, stream its range. */
static void *part_main(void *arg)
{
	struct part *pt = arg;
	struct load_ctx *x = &pt->x;
	x->src = source_open(x->t->job, &pt->e);
	x->tgt = x->src ? pg_target_ops.open(x->t->job, &pt->e) : NULL;
	x->dst = pg_target_conn(x->tgt);
	pt->ok = x->dst && x->src->ops->begin(x->src, x->t->snapshot, NULL) &&
		 x->src->ops->begun(x->src, false, &pt->e) &&
		 side_exec(x->dst, "target", "BEGIN", 0, NULL, NULL, &pt->e) && stream(x, &pt->r, &pt->e);
	if (x->src && !pt->ok && !pt->e.msg[0])
		err_set(&pt->e, 500, "copy_failed", NULL, "source: the connection is closed");
	if (!pt->ok)
		split_stop(pt->sp);
	return NULL;
}

/*
 * Commit (or, when !ok, roll back) each part on a thread; false with e
 * filled when a commit fails. *committed tells whether any part committed.
 */
static bool parts_end(struct part *parts, int n, bool ok, bool *committed, struct err *e)
{
	*committed = false;
	for (int i = 0; i < n; i++) {
		struct load_ctx *px = &parts[i].x;
		if (ok && !side_exec(px->dst, "target", "COMMIT", 0, NULL, NULL, e))
			ok = false;
		else if (ok)
			*committed = true;
		source_close(px->src);
		target_close(px->tgt);
		free(px->part);
	}
	return ok;
}

/*
 * Stream the table's rows in x->streams parts at once: part 0 here, the
 * others on threads, which commit when every part has streamed. r gets the
 * sums.
 */
static bool split_stream(struct load_ctx *x, struct load_result *r, struct err *e)
{
	char **conds = xcalloc((size_t)x->streams, sizeof(*conds));
	int n = x->src->ops->split(x->src, x->t->copy->split_relation, x->streams, conds, e);
	if (n < 1) {
		free(conds);
		return false;
	}
	if (n == 1) { /* the source reads it whole after all */
		free(conds[0]);
		free(conds);
		x->streams = 1;
		return stream(x, r, e);
	}
	int others = n - 1;
	struct split sp = {.outer = x->h};
	pthread_mutex_init(&sp.lock, NULL);
	struct part *parts = xcalloc((size_t)others, sizeof(*parts));
	int started = 0;
	for (int i = 0; i < others; i++) {
		struct part *pt = &parts[i];
		pt->sp = &sp;
		pt->x = *x;
		pt->x.src = NULL;
		pt->x.tgt = NULL;
		pt->x.dst = NULL;
		pt->x.part = conds[i + 1];
		conds[i + 1] = NULL;
		pt->x.rd.part = pt->x.part;
		pt->x.emptied = false;
		pt->hooks = (struct load_hooks){NULL, part_progress, NULL, pt};
		pt->x.h = &pt->hooks;
		err_clear(&pt->e);
		if (pthread_create(&pt->thread, NULL, part_main, pt) != 0) {
			free(pt->x.part);
			pt->x.part = NULL;
			break;
		}
		started++;
	}
	struct load_hooks first = {NULL, first_part_progress, NULL, &sp};
	const struct load_hooks *own = x->h;
	x->h = &first;
	x->part = conds[0];
	conds[0] = NULL;
	x->rd.part = x->part;
	for (int i = 0; i < n; i++)
		free(conds[i]);
	free(conds);
	bool ok = started == others;
	if (!ok)
		err_set(e, 500, "internal", NULL, "could not start a thread for a part of the table");
	ok = ok && stream(x, r, e);
	x->h = own;
	pthread_mutex_lock(&sp.lock);
	/* part 0 ended because another part failed: that part's error tells what happened */
	bool others_first = !ok && sp.stop && !sp.stopped;
	sp.stop = sp.stop || !ok;
	pthread_mutex_unlock(&sp.lock);
	for (int i = 0; i < started; i++) {
		pthread_join(parts[i].thread, NULL);
		if ((ok || others_first) && !parts[i].ok) {
			*e = parts[i].e;
			ok = others_first = false;
		}
		r->rows += parts[i].r.rows;
		r->bytes += parts[i].r.bytes;
		if (x->stream_sum && parts[i].ok) {
			long long rows = 0;
			unsigned long long sum = 0;
			parts[i].x.src->ops->checksum(parts[i].x.src, &rows, &sum);
			x->parts_rows += rows;
			x->parts_sum += sum;
		}
	}
	ok = parts_end(parts, started, ok, &x->parts_committed, e);
	free(parts);
	pthread_mutex_destroy(&sp.lock);
	return ok;
}

/*
 * Whether the table is loaded in parts: the plan marked it big enough, this
 * run created it, this is the task's first attempt (a later one empties the
 * table and loads it in one go), and the rows go straight into it.
 */
static int split_wanted(const struct load_table *t, enum strategy how)
{
	int n = t->copy->split_streams;
	/* a cursor window or a load marker keep the load in one transaction */
	bool whole = !t->copy->window && !t->copy->mark;
	if (!t->copy->split || n < 2 || t->attempt != 1 || how != S_TRUNCATE || !whole ||
	    !t->copy->created)
		return 1;
	return n;
}

/*
 * Set each sequence of the table on the target to the source's current value:
 * those its columns own, found by table and column, and those its defaults
 * call, by name.
 */
static bool carry_sequences(struct load_ctx *x, struct err *e)
{
	size_t i;
	for (i = 0; i < (size_t)x->t->copy->nseqs; i++) {
		const struct copy_seq *s = &x->t->copy->seqs[i];
		char *sql = xasprintf("SELECT last_value, is_called FROM %s", s->source);
		char *v[2] = {NULL, NULL};
		bool ok = x->src->ops->query(x->src, sql) && x->src->ops->row(x->src, v, 2, e);
		free(sql);
		if (!ok)
			return false;
		const char *table = s->table;
		const char *target = s->target;
		const char *p[] = {table ? table : x->dst_rel, s->column, v[0], v[1]};
		const char *pn[] = {target, v[0], v[1]};
		ok = target ? side_exec(x->dst, "target", sql_target_sequence_setval, 3, pn, NULL, e)
			    : side_exec(x->dst, "target", sql_target_sequence_set, 4, p, NULL, e);
		free(v[0]);
		free(v[1]);
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

static bool validation_outcome(struct load_ctx *x, struct load_result *r, long long src_rows,
			       long long dst_rows, bool same_sum, int64_t t0, struct err *e)
{
	const char *vmode = x->t->job->load.validate;
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

/*
 * Validate a checksum the source's database cannot compute as the target's
 * does: the source connector summed the rows' hashes as they streamed; the
 * target's rows are read back and hashed alike (see rowhash.h).
 */
static bool validate_stream(struct load_ctx *x, struct load_result *r, struct err *e)
{
	int64_t t0 = now_ms();
	long long src_rows = 0, dst_rows = 0;
	unsigned long long src_sum = 0, dst_sum = 0;
	x->src->ops->checksum(x->src, &src_rows, &src_sum);
	src_rows += x->parts_rows;
	src_sum += x->parts_sum;
	if (!target_hash(x, &dst_rows, &dst_sum, e))
		return false;
	dst_rows -= atoll(x->before_rows);
	dst_sum -= strtoull(x->before_sum[0] ? x->before_sum : "0", NULL, 10);
	return validation_outcome(x, r, src_rows, dst_rows, src_sum == dst_sum, t0, e);
}

/* Validate: the same count (and hash) on both sides, computed by both databases at once. */
static bool validate(struct load_ctx *x, struct load_result *r, struct err *e)
{
	const char *vmode = x->t->job->load.validate;
	bool checksum = !strcmp(vmode, "checksum");
	if (x->stream_sum)
		return validate_stream(x, r, e);
	char *rows = target_rows_sql(x);
	char *sq = x->src->ops->validation_sql(x->src, checksum, x->select);
	char *dq = validation_sql(checksum, rows);
	int64_t t0 = now_ms();
	bool sent = x->src->ops->query(x->src, sq);
	bool dsent = PQsendQuery(x->dst, dq);
	free(rows);
	free(sq);
	free(dq);
	char *sv[2] = {NULL, NULL};
	struct err se;
	err_clear(&se);
	/* both answers are read, so that both connections stay usable */
	bool src_ok = sent ? x->src->ops->row(x->src, sv, 2, &se)
			   : err_set(&se, 500, "copy_failed", NULL, "source: the connection is closed");
	PGresult *rd = dsent ? collect(x->dst, "target", e) : NULL;
	if (!dsent)
		side_error(x->dst, NULL, "target", e);
	if (!src_ok || !rd) {
		if (!src_ok)
			*e = se;
		free(sv[0]);
		free(sv[1]);
		PQclear(rd);
		return false;
	}
	long long src_rows = atoll(sv[0] ? sv[0] : "0");
	long long dst_rows = atoll(PQgetvalue(rd, 0, 0)) - atoll(x->before_rows);
	const char *p[] = {PQgetvalue(rd, 0, 1), *x->before_sum ? x->before_sum : "0",
			   sv[1] ? sv[1] : "0"};
	PGresult *cmp = NULL;
	bool same_sum = side_exec(x->dst, "target", "SELECT $1::numeric - $2::numeric = $3::numeric",
				  3, p, &cmp, e) && PQgetvalue(cmp, 0, 0)[0] == 't';
	PQclear(cmp);
	free(sv[0]);
	free(sv[1]);
	PQclear(rd);
	return validation_outcome(x, r, src_rows, dst_rows, same_sum, t0, e);
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

/* ---- merge by key: upsert, and incremental with a key */

/* The loaded columns, read back from the staging table (quoted names, new array). */
static json_t *stage_columns(struct load_ctx *x, struct err *e)
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

static bool prepare_merge(struct load_ctx *x, struct err *e)
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
static json_t *quoted_key(struct load_ctx *x)
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
 * Validate a merge: the source holds as many rows as were staged, every
 * staged row is on the target exactly as staged, and no flagged row is.
 */
static bool validate_merge(struct load_ctx *x, struct load_result *r, json_t *cols, json_t *qkey,
			   struct err *e)
{
	bool flag = x->t->copy->delete_flag;
	struct sb on, tc, sc, sql;
	sb_init(&on);
	sb_init(&tc);
	sb_init(&sc);
	sb_init(&sql);
	key_match(qkey, &on);
	size_t i;
	json_t *c;
	json_array_foreach(cols, i, c) {
		sb_addf(&tc, "%st.%s", i ? ", " : "", json_string_value(c));
		sb_addf(&sc, "%ss.%s", i ? ", " : "", json_string_value(c));
	}
	const char *del = flag ? "s.\"" DELETED_COLUMN "\"" : "false";
	sb_addf(&sql,
		"SELECT count(*), count(*) FILTER (WHERE NOT %s AND EXISTS (SELECT 1 FROM %s t WHERE %s AND ROW(%s)::text IS NOT DISTINCT FROM ROW(%s)::text)), "
		"count(*) FILTER (WHERE %s AND NOT EXISTS (SELECT 1 FROM %s t WHERE %s)) FROM pg_temp." STAGE " s",
		del, x->table_rel, on.buf, tc.buf, sc.buf, del, x->table_rel, on.buf);
	char *count = x->src->ops->validation_sql(x->src, false, x->select);
	int64_t t0 = now_ms();
	PGresult *rd = NULL;
	char *sv[2] = {NULL, NULL};
	bool ok = x->src->ops->query(x->src, count) && x->src->ops->row(x->src, sv, 2, e) &&
		  side_exec(x->dst, "target", sql.buf, 0, NULL, &rd, e);
	free(count);
	sb_release(&on);
	sb_release(&tc);
	sb_release(&sc);
	sb_release(&sql);
	long long src_rows = atoll(sv[0] ? sv[0] : "0");
	free(sv[0]);
	free(sv[1]);
	if (!ok) {
		PQclear(rd);
		return false;
	}
	long long staged = atoll(PQgetvalue(rd, 0, 0));
	long long dst_rows = atoll(PQgetvalue(rd, 0, 1)) + atoll(PQgetvalue(rd, 0, 2));
	PQclear(rd);
	bool passed = src_rows == staged && dst_rows == staged;
	json_decref(r->validation);
	r->validation = json_pack("{s:s,s:I,s:I}", "state", passed ? "passed" : "failed",
				  "source_rows", (json_int_t)src_rows, "target_rows", (json_int_t)dst_rows);
	if (x->h->step)
		x->h->step(x->h->arg, "validation",
			   "merge validation %s in %lld ms: %lld source rows, %lld of them on the target as read",
			   passed ? "passed" : "failed", (long long)(now_ms() - t0), src_rows, dst_rows);
	if (!passed)
		return err_set(e, 500, "validation_failed", NULL,
			       "validation failed: %lld source rows, %lld staged, %lld found on the target as read (or gone, when flagged deleted)",
			       src_rows, staged, dst_rows);
	return true;
}

/* Merge the staged rows into the table in the open transaction; validate it when `checked`. */
static bool merge(struct load_ctx *x, struct load_result *r, bool checked, struct err *e)
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
			   r->rows, keys.buf, (long long)(now_ms() - t0), merged,
			   unique ? "inserted or updated" : "inserted", deleted,
			   unique ? "deleted by the delete flag" : "deleted first (no unique index on the key)");
	ok = ok && (!checked || validate_merge(x, r, cols, qkey, e));
	sb_release(&on);
	sb_release(&keys);
	sb_release(&set);
	sb_release(&sql);
	json_decref(qkey);
	json_decref(cols);
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

static bool prepare_swap(struct load_ctx *x, struct err *e)
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
static bool run_rows(struct load_ctx *x, PGresult *res, const char *kind, int col, int *n,
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
static bool finish_swap(struct load_ctx *x, struct err *e)
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

/* The new high-water mark of an incremental table, read in the load's snapshot (NULL: no rows). */
static bool read_mark(struct load_ctx *x, struct load_result *r, struct err *e)
{
	const char *sql = x->t->copy->mark_sql;
	if (!sql || !x->t->copy->track)
		return true;
	char *v = NULL;
	if (!x->src->ops->query(x->src, sql) || !x->src->ops->row(x->src, &v, 1, e))
		return false;
	if (v && *v)
		r->mark = v;
	else
		free(v);
	return true;
}

/*
 * A split load failed after its other parts committed: roll back part 0
 * and empty the table (this run created it), so that no part of its rows
 * stays behind. A failure here is logged; the next attempt empties it too.
 */
static void empty_again(struct load_ctx *x)
{
	PGresult *res = PQexec(x->dst, "ROLLBACK");
	PQclear(res);
	char *sql = xasprintf("TRUNCATE %s", x->dst_rel);
	struct err e;
	err_clear(&e);
	if (!side_exec(x->dst, "target", sql, 0, NULL, NULL, &e))
		log_warn("run %s table %s: could not empty the table after its load failed: %s",
			 x->t->run_id, x->t->dst_label, e.msg);
	free(sql);
}

static void ctx_release(struct load_ctx *x)
{
	if (x->h->connections)
		x->h->connections(x->h->arg, NULL, NULL);
	if (x->kept) {
		give_back_source(x->t, x->src);
		give_back_target(x->t, x->tgt);
	} else { /* after a failure a side may be in the middle of something: never keep it */
		source_close(x->src);
		target_close(x->tgt);
	}
	free(x->dst_rel);
	free(x->table_rel);
	free(x->copy_columns);
	free(x->window_sql);
	free(x->part);
	swap_release(x->swap);
}

bool pg_load(const struct load_table *t, const struct load_hooks *h, struct load_result *r,
	     struct err *e)
{
	struct load_ctx x = {.t = t, .h = h};
	bool ok = false;
	r->rows = r->bytes = 0;
	r->mark = NULL;
	r->validation = json_pack("{s:s,s:n,s:n}", "state", "skipped", "source_rows", "target_rows");
	x.select = t->copy->select;
	x.columns = t->copy->columns;
	x.binary = t->copy->binary;
	x.relkind = t->copy->relkind;
	x.rd = (struct source_read){
		.select = x.select,
		.plain = t->copy->plain,
		.binary = x.binary,
		.filtered = t->copy->split_filtered,
		.relation = t->copy->relation,
		.conv = t->copy->conv,
		.job = t->job,
	};

	str_copy(x.before_rows, sizeof(x.before_rows), "0");
	if (!(x.src = take_source(t, &x.reused[SOURCE], e)) ||
	    !(x.tgt = take_target(t, &x.reused[TARGET], e)))
		goto out;
	x.dst = pg_target_conn(x.tgt);
	/* a source that sums its rows' hashes as they stream validates a checksum so */
	x.stream_sum = x.src->ops->checksum && !strcmp(t->job->load.validate, "checksum") &&
		       t->copy->kinds;
	if (x.stream_sum)
		x.rd.kinds = t->copy->kinds;
	hook_connections(&x);
	x.dst_rel = db_qualified(x.dst, t->dst.schema, t->dst.name);
	x.table_rel = xstrdup(x.dst_rel);
	x.copy_columns = xstrdup(x.columns);
	x.how = pick_strategy(t);
	x.streams = split_wanted(t, x.how);
	x.window_sql = window_condition(x.dst, t->copy);
	bool checked = strcmp(t->job->load.validate, "none") != 0;
	/* a table emptied and loaded in one go starts in one message a side */
	bool direct = x.how == S_TRUNCATE && x.streams == 1;
	/*
	 * and when nothing runs between its COPY and the commit, commits in it
	 * too: each test below stands for one of the steps that follow stream()
	 * here (merge and swap are not direct); a new step needs its own test
	 */
	x.commit_in_copy = direct && !checked && !t->copy->nseqs && !t->copy->mark && !t->copy->track;
	if (!(direct ? direct_start(&x, e) : begin_load(&x, e)) ||
	    !(x.streams > 1 ? split_stream(&x, r, e) : stream(&x, r, e)) || !read_mark(&x, r, e))
		goto out;
	if (x.how == S_MERGE && !merge(&x, r, checked, e))
		goto out;
	if (x.how != S_MERGE && checked && !validate(&x, r, e))
		goto out;
	if (x.how == S_SWAP && !finish_swap(&x, e))
		goto out;
	if (!carry_sequences(&x, e))
		goto out;
	if (t->copy->mark && !mark_loaded(&x, r, e))
		goto out;
	if (x.commit_in_copy) { /* the load got here: both sides committed with their COPY */
		x.kept = true;
		ok = true;
		goto out;
	}
	/* the source's read-only transaction ends while the target commits */
	bool src_sent = x.src->ops->end(x.src);
	if (!side_exec(x.dst, "target", "COMMIT", 0, NULL, NULL, e))
		goto out;
	struct err ee;
	err_clear(&ee);
	x.kept = src_sent && x.src->ops->ended(x.src, &ee);
	ok = true;
out:
	if (!ok) {
		free(r->mark);
		r->mark = NULL;
	}
	if (!ok && x.parts_committed)
		empty_again(&x);
	ctx_release(&x);
	return ok;
}

bool pg_step(const struct job *job, const char *sql, const struct load_hooks *h,
	     struct load_session *session, struct err *e)
{
	struct load_table t = {.job = job, .session = session};
	bool reused;
	struct target *tgt = take_target(&t, &reused, e);
	if (!tgt)
		return false;
	PGconn *dst = pg_target_conn(tgt);
	if (h->connections)
		h->connections(h->arg, NULL, tgt);
	/* index builds sort in memory up to maintenance_work_mem: raise a small one, never lower it */
	side_exec(dst, "target", sql_target_step_memory, 0, NULL, NULL, NULL);
	if (reused && PQstatus(dst) == CONNECTION_BAD) {
		/* the kept connection was closed meanwhile: nothing ran, connect again */
		if (h->connections)
			h->connections(h->arg, NULL, NULL);
		target_close(tgt);
		if (!(tgt = pg_target_ops.open(job, e)))
			return false;
		dst = pg_target_conn(tgt);
		if (h->connections)
			h->connections(h->arg, NULL, tgt);
		side_exec(dst, "target", sql_target_step_memory, 0, NULL, NULL, NULL);
	}
	/* the simple protocol: an after step may be several statements (one implicit transaction) */
	PGresult *res = PQexec(dst, sql);
	ExecStatusType st = PQresultStatus(res);
	bool ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
	if (!ok)
		side_error(dst, res, "target", e);
	PQclear(res);
	if (h->connections)
		h->connections(h->arg, NULL, NULL);
	/* a statement that left a transaction open (an after step's BEGIN) closes the connection */
	give_back_target(&t, tgt);
	return ok;
}

/* tests/unit/test_loader.c: the engine's loader driving a fake source and a fake target through their ops (loader.h) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "copydesc.h"
#include "job.h"
#include "loader.h"
#include "sb.h"
#include "source.h"
#include "target.h"
#include "util.h"

#define ROWS 1000

/* ---- a source that streams ROWS rows of text, one a read */

struct fsrc {
	struct source base;
	int next;
	char row[64];
	char *last_query;
	long long count; /* what its validation count answers */
	bool fail_read;  /* the read fails half way */
	int closed;
};

static struct fsrc *FS(struct source *s)
{
	return (struct fsrc *)s;
}

static bool s_idle(struct source *s)
{
	(void)s;
	return true;
}

static bool s_lost(struct source *s)
{
	(void)s;
	return false;
}

static void s_close(struct source *s)
{
	FS(s)->closed++;
}

static bool s_begin(struct source *s, const char *point, const struct source_read *rd)
{
	(void)point;
	(void)rd;
	FS(s)->next = 0;
	return true;
}

static bool s_stream(struct source *s, const struct source_read *rd)
{
	(void)rd;
	FS(s)->next = 0;
	return true;
}

static bool s_begun(struct source *s, bool streaming, struct err *e)
{
	(void)s;
	(void)streaming;
	(void)e;
	return true;
}

static int s_read(struct source *s, const char **buf, int *rows, struct err *e)
{
	struct fsrc *f = FS(s);
	if (f->fail_read && f->next == ROWS / 2)
		return err_set(e, 500, "copy_failed", NULL, "source: the server went away"), -1;
	if (f->next == ROWS)
		return 0;
	int n = snprintf(f->row, sizeof(f->row), "%d\trow %d\n", f->next, f->next);
	f->next++;
	*buf = f->row;
	*rows = 1;
	return n;
}

static bool s_read_end(struct source *s, struct err *e)
{
	(void)s;
	(void)e;
	return true;
}

static char *s_validation_sql(struct source *s, bool checksum, const char *select)
{
	(void)s;
	return xasprintf("%s %s", checksum ? "sum" : "count", select);
}

static bool s_query(struct source *s, const char *sql)
{
	free(FS(s)->last_query);
	FS(s)->last_query = xstrdup(sql);
	return true;
}

/* The count (validation), 41 and true (a sequence), or "99" (a mark). */
static bool s_row(struct source *s, char **vals, int ncols, struct err *e)
{
	(void)e;
	struct fsrc *f = FS(s);
	if (!strncmp(f->last_query, "SELECT last_value", 17)) {
		vals[0] = xstrdup("41");
		vals[1] = xstrdup("t");
	} else if (!strncmp(f->last_query, "count", 5) || !strncmp(f->last_query, "sum", 3)) {
		vals[0] = xasprintf("%lld", f->count);
		if (ncols > 1)
			vals[1] = xstrdup("12345");
	} else {
		vals[0] = xstrdup("99");
	}
	return true;
}

static bool s_end(struct source *s)
{
	(void)s;
	return true;
}

static bool s_ended(struct source *s, struct err *e)
{
	(void)s;
	(void)e;
	return true;
}

static const struct source_ops fsrc_ops = {
	.kind = "fake",
	.close = s_close,
	.idle = s_idle,
	.lost = s_lost,
	.begin = s_begin,
	.stream = s_stream,
	.begun = s_begun,
	.read = s_read,
	.read_end = s_read_end,
	.query = s_query,
	.row = s_row,
	.validation_sql = s_validation_sql,
	.end = s_end,
	.ended = s_ended,
};

/* ---- a target that records the ops the loader calls, in order */

struct ftgt {
	struct target base;
	struct sb log;
	long long bytes, rows; /* taken by rows_write */
	int writes;
	int closed;
};

struct target_load {
	struct ftgt *t;
	enum load_way way;
};

static void note(struct ftgt *t, const char *what)
{
	sb_addf(&t->log, "%s%s", t->log.len ? " " : "", what);
}

static bool t_idle(struct target *t)
{
	(void)t;
	return true;
}

static bool t_lost(struct target *t)
{
	(void)t;
	return false;
}

static void t_close(struct target *t)
{
	((struct ftgt *)t)->closed++;
}

static struct target_load *t_load_open(struct target *t, const struct load_table *lt,
				       const struct load_hooks *h, enum load_way way, bool part,
				       bool stream_sum)
{
	(void)lt;
	(void)h;
	(void)part;
	(void)stream_sum;
	static const char *const ways[] = {"empty", "append", "window", "merge", "swap"};
	struct target_load *l = xcalloc(1, sizeof(*l));
	l->t = (struct ftgt *)t;
	l->way = way;
	char *s = xasprintf("open(%s)", ways[way]);
	note(l->t, s);
	free(s);
	return l;
}

static void t_load_close(struct target_load *l)
{
	free(l);
}

static bool t_prepare(struct target_load *l, int *streams, struct err *e)
{
	(void)streams;
	(void)e;
	note(l->t, "prepare");
	return true;
}

static bool t_rows_begin(struct target_load *l, bool direct, bool commit, struct err *e)
{
	(void)e;
	note(l->t, direct ? (commit ? "begin(direct,commit)" : "begin(direct)") : "begin");
	return true;
}

static bool t_rows_write(struct target_load *l, const char *data, size_t len, struct err *e)
{
	(void)e;
	l->t->writes++;
	l->t->bytes += (long long)len;
	for (size_t i = 0; i < len; i++)
		l->t->rows += data[i] == '\n';
	return true;
}

static void t_rows_poll(struct target_load *l)
{
	(void)l;
}

static void t_rows_abort(struct target_load *l, const char *why)
{
	char *s = xasprintf("abort(%s)", why);
	note(l->t, s);
	free(s);
}

static bool t_rows_end(struct target_load *l, long long *rows, struct err *e)
{
	(void)e;
	note(l->t, "end");
	*rows = l->t->rows;
	return true;
}

static bool t_merge(struct target_load *l, long long rows, struct err *e)
{
	(void)e;
	assert_int_equal(rows, ROWS);
	note(l->t, "merge");
	return true;
}

static bool t_merge_check(struct target_load *l, long long *staged, long long *found,
			  struct err *e)
{
	(void)e;
	note(l->t, "merge_check");
	*staged = *found = l->t->rows;
	return true;
}

static bool t_check_send(struct target_load *l, bool checksum)
{
	note(l->t, checksum ? "check(sum)" : "check");
	return true;
}

static bool t_check_read(struct target_load *l, const char *src_sum, long long *rows,
			 bool *same_sum, struct err *e)
{
	(void)e;
	*rows = l->t->rows;
	*same_sum = !strcmp(src_sum, "12345") || !strcmp(src_sum, "0");
	return true;
}

static bool t_set_sequence(struct target_load *l, const struct copy_seq *s, const char *last_value,
			   const char *is_called, struct err *e)
{
	(void)e;
	char *m = xasprintf("setval(%s,%s,%s)", s->source, last_value, is_called);
	note(l->t, m);
	free(m);
	return true;
}

static bool t_mark_loaded(struct target_load *l, long long rows, struct err *e)
{
	(void)e;
	char *m = xasprintf("mark(%lld)", rows);
	note(l->t, m);
	free(m);
	return true;
}

static bool t_commit(struct target_load *l, struct err *e)
{
	(void)e;
	note(l->t, "commit");
	return true;
}

static void t_rollback(struct target_load *l, bool empty)
{
	note(l->t, empty ? "rollback(empty)" : "rollback");
}

static bool t_step(struct target *t, const char *sql, bool *gone, struct err *e)
{
	(void)gone;
	(void)e;
	note((struct ftgt *)t, sql);
	return true;
}

static const struct target_ops ftgt_ops = {
	.kind = "fake",
	.close = t_close,
	.idle = t_idle,
	.lost = t_lost,
	.load_open = t_load_open,
	.load_close = t_load_close,
	.prepare = t_prepare,
	.rows_begin = t_rows_begin,
	.rows_write = t_rows_write,
	.rows_poll = t_rows_poll,
	.rows_abort = t_rows_abort,
	.rows_end = t_rows_end,
	.merge = t_merge,
	.merge_check = t_merge_check,
	.check_send = t_check_send,
	.check_read = t_check_read,
	.set_sequence = t_set_sequence,
	.mark_loaded = t_mark_loaded,
	.commit = t_commit,
	.rollback = t_rollback,
	.step = t_step,
};

/* ---- one load of table app.t with a job's load settings, both sides fakes kept in a session */

struct fixture {
	json_t *spec;
	struct job *job;
	struct fsrc src;
	struct ftgt dst;
	struct load_session session;
	struct copy_desc copy;
	struct load_table lt;
	struct load_result r;
	struct err e;
};

static void setup(struct fixture *f, const char *load)
{
	memset(f, 0, sizeof(*f));
	char *doc = xasprintf("{\"name\": \"j\", \"source\": {\"dsn\": \"postgresql://h/src\"},"
			      " \"target\": {\"dsn\": \"postgresql://h/dst\"}, \"include\": [\"app.*\"],"
			      " \"load\": %s}",
			      load);
	json_t *in = json_loads(doc, 0, NULL);
	free(doc);
	assert_non_null(in);
	err_clear(&f->e);
	f->spec = job_normalize(in, 2, &f->e);
	json_decref(in);
	if (!f->spec)
		fail_msg("job rejected: %s", f->e.msg);
	f->job = job_parse(f->spec);
	f->src.base.ops = &fsrc_ops;
	f->src.count = ROWS;
	f->dst.base.ops = &ftgt_ops;
	sb_init(&f->dst.log);
	f->session.src = &f->src.base;
	f->session.dst = &f->dst.base;
	f->session.key[0] = json_incref(f->job->source.obj);
	f->session.key[1] = json_incref(f->job->target.obj);
	f->copy.select = "SELECT id, name FROM app.t";
	f->copy.columns = "\"id\", \"name\"";
	f->copy.relkind = 'r';
	f->lt = (struct load_table){.run_id = "r1", .task_id = 7, .dst_label = "app.t",
				    .snapshot = "snap", .job = f->job, .copy = &f->copy,
				    .session = &f->session, .attempt = 1};
	str_copy(f->lt.dst.schema, sizeof(f->lt.dst.schema), "app");
	str_copy(f->lt.dst.name, sizeof(f->lt.dst.name), "t");
	err_clear(&f->e);
}

static bool load(struct fixture *f)
{
	struct load_hooks hooks = {0};
	return target_load(&f->lt, &hooks, &f->r, &f->e);
}

static void teardown(struct fixture *f)
{
	json_decref(f->r.validation);
	free(f->r.mark);
	free(f->src.last_query);
	json_decref(f->session.key[0]);
	json_decref(f->session.key[1]);
	sb_release(&f->dst.log);
	job_free(f->job);
	json_decref(f->spec);
}

static const char *state_of(json_t *v)
{
	return json_string_value(json_object_get(v, "state"));
}

/* replace without validation: one message a side, committed with the rows; rows gathered into few writes */
static void test_replace_direct(void **state)
{
	(void)state;
	struct fixture f;
	setup(&f, "{\"mode\": \"replace\", \"validate\": \"none\"}");
	assert_true(load(&f));
	assert_string_equal(f.dst.log.buf, "open(empty) begin(direct,commit) end");
	assert_int_equal(f.r.rows, ROWS);
	assert_int_equal(f.r.bytes, f.dst.bytes);
	assert_true(f.dst.writes >= 1 && f.dst.writes <= 2); /* ~16 kB of rows, up to 64 kB a write */
	assert_string_equal(state_of(f.r.validation), "skipped");
	/* both connections go back to the session for the next table, neither closed */
	assert_ptr_equal(f.session.src, &f.src.base);
	assert_ptr_equal(f.session.dst, &f.dst.base);
	assert_int_equal(f.src.closed + f.dst.closed, 0);
	teardown(&f);
}

/* append with a count: prepared, streamed, checked by both sides, committed */
static void test_append_validated(void **state)
{
	(void)state;
	struct fixture f;
	setup(&f, "{\"mode\": \"append\", \"validate\": \"count\"}");
	assert_true(load(&f));
	assert_string_equal(f.dst.log.buf, "open(append) prepare begin end check commit");
	assert_string_equal(state_of(f.r.validation), "passed");
	assert_int_equal(json_integer_value(json_object_get(f.r.validation, "source_rows")), ROWS);
	teardown(&f);
}

/* a count that differs fails the table, rolls the target back and keeps neither connection */
static void test_validation_fails(void **state)
{
	(void)state;
	struct fixture f;
	setup(&f, "{\"mode\": \"append\", \"validate\": \"count\"}");
	f.src.count = ROWS - 1;
	assert_false(load(&f));
	assert_string_equal(f.e.code, "validation_failed");
	assert_non_null(strstr(f.e.msg, "the source has 999 rows, the target received 1000"));
	assert_string_equal(f.dst.log.buf, "open(append) prepare begin end check rollback");
	assert_string_equal(state_of(f.r.validation), "failed");
	assert_null(f.session.src);
	assert_null(f.session.dst);
	assert_int_equal(f.src.closed, 1);
	assert_int_equal(f.dst.closed, 1);
	teardown(&f);
}

/* a read that fails mid-stream ends the target's rows with the reason, and the source's error is the table's */
static void test_source_fails(void **state)
{
	(void)state;
	struct fixture f;
	setup(&f, "{\"mode\": \"replace\", \"validate\": \"none\"}");
	f.src.fail_read = true;
	assert_false(load(&f));
	assert_non_null(strstr(f.e.msg, "the server went away"));
	assert_string_equal(f.dst.log.buf, "open(empty) begin(direct,commit) abort(source failed) rollback");
	teardown(&f);
}

/* a key merges the staged rows and validates the merge; sequences and the load record follow */
static void test_merge_sequences_mark(void **state)
{
	(void)state;
	struct fixture f;
	setup(&f, "{\"mode\": \"append\", \"validate\": \"count\"}");
	json_t *key = json_pack("[s]", "id");
	struct copy_seq seq = {.source = "app.t_id_seq", .table = NULL, .column = "id", .target = NULL};
	f.copy.key = key;
	f.copy.seqs = &seq;
	f.copy.nseqs = 1;
	f.copy.mark = true;
	assert_true(load(&f));
	assert_string_equal(f.dst.log.buf, "open(merge) prepare begin end merge merge_check "
					   "setval(app.t_id_seq,41,t) mark(1000) commit");
	assert_string_equal(state_of(f.r.validation), "passed");
	json_decref(key);
	teardown(&f);
}

/* a post-load step runs on the session's target connection, which stays there */
static void test_step(void **state)
{
	(void)state;
	struct fixture f;
	setup(&f, "{\"mode\": \"replace\"}");
	struct load_hooks hooks = {0};
	assert_true(target_step(f.job, "CREATE INDEX i ON t (id)", &hooks, &f.session, &f.e));
	assert_string_equal(f.dst.log.buf, "CREATE INDEX i ON t (id)");
	assert_ptr_equal(f.session.dst, &f.dst.base);
	teardown(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_replace_direct),
		cmocka_unit_test(test_append_validated),
		cmocka_unit_test(test_validation_fails),
		cmocka_unit_test(test_source_fails),
		cmocka_unit_test(test_merge_sequences_mark),
		cmocka_unit_test(test_step),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

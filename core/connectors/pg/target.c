/* core/connectors/pg/target.c: PostgreSQL as a target: connections, its catalog, the DDL of a plan's tables, load records */
#include "pgtarget.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "db.h"
#include "job.h"
#include "objects.h"
#include "planner.h"
#include "sql.h"
#include "tabledef.h"
#include "util.h"
#include "banned.h"

struct pg_target {
	struct target base;
	PGconn *c; /* owned */
};

#define PG(t) ((struct pg_target *)(t))

PGconn *pg_target_conn(struct target *t)
{
	return t && t->ops == &pg_target_ops ? PG(t)->c : NULL;
}

PGconn *pg_connect(const struct job *job, const char *side, struct err *e)
{
	const struct job_endpoint *ep = !strcmp(side, "source") ? &job->source : &job->target;
	const char *dsn = ep->dsn;
	const char *env = ep->password_env;
	const char *password = NULL;
	if (env && !(password = getenv(env))) {
		err_set(e, 422, !strcmp(side, "source") ? "source_unreachable" : "target_unreachable",
			NULL, "%s.password_env names \"%s\", which is not set in ferryd's environment",
			side, env);
		return NULL;
	}
	return db_connect_password(dsn, password, side, e);
}

static struct target *pg_open(const struct job *job, struct err *e)
{
	PGconn *c = pg_connect(job, "target", e);
	if (!c)
		return NULL;
	struct pg_target *t = xcalloc(1, sizeof(*t));
	t->base.ops = &pg_target_ops;
	t->c = c;
	return &t->base;
}

static void pg_close(struct target *t)
{
	if (!t)
		return;
	PQfinish(PG(t)->c);
	free(t);
}

static void *pg_cancel_new(struct target *t)
{
	return PQgetCancel(PG(t)->c);
}

static void pg_cancel(void *h)
{
	char buf[256];
	if (h)
		PQcancel(h, buf, sizeof(buf));
}

static void pg_cancel_free(void *h)
{
	PQfreeCancel(h);
}

static char *pg_ident(struct target *t, const char *name)
{
	return db_ident(PG(t)->c, name);
}

static char *pg_qualified(struct target *t, const char *schema, const char *name)
{
	return db_qualified(PG(t)->c, schema, name);
}

static void pg_column_list(struct target *t, const struct tdef *def, struct sb *out)
{
	tdef_column_list(PG(t)->c, def, out);
}

static bool pg_relkinds(struct target *t, const struct qualname *const *q, int n, char *kinds,
			struct err *e)
{
	return catalog_relkinds(PG(t)->c, q, n, kinds, e);
}

static bool pg_count_rows(struct target *t, const struct qualname *const *q, int n, long long limit,
			  long long *rows, struct err *e)
{
	return catalog_count_rows(PG(t)->c, q, n, limit, rows, e);
}

static int pg_columns(struct target *t, const struct qualname *const *q, int n, struct column **out,
		      struct err *e)
{
	return catalog_columns(PG(t)->c, q, n, out, e);
}

static bool pg_step_done(struct target *t, const struct qualname *q, const char *name, const char *kind)
{
	struct err e;
	err_clear(&e);
	const char *p[] = {q->schema, q->name, name, kind};
	PGresult *res = db_exec(PG(t)->c, sql_target_index_exists, 4, p, &e);
	bool done = res && PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	return done;
}

static long long pg_loaded_rows(struct target *t, const char *run, const char *task)
{
	struct err e;
	err_clear(&e);
	const char *p[] = {run, task};
	PGresult *res = db_exec(PG(t)->c, sql_target_marker_get, 2, p, &e);
	long long rows = res && PQntuples(res) ? atoll(PQgetvalue(res, 0, 0)) : -1;
	PQclear(res);
	return rows;
}

/* ---- the plan's tables and types */

/* Run sql on the target; on failure keep its message in msg and return false. */
static bool target_exec(PGconn *dst, const char *sql, char *msg, size_t n)
{
	struct err e;
	err_clear(&e);
	if (db_simple(dst, sql, &e))
		return true;
	/* the server's own message, without the words db_simple puts around it */
	str_copy(msg, n, e.cause[0] ? e.cause : e.msg);
	return false;
}

/* Whether pg_dump's statements bring the objects of schema (the job asks for all objects). */
static bool objects_cover(const struct plan *p, const char *schema)
{
	for (int i = 0; p->objects && i < p->objects->nschemas; i++)
		if (!strcmp(p->objects->schemas[i], schema))
			return true;
	return false;
}

static void create_types(PGconn *dst, struct plan *p, plan_note_fn note, void *arg)
{
	size_t i;
	json_t *ty;
	json_array_foreach(p->types, i, ty) {
		if (objects_cover(p, json_string_value(json_object_get(ty, "schema"))))
			continue;
		const char *name = json_string_value(json_object_get(ty, "name"));
		const char *ext = json_string_value(json_object_get(ty, "extension"));
		const char *ddl = json_string_value(json_object_get(ty, "ddl"));
		struct err e;
		err_clear(&e);
		const char *q[] = {name};
		PGresult *res = db_exec(dst, sql_target_type_exists, 1, q, &e);
		bool exists = res && PQgetvalue(res, 0, 0)[0] == 't';
		PQclear(res);
		if (exists)
			continue;
		char msg[1024], buf[1200];
		if (ext || !ddl) {
			snprintf(buf, sizeof(buf), "type %s comes from extension \"%s\", which the target lacks; install it there",
				 name, ext ? ext : "?");
			note(arg, "error", NULL, "type", buf);
			continue;
		}
		char *schema = db_ident(dst, json_string_value(json_object_get(ty, "schema")));
		char *cs = xasprintf("CREATE SCHEMA IF NOT EXISTS %s", schema);
		free(schema);
		int64_t t0 = now_ms();
		if (target_exec(dst, cs, msg, sizeof(msg)) && target_exec(dst, ddl, msg, sizeof(msg)))
			snprintf(buf, sizeof(buf), "created type %s in %lld ms", name,
				 (long long)(now_ms() - t0));
		else
			snprintf(buf, sizeof(buf), "could not create type %s: %s", name, msg);
		note(arg, strncmp(buf, "created", 7) ? "error" : "info", NULL, "type", buf);
		free(cs);
	}
}

/*
 * The statements that create one target table, in order. cascade: drop
 * what depends on a table that is dropped (the run creates it again from
 * the source), telling which objects went in a NOTICE.
 */
static void table_ddl(PGconn *dst, const struct plan_table *t, bool cascade, struct sb *out)
{
	char *rel = db_qualified(dst, t->st.dst.schema, t->st.dst.name);
	char *schema = db_ident(dst, t->st.dst.schema);
	if (!strcmp(t->mode, "drop") && t->target_relkind && t->parent < 0)
		sb_addf(out, "%sDROP TABLE %s%s;\n", cascade ? "SET LOCAL client_min_messages = notice;\n" : "",
			rel, cascade ? " CASCADE" : "");
	sb_addf(out, "CREATE SCHEMA IF NOT EXISTS %s;\n", schema);
	for (int c = 0; c < t->def.ncols; c++) {
		const struct tdef_column *col = &t->def.cols[c];
		if (col->sequence_ddl && !col->identity)
			sb_addf(out, "%s;\n", col->sequence_ddl);
		/* sequences a default calls without owning: created once, however many tables share them */
		for (int u = 0; u < col->nuses; u++) {
			if (!col->uses[u].ddl)
				continue;
			char *ss = db_ident(dst, col->uses[u].schema);
			sb_addf(out, "CREATE SCHEMA IF NOT EXISTS %s;\n%s;\n", ss, col->uses[u].ddl);
			free(ss);
		}
	}
	tdef_create_sql(dst, &t->def, out);
	sb_adds(out, ";\n");
	for (int c = 0; c < t->def.ncols; c++) {
		if (!t->def.cols[c].sequence_ddl || t->def.cols[c].identity)
			continue;
		char *col = db_ident(dst, t->def.cols[c].target);
		sb_addf(out, "ALTER SEQUENCE %s OWNED BY %s.%s;\n", t->def.cols[c].sequence, rel, col);
		free(col);
	}
	free(schema);
	free(rel);
}

/* A notice receiver that keeps the objects a DROP … CASCADE took with it, one line each. */
static void keep_cascades(void *arg, const PGresult *res)
{
	struct sb *out = arg;
	const char *prim = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	const char *detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
	const char *list = detail ? detail : prim;
	if (!list || !strstr(list, "drop cascades to "))
		return;
	for (const char *p = list; (p = strstr(p, "drop cascades to ")); ) {
		p += 17;
		size_t n = strcspn(p, "\n");
		sb_addf(out, "%s%.*s", out->len ? ", " : "", (int)n, p);
		p += n;
	}
}

/* Create table i of the plan (its partitioned table first); false when it could not be. */
static bool create_table(PGconn *dst, const struct job *job, struct plan *p, int i, plan_note_fn note,
			 void *arg)
{
	struct plan_table *t = &p->t[i];
	if (t->made || !t->create || *t->error)
		return t->made;
	if (t->parent >= 0)
		create_table(dst, job, p, t->parent, note, arg);
	if (t->parent >= 0 && *p->t[t->parent].error) {
		snprintf(t->error, sizeof(t->error), "target: its partitioned table %s could not be created",
			 p->t[t->parent].st.dst_label);
		return false;
	}
	struct sb ddl, cascaded;
	sb_init(&ddl);
	sb_init(&cascaded);
	sb_adds(&ddl, "BEGIN;\n");
	table_ddl(dst, t, p->objects != NULL, &ddl);
	sb_adds(&ddl, "COMMIT;\n");
	char msg[900];
	/* libpq's own receiver, put back after, takes no argument of its own */
	PQnoticeReceiver old = PQsetNoticeReceiver(dst, keep_cascades, &cascaded);
	bool ran = target_exec(dst, ddl.buf, msg, sizeof(msg));
	PQsetNoticeReceiver(dst, old, NULL);
	if (cascaded.len) {
		char *m = xasprintf("dropping %s also dropped what depended on it on the target (the run creates "
				    "again what the source has): %s", t->st.dst_label, cascaded.buf);
		note(arg, "warning", t->st.src_label, "create", m);
		free(m);
	}
	sb_release(&cascaded);
	if (!ran) {
		target_exec(dst, "ROLLBACK", msg + strlen(msg), 1);
		snprintf(t->error, sizeof(t->error), "target: could not create table %s: %s", t->st.dst_label,
			 msg);
		note(arg, "error", t->st.src_label, "create", t->error);
	} else {
		t->made = true;
	}
	sb_release(&ddl);
	return t->made;
}

/* What objects_create_before needs to create a table of the plan. */
struct table_maker {
	PGconn *dst;
	const struct job *job;
	struct plan *p;
	plan_note_fn note;
	void *arg;
	bool types_made;
};

static bool make_table(void *arg, int i)
{
	struct table_maker *m = arg;
	/* types of schemas pg_dump does not cover, once what they need (an extension) is there */
	if (!m->types_made)
		create_types(m->dst, m->p, m->note, m->arg);
	m->types_made = true;
	return create_table(m->dst, m->job, m->p, i, m->note, m->arg);
}

static void object_note(void *arg, const char *level, const char *kind, const char *msg)
{
	struct table_maker *m = arg;
	m->note(m->arg, level, NULL, kind, msg);
}

static bool pg_create(struct target *tgt, const struct job *job, struct plan *p, plan_note_fn note, void *arg,
		      struct err *e)
{
	(void)e;
	PGconn *dst = pg_target_conn(tgt);
	char why[900];
	/*
	 * replace and drop empty the table in the load's transaction, so loading
	 * it again after a crash gives the same rows; append and fail do not,
	 * so their loads leave a record of having committed.
	 */
	bool needed = false;
	for (int i = 0; i < p->n; i++)
		needed = needed || (!*p->t[i].error && p->t[i].leaf &&
				    (!strcmp(p->t[i].mode, "append") || !strcmp(p->t[i].mode, "fail")));
	p->mark = needed && target_exec(dst, sql_target_marker_prepare, why, sizeof(why));
	if (needed && !p->mark) {
		char buf[1100];
		snprintf(buf, sizeof(buf),
			 "cannot keep load records in _ferry.loads on the target (%s): a table whose load is cut short by a crash is reloaded",
			 why);
		note(arg, "warning", NULL, "create", buf);
	}
	int64_t t0 = now_ms();
	struct table_maker m = {dst, job, p, note, arg, false};
	if (p->objects)
		objects_create_before(dst, p->objects, make_table, object_note, &m);
	if (!m.types_made)
		create_types(dst, p, note, arg);
	int made = 0;
	for (int i = 0; i < p->n; i++) {
		create_table(dst, job, p, i, note, arg);
		made += p->t[i].made;
	}
	if (made) {
		char buf[128];
		snprintf(buf, sizeof(buf), "created %d target tables in %lld ms", made,
			 (long long)(now_ms() - t0));
		note(arg, "info", NULL, "create", buf);
	}
	return true;
}

/* pg_dump's statements in the step's transaction, with the settings they expect for it only. */
static char *pg_object_sql(struct target *t, const char *sql)
{
	(void)t;
	return xasprintf("SELECT pg_catalog.set_config('search_path', '', true);\n"
			 "SET LOCAL check_function_bodies = false;\nSET LOCAL client_min_messages = warning;\n%s",
			 sql);
}

bool pg_exists_error(const char *code)
{
	/* duplicate_table, duplicate_object, duplicate_function, duplicate_schema */
	return !strcmp(code, "42P07") || !strcmp(code, "42710") || !strcmp(code, "42723") ||
	       !strcmp(code, "42P06");
}

const struct target_ops pg_target_ops = {
	.kind = "postgresql",
	.open = pg_open,
	.close = pg_close,
	.cancel_new = pg_cancel_new,
	.cancel = pg_cancel,
	.cancel_free = pg_cancel_free,
	.ident = pg_ident,
	.qualified = pg_qualified,
	.column_list = pg_column_list,
	.relkinds = pg_relkinds,
	.count_rows = pg_count_rows,
	.columns = pg_columns,
	.create = pg_create,
	.idle = pg_target_idle,
	.lost = pg_target_lost,
	.load_open = pg_load_open,
	.load_close = pg_load_close,
	.prepare = pg_prepare,
	.rows_begin = pg_rows_begin,
	.rows_write = pg_rows_write,
	.rows_poll = pg_rows_poll,
	.rows_abort = pg_rows_abort,
	.rows_end = pg_rows_end,
	.merge = pg_merge,
	.merge_check = pg_merge_check,
	.check_send = pg_check_send,
	.check_read = pg_check_read,
	.hash_rows = pg_hash_rows,
	.swap_in = pg_swap_in,
	.set_sequence = pg_set_sequence,
	.mark_loaded = pg_mark_loaded,
	.commit = pg_commit,
	.rollback = pg_rollback,
	.step = pg_step,
	.object_sql = pg_object_sql,
	.exists_error = pg_exists_error,
	.step_done = pg_step_done,
	.loaded_rows = pg_loaded_rows,
};

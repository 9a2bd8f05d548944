/* core/connectors/pg/source.c: PostgreSQL as a source: its catalog, snapshots and COPY TO STDOUT */
#include "pgsource.h"
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

struct pg_source {
	struct source base;
	PGconn *c;     /* owned */
	char *copybuf; /* the last row PQgetCopyData gave */
	char *reading; /* owned or NULL: the relation of the read last sent, for its check's message */
};

/* The column of the check that a read's table is the one the run's snapshot saw (see read_sql). */
#define READ_CHECK "ferry_read_check"

#define PG(s) ((struct pg_source *)(s))

PGconn *pg_source_conn(struct source *s)
{
	return s && s->ops == &pg_source_ops ? PG(s)->c : NULL;
}

/* Set e from a failed result (or the connection's message), prefixed "source: ". */
static bool source_error(PGconn *c, PGresult *res, struct err *e)
{
	return db_side_error(c, res, "source", e);
}

static struct source *pg_open(const struct job *job, struct err *e)
{
	PGconn *c = pg_connect(job, "source", e);
	if (!c)
		return NULL;
	struct pg_source *s = xcalloc(1, sizeof(*s));
	s->base.ops = &pg_source_ops;
	s->c = c;
	return &s->base;
}

static void pg_close(struct source *s)
{
	if (!s)
		return;
	if (PG(s)->copybuf)
		PQfreemem(PG(s)->copybuf);
	free(PG(s)->reading);
	PQfinish(PG(s)->c);
	free(s);
}

static bool pg_idle(struct source *s)
{
	return PQstatus(PG(s)->c) == CONNECTION_OK && PQtransactionStatus(PG(s)->c) == PQTRANS_IDLE;
}

static bool pg_lost(struct source *s)
{
	return PQstatus(PG(s)->c) == CONNECTION_BAD;
}

static bool pg_about(struct source *s, struct source_about *out, struct err *e)
{
	(void)e;
	const char *v = PQparameterStatus(PG(s)->c, "server_version");
	str_copy(out->version, sizeof(out->version), v ? v : "");
	str_copy(out->kind, sizeof(out->kind), "postgresql");
	return true;
}

static char *pg_ident(struct source *s, const char *name)
{
	return db_ident(PG(s)->c, name);
}

static char *pg_qualified(struct source *s, const char *schema, const char *name)
{
	return db_qualified(PG(s)->c, schema, name);
}

static char *pg_literal(struct source *s, const char *value)
{
	char *q = PQescapeLiteral(PG(s)->c, value, strlen(value));
	char *out = xstrdup(q ? q : "''");
	PQfreemem(q);
	return out;
}

/* A snapshot exported in a repeatable-read transaction that s keeps open. */
static bool pg_hold_point(struct source *s, const struct job *job, int readers, char *id, size_t n,
			  json_t **info, char **warning, struct err *e)
{
	(void)job;
	(void)readers;
	*info = NULL;
	*warning = NULL;
	PGresult *res = NULL;
	if (!db_simple(PG(s)->c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", e) ||
	    !(res = db_exec(PG(s)->c, "SELECT pg_export_snapshot()", 0, NULL, e)))
		return false;
	str_copy(id, n, PQgetvalue(res, 0, 0));
	PQclear(res);
	return true;
}

static bool pg_point_alive(struct source *s)
{
	PGresult *res = PQexec(PG(s)->c, "SELECT 1");
	bool alive = PQresultStatus(res) == PGRES_TUPLES_OK;
	PQclear(res);
	return alive;
}

/* ---- planning */

/*
 * tdef_load inside a savepoint: a table the catalog cannot describe gets an
 * error of its own and leaves the (snapshot) transaction usable for the rest.
 */
static bool load_def(PGconn *src, struct plan_table *t, const struct job_table *opts, char *error, size_t n)
{
	struct err e;
	err_clear(&e);
	db_simple(src, "SAVEPOINT ferry_table", NULL);
	if (tdef_load(src, &t->st.src, &t->st.dst, opts, &t->def, &e)) {
		db_simple(src, "RELEASE SAVEPOINT ferry_table", NULL);
		return true;
	}
	db_simple(src, "ROLLBACK TO SAVEPOINT ferry_table; RELEASE SAVEPOINT ferry_table", NULL);
	str_copy(error, n, e.msg);
	return false;
}

#define DESCRIBE_BATCH 1000

/*
 * Read the tables idx[0..n) of the plan from the source catalog, a thousand
 * at a time; when a batch cannot be read together (a table in it breaks a
 * catalog query), its tables are read one by one, so that only the one
 * that breaks gets an error.
 */
static void describe_tables(PGconn *src, const struct job *job, struct plan *p, const int *idx, int n)
{
	struct tdef_item *items = xcalloc(n < DESCRIBE_BATCH ? (size_t)n + 1 : DESCRIBE_BATCH,
					  sizeof(*items));
	for (int at = 0; at < n; at += DESCRIBE_BATCH) {
		int k = n - at < DESCRIBE_BATCH ? n - at : DESCRIBE_BATCH;
		for (int j = 0; j < k; j++) {
			struct plan_table *t = &p->t[idx[at + j]];
			items[j].src = t->st.src;
			items[j].dst = t->st.dst;
			items[j].opts = plan_options(job, p, t);
		}
		struct err e;
		err_clear(&e);
		db_simple(src, "SAVEPOINT ferry_tables", NULL);
		bool together = tdef_load_all(src, items, k, &e);
		db_simple(src, together ? "RELEASE SAVEPOINT ferry_tables"
					: "ROLLBACK TO SAVEPOINT ferry_tables; RELEASE SAVEPOINT ferry_tables",
			  NULL);
		for (int j = 0; j < k; j++) {
			struct plan_table *t = &p->t[idx[at + j]];
			if (!together)
				load_def(src, t, items[j].opts, t->error, sizeof(t->error));
			else if (items[j].ok)
				t->def = items[j].def;
			else
				str_copy(t->error, sizeof(t->error), items[j].err.msg);
		}
	}
	free(items);
}

/*
 * Add the partition in row r of a tdef_partitions result to the plan, under
 * the partitioned table at index top (the partitions before it in the plan
 * are those of the same tree). True when its rows are to be counted.
 */
static bool add_partition(struct plan *p, int top, PGresult *res, int r)
{
	struct plan_table *t = plan_add(p);
	const struct plan_table *root = &p->t[top];
	str_copy(t->st.src.schema, sizeof(t->st.src.schema), PQgetvalue(res, r, 1));
	str_copy(t->st.src.name, sizeof(t->st.src.name), PQgetvalue(res, r, 2));
	memcpy(t->st.dst.schema, root->st.dst.schema, sizeof(t->st.dst.schema));
	str_copy(t->st.dst.name, sizeof(t->st.dst.name), PQgetvalue(res, r, 2));
	qualname_format(&t->st.src, t->st.src_label, sizeof(t->st.src_label));
	qualname_format(&t->st.dst, t->st.dst_label, sizeof(t->st.dst_label));
	t->leaf = PQgetvalue(res, r, 5)[0] == 't';
	t->st.rows_estimate = atoll(PQgetvalue(res, r, 6));
	t->st.bytes_estimate = atoll(PQgetvalue(res, r, 7));
	t->st.filter = root->st.filter ? xstrdup(root->st.filter) : NULL;
	t->st.has_pk = root->st.has_pk;
	memcpy(t->parent_label, root->st.src_label, sizeof(t->parent_label));
	memcpy(t->mode, root->mode, sizeof(t->mode));
	for (int k = top; k < p->n - 1; k++)
		if (!strcmp(p->t[k].st.src.schema, PQgetvalue(res, r, 9)) &&
		    !strcmp(p->t[k].st.src.name, PQgetvalue(res, r, 10)))
			t->parent = k;
	return t->leaf && PQgetvalue(res, r, 8)[0] != 't';
}

/*
 * Add the partitions of the partitioned tables among the plan's tables,
 * each right after its table, level by level, and read them.
 */
static bool add_partitions(PGconn *src, const struct job *job, struct plan *p, struct err *e)
{
	struct sb schemas, names;
	sb_init(&schemas);
	sb_init(&names);
	int ntops = p->n, nparted = 0;
	/* pos[i]: table i's position among the partitioned tables asked about (from 1), or 0 */
	int *pos = xcalloc((size_t)ntops + 1, sizeof(*pos));
	for (int i = 0; i < ntops; i++) {
		if (*p->t[i].error || p->t[i].def.relkind != 'p')
			continue;
		pos[i] = ++nparted;
		db_array_add(&schemas, p->t[i].st.src.schema);
		db_array_add(&names, p->t[i].st.src.name);
	}
	db_array_end(&schemas);
	db_array_end(&names);
	const char *q[] = {schemas.buf, names.buf};
	PGresult *res = nparted ? db_exec(src, sql_tdef_partitions, 2, q, e) : NULL;
	sb_release(&schemas);
	sb_release(&names);
	int rows = res ? PQntuples(res) : 0;
	if (rows == 0) {
		PQclear(res);
		free(pos);
		return !nparted || res;
	}
	struct plan_table *tops = p->t;
	p->t = NULL;
	p->n = 0;
	int *added = xcalloc((size_t)rows + 1, sizeof(*added));
	int *uncounted = xcalloc((size_t)rows + 1, sizeof(*uncounted));
	const struct qualname **unames = xcalloc((size_t)rows + 1, sizeof(*unames));
	long long *counts = xcalloc((size_t)rows + 1, sizeof(*counts));
	int nu = 0, r = 0;
	for (int i = 0; i < ntops; i++) {
		int top = p->n;
		*plan_add(p) = tops[i];
		for (; pos[i] && r < rows && atoi(PQgetvalue(res, r, 0)) == pos[i]; r++) {
			added[r] = p->n;
			if (add_partition(p, top, res, r))
				uncounted[nu++] = p->n - 1;
		}
	}
	free(tops);
	free(pos);
	PQclear(res);
	for (int i = 0; i < nu; i++)
		unames[i] = &p->t[uncounted[i]].st.src;
	bool ok = catalog_count_rows(src, unames, nu, 0, counts, e);
	for (int i = 0; ok && i < nu; i++)
		p->t[uncounted[i]].st.rows_estimate = counts[i];
	if (ok)
		describe_tables(src, job, p, added, rows);
	for (int i = 0; ok && i < rows; i++) {
		struct plan_table *t = &p->t[added[i]];
		if (!*t->error && t->parent >= 0)
			t->def.parent = p->t[t->parent].st.dst;
	}
	free(counts);
	free(unames);
	free(uncounted);
	free(added);
	return ok;
}

static bool pg_plan(struct source *s, const struct job *job, json_t *requested, const struct plan_ctx *ctx,
		    struct plan *p, struct err *e)
{
	PGconn *src = PG(s)->c;
	struct src_table *tops = NULL;
	int ntops = 0;
	if (!catalog_select(src, job, requested, &tops, &ntops, e))
		return false;
	if (strategy_is_backfill(ctx)) {
		/* a backfill reloads a cursor window: only incremental tables have one */
		int kept = 0;
		for (int i = 0; i < ntops; i++) {
			if (!strcmp(job_table_mode(job, tops[i].src.schema, tops[i].src.name), "incremental"))
				tops[kept++] = tops[i];
			else
				free(tops[i].filter);
		}
		ntops = kept;
	}
	/* every name the catalog prints from here on comes schema-qualified */
	if (!db_simple(src, "SET LOCAL search_path = pg_catalog", e)) {
		src_tables_free(tops, ntops);
		return false;
	}
	int *idx = xcalloc((size_t)ntops + 1, sizeof(*idx));
	for (int i = 0; i < ntops; i++) {
		struct plan_table *t = plan_add(p);
		t->st = tops[i];
		tops[i].filter = NULL;
		str_copy(t->mode, sizeof(t->mode), job_table_mode(job, t->st.src.schema, t->st.src.name));
		idx[i] = i;
	}
	src_tables_free(tops, ntops);
	describe_tables(src, job, p, idx, ntops);
	free(idx);
	for (int i = 0; i < p->n; i++)
		p->t[i].leaf = *p->t[i].error || p->t[i].def.relkind != 'p';
	return add_partitions(src, job, p, e);
}

static bool pg_types(struct source *s, struct plan *p, const struct tdef *defs, int n,
		     struct err *e)
{
	p->types = tdef_types(PG(s)->c, defs, n, e);
	return p->types != NULL;
}

static bool pg_plan_begin(struct source *s, struct err *e)
{
	return db_simple(PG(s)->c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", e);
}

/*
 * A table the run creates whose defaults, generated columns or checks call
 * functions of the source's own: with objects "tables" the target must have
 * them already. A warning for each, appended to w.
 */
static void function_warnings(PGconn *src, const struct plan_table *t, json_t *w)
{
	char *rel = db_qualified(src, t->st.src.schema, t->st.src.name);
	const char *p[] = {rel};
	struct err e;
	err_clear(&e);
	PGresult *res = db_exec(src, sql_source_table_functions, 1, p, &e);
	for (int r = 0; res && r < PQntuples(res); r++)
		json_array_append_new(w, json_sprintf("its defaults, generated columns or checks call function %s, which a job with objects \"tables\" does not create: the target must have it, or set objects to \"all\"",
						      PQgetvalue(res, r, 0)));
	PQclear(res);
	free(rel);
}

/* What the PostgreSQL catalog tells beyond the table model: functions the table needs, a bad where. */
static void pg_table_warnings(struct source *s, const struct job *job, const struct plan *p, int i,
			      json_t *w)
{
	PGconn *src = PG(s)->c;
	const struct plan_table *t = &p->t[i];
	/* user SQL (where) is checked under the session's own search_path */
	db_simple(src, "SET LOCAL search_path TO DEFAULT; SAVEPOINT plan", NULL);
	if (!job->all_objects && (t->create || !t->target_relkind) && !*t->error)
		function_warnings(src, t, w);
	db_simple(src, "ROLLBACK TO SAVEPOINT plan", NULL);
	if (t->st.filter && t->parent < 0) {
		char *rel = db_qualified(src, t->st.src.schema, t->st.src.name);
		char *sql = xasprintf("EXPLAIN SELECT * FROM %s WHERE (%s)", rel, t->st.filter);
		struct err e;
		err_clear(&e);
		if (!db_run(src, sql, 0, NULL, &e)) {
			const char *m = strchr(e.msg, ':');
			json_array_append_new(w, json_sprintf("\"where\" is not valid on the source:%s",
							      m ? m + 1 : e.msg));
		}
		db_simple(src, "ROLLBACK TO SAVEPOINT plan", NULL);
		free(sql);
		free(rel);
	}
}

static json_t *pg_primary_key(struct source *s, const struct qualname *table, struct err *e)
{
	char *rel = db_qualified(PG(s)->c, table->schema, table->name);
	const char *p[] = {rel};
	PGresult *res = db_exec(PG(s)->c, sql_source_primary_key, 1, p, e);
	free(rel);
	if (!res)
		return NULL;
	json_t *out = json_array();
	for (int i = 0; i < PQntuples(res); i++)
		json_array_append_new(out, json_string(PQgetvalue(res, i, 0)));
	PQclear(res);
	return out;
}

static bool pg_column_kind(struct source *s, const struct qualname *table, const char *column,
			   char *kind, size_t kn, char *type, size_t tn, struct err *e)
{
	char *rel = db_qualified(PG(s)->c, table->schema, table->name);
	const char *p[] = {rel, column};
	PGresult *res = db_exec(PG(s)->c, sql_source_column_type, 2, p, e);
	free(rel);
	if (!res || PQntuples(res) == 0) {
		PQclear(res);
		return false;
	}
	const char *k;
	switch (atoll(PQgetvalue(res, 0, 0))) {
	case 20:   /* int8 */
	case 21:   /* int2 */
	case 23:   /* int4 */
		k = "integer";
		break;
	case 1700:
		k = "numeric";
		break;
	case 1082:
		k = "date";
		break;
	case 1114:
		k = "timestamp";
		break;
	case 1184:
		k = "timestamptz";
		break;
	default:
		k = "other";
	}
	str_copy(kind, kn, k);
	str_copy(type, tn, PQgetvalue(res, 0, 1));
	PQclear(res);
	return true;
}

static bool pg_bound_ok(struct source *s, const char *type, const char *value, struct err *e)
{
	PGconn *c = PG(s)->c;
	db_simple(c, "SAVEPOINT ferry_bound", NULL);
	char *q = xasprintf("SELECT $1::%s", type);
	const char *p[] = {value};
	PGresult *res = db_exec(c, q, 1, p, e);
	free(q);
	PQclear(res);
	db_simple(c, res ? "RELEASE SAVEPOINT ferry_bound"
			 : "ROLLBACK TO SAVEPOINT ferry_bound; RELEASE SAVEPOINT ferry_bound", NULL);
	return res != NULL;
}

static char *pg_mark_expr(struct source *s, const char *kind, const char *col)
{
	(void)s;
	if (!strcmp(kind, "timestamptz"))
		return xasprintf("to_char(max(%s) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')", col);
	if (!strcmp(kind, "timestamp"))
		return xasprintf("to_char(max(%s), 'YYYY-MM-DD HH24:MI:SS.US')", col);
	if (!strcmp(kind, "date"))
		return xasprintf("to_char(max(%s), 'YYYY-MM-DD')", col);
	return xasprintf("max(%s)::text", col);
}

static char *pg_flag_expr(struct source *s, const char *col)
{
	(void)s;
	return xasprintf("coalesce((%s)::boolean, false)", col);
}

static void pg_select_sql(struct source *s, const struct tdef *def, struct sb *out)
{
	tdef_select_sql(PG(s)->c, def, out);
}

static bool pg_plain_sql(struct source *s, const struct tdef *def, struct sb *out)
{
	return tdef_copy_target(PG(s)->c, def, out);
}

/* Parts by the pages the rows are on (ctid ranges), in the read's snapshot. */
static int pg_split(struct source *s, const char *relation, int n, char **conds, struct err *e)
{
	const char *p[] = {relation};
	PGresult *res = db_exec(PG(s)->c,
				"SELECT pg_relation_size($1::regclass) / current_setting('block_size')::bigint",
				1, p, e);
	if (!res) {
		char msg[sizeof(e->msg)];
		str_copy(msg, sizeof(msg), e->msg);
		err_set(e, e->status, e->code, NULL, "source: %s", msg);
		return -1;
	}
	long long pages = atoll(PQgetvalue(res, 0, 0));
	PQclear(res);
	for (int i = 0; i < n; i++) {
		long long from = pages * i / n, to = pages * (i + 1) / n;
		/* the last part has no end: pages added since the size was read are read too */
		conds[i] = i == n - 1 ? xasprintf("ctid >= '(%lld,0)'::tid", from)
				      : xasprintf("ctid >= '(%lld,0)'::tid AND ctid < '(%lld,0)'::tid",
						  from, to);
	}
	return n;
}

static bool pg_objects(struct source *s, const struct job *job, struct target *dst, const char *point,
		       struct plan *p, struct err *e)
{
	p->objects = xcalloc(1, sizeof(*p->objects));
	if (objects_read(job, PG(s)->c, pg_target_conn(dst), point, p, p->objects, e))
		return true;
	free(p->objects);
	p->objects = NULL;
	return false;
}

/* ---- reading */

/* The COPY statement reading rd (new string). */
static char *copy_out_sql(const struct source_read *rd)
{
	const char *fmt = rd->binary ? "binary" : "text";
	/* a plain table COPY skips the executor */
	return rd->part    ? xasprintf("COPY (%s %s %s) TO STDOUT (FORMAT %s)", rd->select,
				       rd->filtered ? "AND" : "WHERE", rd->part, fmt)
	       : rd->plain ? xasprintf("COPY %s TO STDOUT (FORMAT %s)", rd->plain, fmt)
			   : xasprintf("COPY (%s) TO STDOUT (FORMAT %s)", rd->select, fmt);
}

/*
 * What a read sends (new string): its COPY, after, when the read names its
 * table, a lock on it and a check that it is the table the run's snapshot
 * saw. A table emptied or rewritten after the snapshot was taken (TRUNCATE,
 * a rewriting ALTER TABLE, VACUUM FULL, CLUSTER) or dropped and created
 * again reads as empty, or as what it holds now, in that snapshot, since
 * those commands are not MVCC-safe: the check compares the file the
 * snapshot's catalog row names with the table's file now, and finds no row
 * for a table created since. The lock keeps both still until the read ends.
 * pg_begun reads the check's answer.
 */
static char *read_sql(struct pg_source *ps, const struct source_read *rd)
{
	char *copy = copy_out_sql(rd);
	free(ps->reading);
	ps->reading = rd->relation ? xstrdup(rd->relation) : NULL;
	char *rel = rd->relation ? PQescapeLiteral(ps->c, rd->relation, strlen(rd->relation)) : NULL;
	if (!rel)
		return copy;
	char *sql = xasprintf("LOCK TABLE %s IN ACCESS SHARE MODE; "
			      "SELECT true AS " READ_CHECK " FROM pg_catalog.pg_class WHERE oid = %s::regclass "
			      "AND relfilenode = pg_catalog.pg_relation_filenode(%s::regclass); %s",
			      rd->relation, rel, rel, copy);
	PQfreemem(rel);
	free(copy);
	return sql;
}

/*
 * The start of the source's transaction in the run's snapshot and, with rd,
 * its COPY, in one message (the simple protocol takes several statements).
 */
static bool pg_begin(struct source *s, const char *point, const struct source_read *rd)
{
	PGconn *c = PG(s)->c;
	char *snap = PQescapeLiteral(c, point, strlen(point));
	char *copy = rd ? read_sql(PG(s), rd) : NULL;
	/* with last, the COMMIT runs as soon as the COPY ends well: no round trip of its own */
	char *sql = xasprintf("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET TRANSACTION SNAPSHOT %s%s%s%s",
			      snap ? snap : "''", copy ? "; " : "", copy ? copy : "",
			      rd && rd->last ? "; COMMIT" : "");
	PQfreemem(snap);
	free(copy);
	bool sent = PQsendQuery(c, sql);
	free(sql);
	return sent;
}

static bool pg_stream(struct source *s, const struct source_read *rd)
{
	char *sql = read_sql(PG(s), rd);
	bool sent = PQsendQuery(PG(s)->c, sql);
	free(sql);
	return sent;
}

/*
 * Read the answers to pg_begin: true once every statement succeeded (and,
 * streaming, the COPY is under way); false with e filled otherwise.
 */
static bool pg_begun(struct source *s, bool streaming, struct err *e)
{
	PGconn *c = PG(s)->c;
	PGresult *res, *bad = NULL;
	bool any = false, changed = false;
	while ((res = PQgetResult(c))) {
		any = true;
		ExecStatusType st = PQresultStatus(res);
		if (st == PGRES_TUPLES_OK && PQnfields(res) == 1 && !strcmp(PQfname(res, 0), READ_CHECK))
			changed = changed || PQntuples(res) == 0;
		if (streaming && st == PGRES_COPY_OUT && !bad) {
			PQclear(res);
			if (!changed)
				return true;
			break; /* the connection is in the COPY: it is closed, never kept */
		}
		if (!bad && st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
			bad = res;
		else
			PQclear(res);
	}
	if (changed && !bad) {
		char msg[700];
		snprintf(msg, sizeof(msg),
			 "table %.300s was emptied or rewritten (TRUNCATE, ALTER TABLE, VACUUM FULL, CLUSTER) or dropped and created again after the run's snapshot was taken: its rows as of the snapshot cannot be read; run the job again",
			 PG(s)->reading ? PG(s)->reading : "?");
		err_set(e, 500, "55000", NULL, "source: %s", msg);
		err_detail(e, "55000", msg);
		return false;
	}
	if (!bad && any && !streaming)
		return true;
	source_error(c, bad, e);
	PQclear(bad);
	return false;
}

static int pg_read(struct source *s, const char **buf, int *rows, struct err *e)
{
	struct pg_source *ps = PG(s);
	if (ps->copybuf) {
		PQfreemem(ps->copybuf);
		ps->copybuf = NULL;
	}
	int n = PQgetCopyData(ps->c, &ps->copybuf, 0);
	if (n > 0) {
		*buf = ps->copybuf; /* a message a row */
		*rows = 1;
		return n;
	}
	if (n == -2) {
		source_error(ps->c, NULL, e);
		return -1;
	}
	return 0;
}

static bool pg_read_end(struct source *s, struct err *e)
{
	PGconn *c = PG(s)->c;
	PGresult *res = PQgetResult(c);
	bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
	if (!ok)
		source_error(c, res, e);
	PQclear(res);
	while ((res = PQgetResult(c)))
		PQclear(res);
	return ok;
}

static bool pg_query(struct source *s, const char *sql)
{
	return PQsendQuery(PG(s)->c, sql);
}

static bool pg_row(struct source *s, char **vals, int ncols, struct err *e)
{
	PGconn *c = PG(s)->c;
	PGresult *res, *last = NULL;
	while ((res = PQgetResult(c))) {
		PQclear(last);
		last = res;
	}
	if (PQresultStatus(last) != PGRES_TUPLES_OK || PQntuples(last) < 1 || PQnfields(last) < ncols) {
		source_error(c, PQresultStatus(last) == PGRES_TUPLES_OK ? NULL : last, e);
		PQclear(last);
		return false;
	}
	for (int i = 0; i < ncols; i++)
		vals[i] = PQgetisnull(last, 0, i) ? NULL : xstrdup(PQgetvalue(last, 0, i));
	PQclear(last);
	return true;
}

/* Row count and an order-independent hash of the rows' text. */
static char *pg_validation_sql(struct source *s, bool checksum, const char *select)
{
	(void)s;
	if (!checksum)
		return xasprintf("SELECT count(*), 0 FROM (%s) s", select);
	return xasprintf("SELECT count(*), coalesce(sum(('x' || left(md5(s::text), 16))::bit(64)::bigint::numeric), 0) FROM (%s) s",
			 select);
}

static void *pg_cancel_new(struct source *s)
{
	return PQgetCancel(PG(s)->c);
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

static bool pg_end(struct source *s)
{
	return PQsendQuery(PG(s)->c, "COMMIT");
}

static bool pg_ended(struct source *s, struct err *e)
{
	return pg_begun(s, false, e);
}

const struct source_ops pg_source_ops = {
	.kind = "postgresql",
	.pg_binary = true,
	.open = pg_open,
	.close = pg_close,
	.idle = pg_idle,
	.lost = pg_lost,
	.about = pg_about,
	.ident = pg_ident,
	.qualified = pg_qualified,
	.literal = pg_literal,
	.hold_point = pg_hold_point,
	.point_alive = pg_point_alive,
	.plan_begin = pg_plan_begin,
	.plan = pg_plan,
	.table_warnings = pg_table_warnings,
	.types = pg_types,
	.primary_key = pg_primary_key,
	.column_kind = pg_column_kind,
	.bound_ok = pg_bound_ok,
	.mark_expr = pg_mark_expr,
	.flag_expr = pg_flag_expr,
	.select_sql = pg_select_sql,
	.plain_sql = pg_plain_sql,
	.split = pg_split,
	.objects = pg_objects,
	.begin = pg_begin,
	.stream = pg_stream,
	.begun = pg_begun,
	.read = pg_read,
	.read_end = pg_read_end,
	.query = pg_query,
	.row = pg_row,
	.validation_sql = pg_validation_sql,
	.cancel_new = pg_cancel_new,
	.cancel = pg_cancel,
	.cancel_free = pg_cancel_free,
	.end = pg_end,
	.ended = pg_ended,
};

/* core/meta/meta.c: the metadata store: jobs, runs, run tasks and events in schema "ferry" */
#include "meta.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-events.h>

#include "db.h"
#include "log.h"
#include "sql.h"
#include "util.h"
#include "banned.h"

#define META_IDLE_MAX 32
#define META_PATIENCE_MS 120000
#define META_REQUEST_CONNECTIONS 24
#define META_WAIT_MS 10000
#define META_STATEMENTS 128
#define META_BATCH_MAX 8 /* statements of one meta_batch round trip; more go one at a time */

struct meta {
	char *dsn; /* owned */
	pthread_mutex_t lock;
	PGconn *idle[META_IDLE_MAX]; /* owned */
	int nidle;
	int requests_busy; /* connections request threads hold */
	pthread_cond_t slot_free;
	char server_start[64]; /* the metadata server's start time, as the newest connection saw it */
	unsigned restarts;     /* times a new connection found it started again */
};

/*
 * A struct meta_rows is a PGresult and a struct meta_conn a PGconn, under
 * types of their own so that what uses the store never sees libpq; only
 * this file converts between them.
 */
static struct meta_rows *rows_of(PGresult *res)
{
	return (struct meta_rows *)res;
}

static const PGresult *res_of(const struct meta_rows *r)
{
	return (const PGresult *)r;
}

static struct meta_conn *handle_of(PGconn *c)
{
	return (struct meta_conn *)c;
}

static PGconn *conn_of(struct meta_conn *c)
{
	return (PGconn *)c;
}

int meta_nrows(const struct meta_rows *r)
{
	return PQntuples(res_of(r));
}

const char *meta_value(const struct meta_rows *r, int row, int col)
{
	return PQgetvalue(res_of(r), row, col);
}

void meta_rows_free(struct meta_rows *r)
{
	PQclear((PGresult *)r);
}

/* migrations[v - 1] brings the schema to version v */
static const char *const migrations[] = {sql_migrate_001, sql_migrate_002, sql_migrate_003,
					 sql_migrate_004, sql_migrate_005, sql_migrate_006};

static bool meta_migrate(PGconn *c, struct err *e)
{
	bool ok = false;
	PGresult *res = NULL;
	if (!db_simple(c, sql_schema_lock, e))
		return false;
	if (!db_simple(c, sql_schema_prepare, e))
		goto out;
	if (!(res = db_exec(c, sql_schema_version, 0, NULL, e)))
		goto out;
	int have = atoi(PQgetvalue(res, 0, 0));
	int want = (int)(sizeof(migrations) / sizeof(migrations[0]));
	for (int v = have + 1; v <= want; v++) {
		char num[16];
		const char *params[] = {num};
		snprintf(num, sizeof(num), "%d", v);
		if (!db_simple(c, "BEGIN", e))
			goto out;
		if (!db_simple(c, migrations[v - 1], e) ||
		    !db_run(c, sql_schema_version_add, 1, params, e)) {
			db_simple(c, "ROLLBACK", NULL);
			log_error("metadata schema migration %d failed: %s", v, e->msg);
			goto out;
		}
		if (!db_simple(c, "COMMIT", e))
			goto out;
		log_info("metadata schema migrated to version %d", v);
	}
	ok = true;
out:
	PQclear(res);
	db_simple(c, sql_schema_unlock, NULL);
	return ok;
}

/*
 * The statements meta_exec runs are prepared once on each connection and
 * executed by name from then on, so a statement run for every task (a claim,
 * an event) is parsed and planned once per connection, not at every call.
 * A statement is known by the address of its text: the embedded sql_*
 * strings and literals live as long as the process.
 */
static pthread_mutex_t statements_lock = PTHREAD_MUTEX_INITIALIZER;
static const char *statements[META_STATEMENTS];
static int nstatements;

/* which statements one connection has prepared; freed with the connection */
struct prepared {
	unsigned char done[META_STATEMENTS / 8];
};

static int prepared_event(PGEventId id, void *info, void *passthrough)
{
	(void)passthrough;
	if (id == PGEVT_CONNDESTROY)
		free(PQinstanceData(((PGEventConnDestroy *)info)->conn, prepared_event));
	return 1;
}

/* Metadata connections keep a record of what they prepared. */
static PGconn *meta_connect(const char *dsn, struct err *e)
{
	PGconn *c = db_connect(dsn, "metadata", e);
	if (c && PQregisterEventProc(c, prepared_event, "ferry statements", NULL))
		PQsetInstanceData(c, prepared_event, xcalloc(1, sizeof(struct prepared)));
	return c;
}

/* The statement's number, taking a new one the first time; -1 when they are all taken. */
static int statement_number(const char *sql)
{
	int found = -1;
	pthread_mutex_lock(&statements_lock);
	for (int i = 0; i < nstatements && found < 0; i++)
		if (statements[i] == sql)
			found = i;
	if (found < 0 && nstatements < META_STATEMENTS) {
		found = nstatements++;
		statements[found] = sql;
	}
	pthread_mutex_unlock(&statements_lock);
	return found;
}

/*
 * The name under which sql is prepared on c, preparing it first when c has
 * not yet; false when it cannot be (no room, several statements in one
 * text, the server is gone): the plain way then says why.
 */
static bool prepared_name(PGconn *c, const char *sql, int n, char *name, size_t size)
{
	struct prepared *p = PQinstanceData(c, prepared_event);
	int k = p ? statement_number(sql) : -1;
	if (k < 0)
		return false;
	snprintf(name, size, "ferry_%d", k);
	unsigned char bit = (unsigned char)(1u << (k % 8));
	if (!(p->done[k / 8] & bit)) {
		PGresult *res = PQprepare(c, name, sql, n, NULL);
		bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
		PQclear(res);
		if (!ok)
			return false;
		p->done[k / 8] |= bit;
	}
	return true;
}

/* Run sql as a prepared statement of c, preparing it first when c has not yet. */
static PGresult *exec_prepared(PGconn *c, const char *sql, int n, const char *const *params,
			       struct err *e)
{
	char name[24];
	if (!prepared_name(c, sql, n, name, sizeof(name)))
		return db_exec(c, sql, n, params, e);
	return db_exec_prepared(c, name, n, params, e);
}

/* Read the server's start time on a new connection c: a new one means it restarted. */
static void note_server_start(struct meta *m, PGconn *c)
{
	PGresult *res = PQexec(c, "SELECT pg_postmaster_start_time()::text");
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
		const char *start = PQgetvalue(res, 0, 0);
		pthread_mutex_lock(&m->lock);
		bool restarted = *m->server_start && strcmp(m->server_start, start);
		if (restarted)
			m->restarts++;
		str_copy(m->server_start, sizeof(m->server_start), start);
		pthread_mutex_unlock(&m->lock);
		if (restarted)
			log_warn("the metadata database restarted (at %s)", start);
	}
	PQclear(res);
}

unsigned meta_restarts(struct meta *m)
{
	pthread_mutex_lock(&m->lock);
	unsigned n = m->restarts;
	pthread_mutex_unlock(&m->lock);
	return n;
}

struct meta *meta_open(const char *dsn, struct err *e)
{
	PGconn *c = meta_connect(dsn, e);
	if (!c)
		return NULL;
	if (!meta_migrate(c, e)) {
		PQfinish(c);
		return NULL;
	}
	struct meta *m = xcalloc(1, sizeof(*m));
	m->dsn = xstrdup(dsn);
	pthread_mutex_init(&m->lock, NULL);
	pthread_cond_init(&m->slot_free, NULL);
	m->idle[m->nidle++] = c;
	note_server_start(m, c);
	return m;
}

void meta_close(struct meta *m)
{
	if (!m)
		return;
	for (int i = 0; i < m->nidle; i++)
		PQfinish(m->idle[i]);
	pthread_mutex_destroy(&m->lock);
	pthread_cond_destroy(&m->slot_free);
	free(m->dsn);
	free(m);
}

/*
 * Engine threads wait for the metadata database to come back; request
 * threads do not. Request threads also share a bounded number of
 * connections, so that many clients cannot take the ones the engine needs.
 */
static __thread bool meta_patient;

void meta_set_patient(bool patient)
{
	meta_patient = patient;
}

/* Wait for one of the request threads' connection slots; false (503) after META_WAIT_MS. */
static bool take_slot(struct meta *m, struct err *e)
{
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += META_WAIT_MS / 1000;
	bool ok = true;
	pthread_mutex_lock(&m->lock);
	while (m->requests_busy >= META_REQUEST_CONNECTIONS && ok)
		ok = pthread_cond_timedwait(&m->slot_free, &m->lock, &until) == 0 ||
		     m->requests_busy < META_REQUEST_CONNECTIONS;
	if (ok)
		m->requests_busy++;
	pthread_mutex_unlock(&m->lock);
	if (!ok)
		err_set(e, 503, "unavailable", NULL,
			"ferryd is busy: every metadata connection for requests is in use; try again");
	return ok;
}

static void give_slot(struct meta *m)
{
	pthread_mutex_lock(&m->lock);
	m->requests_busy--;
	pthread_cond_signal(&m->slot_free);
	pthread_mutex_unlock(&m->lock);
}

/* Take a connection from the pool, or a new one; NULL with e filled. */
static PGconn *conn_acquire(struct meta *m, struct err *e)
{
	PGconn *c = NULL;
	if (!meta_patient && !take_slot(m, e))
		return NULL;
	pthread_mutex_lock(&m->lock);
	if (m->nidle)
		c = m->idle[--m->nidle];
	pthread_mutex_unlock(&m->lock);
	if (c && PQstatus(c) == CONNECTION_OK && PQtransactionStatus(c) == PQTRANS_IDLE)
		return c;
	PQfinish(c);
	c = meta_connect(m->dsn, e);
	if (c)
		note_server_start(m, c);
	else if (!meta_patient)
		give_slot(m);
	return c;
}

/* Give c back to the pool, or close it when it is not ready for the next statement. */
static void conn_release(struct meta *m, PGconn *c)
{
	if (!c)
		return;
	if (!meta_patient)
		give_slot(m);
	/* only a connection ready for the next statement goes back (a broken batch leaves pipeline mode on) */
	if (PQstatus(c) != CONNECTION_OK || PQtransactionStatus(c) != PQTRANS_IDLE ||
	    PQpipelineStatus(c) != PQ_PIPELINE_OFF) {
		PQfinish(c);
		return;
	}
	pthread_mutex_lock(&m->lock);
	if (m->nidle < META_IDLE_MAX) {
		m->idle[m->nidle++] = c;
		c = NULL;
	}
	pthread_mutex_unlock(&m->lock);
	PQfinish(c);
}

struct meta_conn *meta_acquire(struct meta *m, struct err *e)
{
	return handle_of(conn_acquire(m, e));
}

void meta_release(struct meta *m, struct meta_conn *c)
{
	conn_release(m, conn_of(c));
}

struct meta_rows *meta_exec_on(struct meta_conn *c, const char *sql, int n,
			       const char *const *params, struct err *e)
{
	return rows_of(db_exec(conn_of(c), sql, n, params, e));
}

bool meta_run_on(struct meta_conn *c, const char *sql, int n, const char *const *params,
		 struct err *e)
{
	return db_run(conn_of(c), sql, n, params, e);
}

bool meta_begin(struct meta_conn *c, struct err *e)
{
	return db_simple(conn_of(c), "BEGIN", e);
}

bool meta_commit(struct meta_conn *c, struct err *e)
{
	return db_simple(conn_of(c), "COMMIT", e);
}

void meta_rollback(struct meta_conn *c)
{
	db_simple(conn_of(c), "ROLLBACK", NULL);
}

static PGresult *exec_once(struct meta *m, const char *sql, int n, const char *const *params,
			   struct err *e)
{
	PGconn *c = conn_acquire(m, e);
	if (!c)
		return NULL;
	PGresult *res = exec_prepared(c, sql, n, params, e);
	conn_release(m, c);
	return res;
}

struct meta_rows *meta_exec(struct meta *m, const char *sql, int n, const char *const *params,
			    struct err *e)
{
	int64_t start = now_ms();
	int pause_ms = 250;
	for (;;) {
		PGresult *res = exec_once(m, sql, n, params, e);
		if (res || !meta_patient || e->status != 503 || now_ms() - start > META_PATIENCE_MS) {
			if (!res && e->status >= 500)
				log_error("metadata query failed: %s", e->msg);
			return rows_of(res);
		}
		log_warn("metadata database unavailable (%s); trying again", e->msg);
		struct timespec ts = {pause_ms / 1000, (pause_ms % 1000) * 1000000L};
		nanosleep(&ts, NULL);
		if (pause_ms < 4000)
			pause_ms *= 2;
	}
}

/*
 * Send every statement of the batch, each in a transaction of its own, and
 * read their results: one round trip (libpq's pipeline mode). False when it
 * could not be sent or the connection failed on the way; statements without
 * a result are then not done.
 */
static bool batch_once(PGconn *c, struct meta_stmt *s, int n)
{
	char name[META_BATCH_MAX][24];
	if (n > META_BATCH_MAX)
		return false;
	for (int i = 0; i < n; i++)
		if (!prepared_name(c, s[i].sql, s[i].n, name[i], sizeof(name[i])))
			return false;
	if (!PQenterPipelineMode(c))
		return false;
	bool sent = true;
	for (int i = 0; i < n && sent; i++)
		sent = PQsendQueryPrepared(c, name[i], s[i].n, s[i].params, NULL, NULL, 0) &&
		       PQpipelineSync(c);
	bool whole = sent;
	for (int i = 0; i < n && whole; i++) {
		PGresult *res = PQgetResult(c), *more;
		if (!res) {
			whole = false;
			break;
		}
		if (PQresultStatus(res) == PGRES_PIPELINE_ABORTED) {
			PQclear(res);
			res = NULL;
			err_set(&s[i].e, 500, "internal", NULL, "statement not run: the one before it failed");
		} else {
			res = db_checked(c, res, &s[i].e);
		}
		s[i].res = rows_of(res);
		s[i].done = true;
		while ((more = PQgetResult(c))) /* the end of this statement's results */
			PQclear(more);
		PGresult *sync = PQgetResult(c);
		whole = PQresultStatus(sync) == PGRES_PIPELINE_SYNC;
		PQclear(sync);
	}
	return whole && PQexitPipelineMode(c);
}

bool meta_batch(struct meta *m, struct meta_stmt *s, int n)
{
	for (int i = 0; i < n; i++) {
		s[i].res = NULL;
		s[i].done = false;
		err_clear(&s[i].e);
	}
	struct err e;
	err_clear(&e);
	PGconn *c = conn_acquire(m, &e);
	bool whole = c && batch_once(c, s, n);
	conn_release(m, c);
	/* what the batch did not get to: one at a time, with meta_exec's patience */
	for (int i = 0; i < n; i++)
		if (!s[i].done) {
			s[i].res = meta_exec(m, s[i].sql, s[i].n, s[i].params, &s[i].e);
			s[i].done = true;
		}
	return whole;
}

json_t *meta_docs(struct meta *m, const char *sql, int n, const char *const *params,
		  struct err *e)
{
	struct meta_rows *res = meta_exec(m, sql, n, params, e);
	if (!res)
		return NULL;
	json_t *arr = json_array();
	for (int i = 0; i < meta_nrows(res); i++) {
		json_error_t jerr;
		json_t *doc = json_loads(meta_value(res, i, 0), 0, &jerr);
		if (!doc) {
			log_error("metadata returned malformed JSON: %s", jerr.text);
			continue;
		}
		json_array_append_new(arr, doc);
	}
	meta_rows_free(res);
	return arr;
}

json_t *meta_doc(struct meta *m, const char *sql, int n, const char *const *params,
		 const char *what, struct err *e)
{
	json_t *arr = meta_docs(m, sql, n, params, e);
	if (!arr)
		return NULL;
	json_t *doc = json_incref(json_array_get(arr, 0));
	json_decref(arr);
	if (!doc)
		err_set(e, 404, "not_found", NULL, "%s not found", what);
	return doc;
}

long long meta_count(struct meta *m, const char *sql, int n, const char *const *params,
		     struct err *e)
{
	struct meta_rows *res = meta_exec(m, sql, n, params, e);
	if (!res)
		return -1;
	long long v = meta_nrows(res) ? atoll(meta_value(res, 0, 0)) : 0;
	meta_rows_free(res);
	return v;
}

/* Record an event on c, or on a pooled connection when c is NULL; log it too. */
static void event_add(struct meta *m, struct meta_conn *c, const char *run_id,
		      const char *level, const char *table, const char *kind, const char *fmt,
		      va_list ap)
{
	char msg[2048];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	const char *params[] = {run_id, level, table, kind, msg};
	struct err e;
	err_clear(&e);
	struct meta_rows *res = c ? meta_exec_on(c, sql_event_add, 5, params, &e)
				  : meta_exec(m, sql_event_add, 5, params, &e);
	if (!res)
		log_warn("could not record event for run %s: %s", run_id, e.msg);
	meta_rows_free(res);
	meta_event_log(run_id, level, table, "%s", msg);
}

void meta_event_log(const char *run_id, const char *level, const char *table, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_msg(!strcmp(level, "error") ? LOG_WARN : LOG_INFO, "run %s%s%s: %s", run_id,
		table ? " table " : "", table ? table : "", msg);
}

void meta_event(struct meta *m, const char *run_id, const char *level, const char *table,
		const char *kind, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	event_add(m, NULL, run_id, level, table, kind, fmt, ap);
	va_end(ap);
}

void meta_event_on(struct meta_conn *c, const char *run_id, const char *level,
		   const char *table, const char *kind, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	event_add(NULL, c, run_id, level, table, kind, fmt, ap);
	va_end(ap);
}

bool meta_ping(struct meta *m, struct err *e)
{
	struct meta_rows *res = meta_exec(m, "SELECT 1", 0, NULL, e);
	meta_rows_free(res);
	return res != NULL;
}

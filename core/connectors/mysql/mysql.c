/* core/connectors/mysql/mysql.c: MySQL and MariaDB as a source: connections, the run's consistent point, reading rows as COPY text */
#include "mysource.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dsn.h"
#include "job.h"
#include "log.h"
#include "util.h"
#include "banned.h"

/* The most COPY text gathered before it goes to the target. */
#define CHUNK (64 * 1024)
/* MySQL's error numbers ferry looks at. */
#define ER_ACCESS_DENIED 1045
#define ER_DBACCESS_DENIED 1044
#define ER_SPECIFIC_ACCESS_DENIED 1227
#define ER_BAD_DB 1049
#define ER_NO_SUCH_TABLE 1146
#define CR_SERVER_GONE 2006
#define CR_SERVER_LOST 2013
#define CR_CONN_HOST_ERROR 2003
#define CR_CONNECTION_ERROR 2002

/*
 * A run's consistent point: connections that each started a transaction
 * WITH CONSISTENT SNAPSHOT while the holder kept every table still, so that
 * they all see the database as of one moment. A load borrows one for the
 * table it reads and gives it back with its transaction still open.
 */
struct my_point {
	char id[64];
	MYSQL **conns; /* owned */
	bool *busy;
	int n;
	bool gone;     /* its holder closed: connections are closed as they come back */
	int borrowed;
	struct my_point *next;
};

/*
 * A connection of a point set aside by a split (see my_split) for the read
 * of one part: the part's read takes it by its condition, so that the parts
 * of a table never wait for connections other tables hold.
 */
struct my_handoff {
	struct my_point *pt;
	int slot;
	char *cond;                /* owned: the part's condition */
	const struct my_source *owner; /* the read that split the table */
	struct my_handoff *next;
};

static pthread_mutex_t points_lock = PTHREAD_MUTEX_INITIALIZER;
static struct my_handoff *handoffs;
static pthread_cond_t points_free = PTHREAD_COND_INITIALIZER;
static struct my_point *points;
static unsigned long point_seq;
static pthread_once_t library_once = PTHREAD_ONCE_INIT;

static void library_init(void)
{
	mysql_library_init(0, NULL, NULL);
}

#define MY(s) ((struct my_source *)(s))

static bool cancel_came(struct my_source *s)
{
	pthread_mutex_lock(&s->cancel_lock);
	bool cancelled = s->cancelled;
	pthread_mutex_unlock(&s->cancel_lock);
	return cancelled;
}

/* Set the handle's connection where a cancel sees it; true when a cancel came already. */
static bool set_conn(struct my_source *s, MYSQL *m)
{
	pthread_mutex_lock(&s->cancel_lock);
	s->m = m;
	bool cancelled = s->cancelled;
	pthread_mutex_unlock(&s->cancel_lock);
	return cancelled;
}

bool my_fail(MYSQL *m, struct err *e, const char *what)
{
	unsigned no = mysql_errno(m);
	char state[16];
	snprintf(state, sizeof(state), "MY%u", no);
	bool transient = no == CR_SERVER_GONE || no == CR_SERVER_LOST || no == CR_CONN_HOST_ERROR ||
			 no == CR_CONNECTION_ERROR || no == 1053 /* server shutdown */ ||
			 no == 1213 /* deadlock */ || no == 1205 /* lock wait timeout */;
	err_set(e, transient ? 503 : 500, transient ? "unavailable" : "internal", NULL,
		"source: %s%s%s (MySQL error %u)", what ? what : "", what ? ": " : "", mysql_error(m),
		no);
	err_detail(e, state, mysql_error(m));
	return false;
}

/* Run a statement whose result is not needed. */
bool my_exec(MYSQL *m, const char *sql, struct err *e)
{
	if (mysql_real_query(m, sql, strlen(sql)) != 0)
		return my_fail(m, e, NULL);
	MYSQL_RES *res = mysql_store_result(m);
	mysql_free_result(res);
	return mysql_errno(m) == 0 || my_fail(m, e, NULL);
}

/* A stored result of sql, or NULL with e filled. */
MYSQL_RES *my_query(MYSQL *m, const char *sql, struct err *e)
{
	if (mysql_real_query(m, sql, strlen(sql)) != 0) {
		my_fail(m, e, NULL);
		return NULL;
	}
	MYSQL_RES *res = mysql_store_result(m);
	if (!res)
		my_fail(m, e, NULL);
	return res;
}

/* Connect as the job's source says; NULL with e filled (422 source_unreachable). */
static MYSQL *my_connect(const struct job *job, struct err *e)
{
	pthread_once(&library_once, library_init);
	const char *dsn = job->source.dsn;
	const char *env = job->source.password_env;
	const char *password = NULL;
	if (env && !(password = getenv(env))) {
		err_set(e, 422, "source_unreachable", NULL,
			"source.password_env names \"%s\", which is not set in ferryd's environment", env);
		return NULL;
	}
	struct dsn_mysql d;
	if (!dsn_mysql_parse(dsn ? dsn : "", &d, "source.dsn", e))
		return NULL;
	MYSQL *m = mysql_init(NULL);
	if (!m) {
		dsn_mysql_release(&d);
		err_set(e, 500, "internal", NULL, "out of memory");
		return NULL;
	}
	unsigned timeout = 10;
	unsigned rw_timeout = 3600;
	mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
	mysql_options(m, MYSQL_OPT_READ_TIMEOUT, &rw_timeout);
	mysql_options(m, MYSQL_OPT_WRITE_TIMEOUT, &rw_timeout);
	mysql_options(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
	mysql_options(m, MYSQL_READ_DEFAULT_GROUP, NULL);
	if (d.ssl_mode && strcmp(d.ssl_mode, "DISABLED")) {
		my_bool on = 1;
		mysql_ssl_set(m, d.ssl_key, d.ssl_cert, d.ssl_ca, NULL, NULL);
		if (strcmp(d.ssl_mode, "PREFERRED"))
			mysql_options(m, MYSQL_OPT_SSL_ENFORCE, &on);
		if (!strcmp(d.ssl_mode, "VERIFY_IDENTITY") || !strcmp(d.ssl_mode, "VERIFY_CA"))
			mysql_options(m, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &on);
	}
	const char *pw = password ? password : d.password;
	if (!mysql_real_connect(m, d.socket ? NULL : d.host, d.user, pw, d.database,
				(unsigned)d.port, d.socket, CLIENT_FOUND_ROWS)) {
		char msg[600];
		char *scrubbed = dsn_scrub(mysql_error(m), dsn);
		str_copy(msg, sizeof(msg), scrubbed);
		free(scrubbed);
		char *shown = dsn_redact(dsn);
		unsigned no = mysql_errno(m);
		err_set(e, 422, "source_unreachable", NULL,
			"could not connect to source database \"%s\": %s (MySQL error %u)", shown, msg, no);
		char state[16];
		snprintf(state, sizeof(state), "MY%u", no);
		err_detail(e, state, msg);
		free(shown);
		mysql_close(m);
		dsn_mysql_release(&d);
		return NULL;
	}
	dsn_mysql_release(&d);
	/*
	 * UTC for TIMESTAMP values (they arrive as UTC text for timestamptz);
	 * long network timeouts, since a table streams for as long as the
	 * target takes its rows.
	 */
	if (!my_exec(m, "SET SESSION time_zone = '+00:00', net_write_timeout = 3600, net_read_timeout = 3600", e) ||
	    !my_exec(m, "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ", e)) {
		mysql_close(m);
		return NULL;
	}
	return m;
}

static char *my_qualified(struct source *s, const char *schema, const char *name)
{
	return my_qualified_name(MY(s), schema, name);
}

static struct source *my_open(const struct job *job, struct err *e)
{
	(void)e;
	struct my_source *s = xcalloc(1, sizeof(*s));
	s->base.ops = &mysql_source_ops;
	pthread_mutex_init(&s->cancel_lock, NULL);
	s->job = job_parse(job->doc);
	sb_init(&s->chunk);
	sb_init(&s->scratch);
	/* a load's connection comes from the run's point (see begin); others connect now */
	return &s->base;
}

MYSQL *my_conn(struct source *src, struct err *e)
{
	struct my_source *s = MY(src);
	if (s->m)
		return s->m;
	set_conn(s, my_connect(s->job, e));
	if (s->m)
		s->mariadb = strstr(mysql_get_server_info(s->m), "MariaDB") != NULL;
	return s->m;
}

static void point_close(struct my_point *pt)
{
	for (int i = 0; i < pt->n; i++)
		if (pt->conns[i])
			mysql_close(pt->conns[i]);
	free(pt->conns);
	free(pt->busy);
	free(pt);
}

/*
 * Give slot back to pt (its connection closed when the point is gone or it
 * is not fit), under points_lock. True when that was the gone point's last
 * connection: the caller closes it, after unlocking.
 */
static bool slot_return(struct my_point *pt, int slot, bool fit)
{
	if (!fit || pt->gone) {
		mysql_close(pt->conns[slot]);
		pt->conns[slot] = NULL;
	}
	pt->busy[slot] = false;
	pt->borrowed--;
	pthread_cond_broadcast(&points_free);
	return pt->gone && pt->borrowed == 0;
}

/*
 * Give the borrowed connection back to its point (closed when the point is
 * gone or it is not fit), and with it the connections its split set aside
 * for parts that never took them.
 */
static void point_return(struct my_source *s, bool fit)
{
	s->defer[0] = '\0';
	if (!s->point)
		return;
	set_conn(s, NULL); /* before the connection may be closed: a cancel no longer reaches it */
	pthread_mutex_lock(&points_lock);
	struct my_point *pt = s->point;
	bool last = false;
	for (struct my_handoff **hp = &handoffs; *hp;) {
		struct my_handoff *h = *hp;
		if (h->owner != s) {
			hp = &h->next;
			continue;
		}
		*hp = h->next;
		last = slot_return(h->pt, h->slot, true) || last;
		free(h->cond);
		free(h);
	}
	last = slot_return(pt, s->slot, fit) || last;
	pthread_mutex_unlock(&points_lock);
	if (last)
		point_close(pt);
	s->point = NULL;
}

static void my_close(struct source *src)
{
	struct my_source *s = MY(src);
	if (!s)
		return;
	if (s->res) {
		/* a read cut short: stop the server sending the rest, and let the connection go */
		mariadb_cancel(s->m);
		mysql_free_result(s->res);
		s->res = NULL;
		s->reading = false;
		if (s->point)
			point_return(s, false);
	}
	if (s->point)
		point_return(s, true);
	if (s->held) {
		/* the run is over: its point goes, each connection as soon as no load holds it */
		pthread_mutex_lock(&points_lock);
		for (struct my_point **pp = &points; *pp; pp = &(*pp)->next) {
			if (*pp == s->held) {
				*pp = s->held->next;
				break;
			}
		}
		struct my_point *pt = s->held;
		pt->gone = true;
		bool idle = pt->borrowed == 0;
		pthread_cond_broadcast(&points_free);
		pthread_mutex_unlock(&points_lock);
		if (idle)
			point_close(pt);
	}
	MYSQL *own = s->m;
	set_conn(s, NULL);
	if (own)
		mysql_close(own);
	free(s->pending);
	free(s->conv);
	free(s->kinds);
	sb_release(&s->chunk);
	sb_release(&s->scratch);
	job_free(s->job);
	json_decref(s->warnings);
	pthread_mutex_destroy(&s->cancel_lock);
	free(s);
}

static bool my_idle(struct source *src)
{
	struct my_source *s = MY(src);
	/* a load's connection goes back to the run's point: the handle itself holds nothing */
	return !s->reading && !s->point && !s->held && !s->m;
}

static bool my_lost(struct source *src)
{
	struct my_source *s = MY(src);
	return s->lost;
}

static bool my_about(struct source *src, struct source_about *out, struct err *e)
{
	MYSQL *m = my_conn(src, e);
	if (!m)
		return false;
	str_copy(out->version, sizeof(out->version), mysql_get_server_info(m));
	str_copy(out->kind, sizeof(out->kind), MY(src)->mariadb ? "mariadb" : "mysql");
	return true;
}

char *my_ident(struct source *s, const char *name)
{
	(void)s;
	struct sb out;
	sb_init(&out);
	sb_addc(&out, '`');
	for (const char *p = name; *p; p++) {
		if (*p == '`')
			sb_addc(&out, '`');
		sb_addc(&out, *p);
	}
	sb_addc(&out, '`');
	return sb_detach(&out);
}

char *my_qualified_name(struct my_source *ms, const char *schema, const char *name)
{
	struct source *s = &ms->base;
	char *a = my_ident(s, schema), *b = my_ident(s, name);
	char *out = xasprintf("%s.%s", a, b);
	free(a);
	free(b);
	return out;
}

/* A string literal that reads the same whatever the session's sql_mode (backslashes doubled or not). */
char *my_literal(struct source *s, const char *value)
{
	(void)s;
	struct sb out;
	sb_init(&out);
	sb_adds(&out, "_utf8mb4 x'");
	static const char hex[] = "0123456789abcdef";
	for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
		sb_addc(&out, hex[*p >> 4]);
		sb_addc(&out, hex[*p & 15]);
	}
	sb_adds(&out, "' COLLATE utf8mb4_bin");
	return sb_detach(&out);
}

/* The first column of the first row of sql as a new string ("" for NULL), or NULL with e filled. */
char *scalar_query(MYSQL *m, const char *sql, struct err *e)
{
	MYSQL_RES *res = my_query(m, sql, e);
	if (!res)
		return NULL;
	MYSQL_ROW row = mysql_fetch_row(res);
	char *out = xstrdup(row && row[0] ? row[0] : "");
	mysql_free_result(res);
	return out;
}

/*
 * The run's consistent point. With the RELOAD privilege, FLUSH TABLES WITH
 * READ LOCK holds every write for as long as it takes `readers`
 * connections to start their transactions WITH CONSISTENT SNAPSHOT and the
 * binary log position to be read (milliseconds); then UNLOCK TABLES. Without
 * it each connection starts its own snapshot, a few milliseconds apart, and
 * the run says so.
 */
static bool my_hold_point(struct source *src, const struct job *job, int readers, char *id, size_t n,
			  json_t **info, char **warning, struct err *e)
{
	(void)job;
	struct my_source *s = MY(src);
	*info = NULL;
	*warning = NULL;
	MYSQL *m = my_conn(src, e);
	if (!m)
		return false;
	/*
	 * one a reader, as many again for the parts of split tables (see
	 * my_split), and a spare or two: a read that fails closes its connection
	 */
	readers = 2 * (readers < 1 ? 1 : readers) + 2;
	struct err le;
	err_clear(&le);
	bool locked = my_exec(m, "FLUSH TABLES WITH READ LOCK", &le);
	if (!locked)
		*warning = xasprintf("the source's tables are read without one consistent point: FLUSH TABLES WITH READ LOCK failed (%s); grant the RELOAD privilege for a consistent copy of all tables",
				     le.cause[0] ? le.cause : le.msg);
	struct my_point *pt = xcalloc(1, sizeof(*pt));
	pt->n = readers;
	pt->conns = xcalloc((size_t)readers, sizeof(*pt->conns));
	pt->busy = xcalloc((size_t)readers, sizeof(*pt->busy));
	bool ok = true;
	for (int i = 0; ok && i < readers; i++) {
		pt->conns[i] = my_connect(s->job, e);
		ok = pt->conns[i] && my_exec(pt->conns[i], "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY", e);
	}
	/* the planning connection reads the same point */
	ok = ok && my_exec(m, "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY", e);
	if (ok) {
		MYSQL_RES *res = my_query(m, "SHOW MASTER STATUS", &le);
		MYSQL_ROW row = res ? mysql_fetch_row(res) : NULL;
		char *gtid = scalar_query(m, s->mariadb ? "SELECT @@gtid_binlog_pos" : "SELECT @@gtid_executed", &le);
		*info = json_pack("{s:s?,s:s?,s:s?,s:b}", "binlog_file", row ? row[0] : NULL,
				  "binlog_position", row ? row[1] : NULL, "gtid",
				  gtid && *gtid ? gtid : NULL, "consistent", locked);
		free(gtid);
		mysql_free_result(res);
	}
	if (locked) {
		struct err ue;
		err_clear(&ue);
		if (!my_exec(m, "UNLOCK TABLES", &ue) && ok) {
			*e = ue;
			ok = false;
		}
	}
	if (!ok) {
		point_close(pt);
		json_decref(*info);
		*info = NULL;
		free(*warning);
		*warning = NULL;
		return false;
	}
	pthread_mutex_lock(&points_lock);
	snprintf(pt->id, sizeof(pt->id), "mysql-%ld-%lu", (long)getpid(), ++point_seq);
	pt->next = points;
	points = pt;
	pthread_mutex_unlock(&points_lock);
	s->held = pt;
	str_copy(id, n, pt->id);
	return true;
}

static bool my_point_alive(struct source *src)
{
	struct my_source *s = MY(src);
	if (!s->m || mysql_ping(s->m) != 0)
		return false;
	/* every idle reader must answer too: one lost with a server restart loses the point */
	bool alive = true;
	pthread_mutex_lock(&points_lock);
	struct my_point *pt = s->held;
	for (int i = 0; pt && i < pt->n; i++)
		if (!pt->busy[i] && (!pt->conns[i] || mysql_ping(pt->conns[i]) != 0))
			alive = false;
	pthread_mutex_unlock(&points_lock);
	return alive;
}

/* Borrow a connection of point `id`, waiting while all are busy. False when the point is not here. */
static bool point_borrow(struct my_source *s, const char *id, struct err *e)
{
	pthread_mutex_lock(&points_lock);
	for (;;) {
		if (cancel_came(s)) { /* cancelled while waiting for a connection */
			pthread_mutex_unlock(&points_lock);
			return err_set(e, 499, "cancelled", NULL, "cancelled");
		}
		struct my_point *pt = points;
		while (pt && strcmp(pt->id, id))
			pt = pt->next;
		if (!pt) {
			pthread_mutex_unlock(&points_lock);
			return err_set(e, 503, "unavailable", NULL,
				       "source: the run's consistent point %s is gone (its connections were lost); the table is read again from a new one",
				       id);
		}
		int i = 0, usable = 0;
		for (int k = 0; k < pt->n; k++)
			usable += pt->conns[k] != NULL;
		while (i < pt->n && (pt->busy[i] || !pt->conns[i]))
			i++;
		if (usable == 0) {
			pthread_mutex_unlock(&points_lock);
			return err_set(e, 503, "unavailable", NULL,
				       "source: the connections of the run's consistent point %s were lost; the table is read again from a new one",
				       id);
		}
		if (i < pt->n) {
			pt->busy[i] = true;
			pt->borrowed++;
			s->point = pt;
			s->slot = i;
			bool cancelled = set_conn(s, pt->conns[i]);
			pthread_mutex_unlock(&points_lock);
			/* a cancel that came meanwhile saw no connection to stop: the read stops here */
			return !cancelled || err_set(e, 499, "cancelled", NULL, "cancelled");
		}
		/* woken when a connection comes back, and a few times a second to see a cancel */
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += 250 * 1000 * 1000;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&points_free, &points_lock, &until);
	}
}

/* The conversions of rd->conv, one a column. */
static void read_conv(struct my_source *s, const struct source_read *rd)
{
	free(s->conv);
	s->nconv = (int)json_array_size(rd->conv);
	s->conv = xcalloc((size_t)s->nconv + 1, sizeof(*s->conv));
	for (int i = 0; i < s->nconv; i++)
		s->conv[i] = my_conv_parse(json_string_value(json_array_get(rd->conv, (size_t)i)));
	const struct job *job = rd->job ? rd->job : s->job;
	s->rules.zero_dates_null = !strcmp(job->zero_dates, "null");
	s->rules.nul_strip = !strcmp(job->nul_characters, "strip");
	memset(&s->counts, 0, sizeof(s->counts));
	s->rows = 0;
	s->sum = 0;
	free(s->kinds);
	s->kinds = NULL;
	s->nkinds = (int)json_array_size(rd->kinds);
	if (s->nkinds) {
		s->kinds = xcalloc((size_t)s->nkinds, sizeof(*s->kinds));
		for (int i = 0; i < s->nkinds; i++)
			s->kinds[i] = rh_kind_parse(json_string_value(json_array_get(rd->kinds, (size_t)i)));
	}
}

/*
 * The connection of a read begun without rows: the one a split set aside
 * for the part `part` when there is one, else any of the point's. False
 * with e filled when the point is gone.
 */
static bool my_join(struct my_source *s, const char *part, struct err *e)
{
	if (s->m || !s->defer[0])
		return true;
	pthread_mutex_lock(&points_lock);
	for (struct my_handoff **hp = &handoffs; part && *hp; hp = &(*hp)->next) {
		struct my_handoff *h = *hp;
		if (strcmp(h->pt->id, s->defer) || strcmp(h->cond, part))
			continue;
		*hp = h->next;
		s->point = h->pt;
		s->slot = h->slot;
		bool cancelled = set_conn(s, h->pt->conns[h->slot]);
		pthread_mutex_unlock(&points_lock);
		free(h->cond);
		free(h);
		return !cancelled || err_set(e, 499, "cancelled", NULL, "cancelled");
	}
	pthread_mutex_unlock(&points_lock);
	return point_borrow(s, s->defer, e);
}

static bool my_stream(struct source *src, const struct source_read *rd)
{
	struct my_source *s = MY(src);
	if (!s->m && s->defer[0] && s->begin_ok) {
		err_clear(&s->begin_err);
		s->begin_ok = my_join(s, rd->part, &s->begin_err);
	}
	free(s->pending);
	const char *sep = rd->filtered ? "AND" : "WHERE";
	s->pending = rd->part ? xasprintf("%s %s %s", rd->select, sep, rd->part) : xstrdup(rd->select);
	read_conv(s, rd);
	s->last = rd->last;
	return true;
}

/*
 * A read begun with rows borrows its connection at once; one begun without
 * joins the point when it first needs a connection (my_join), so that a
 * part of a split table takes the connection set aside for it.
 */
static bool my_begin(struct source *src, const char *point, const struct source_read *rd)
{
	struct my_source *s = MY(src);
	err_clear(&s->begin_err);
	free(s->pending);
	s->pending = NULL;
	if (!rd) {
		str_copy(s->defer, sizeof(s->defer), point);
		s->begin_ok = true;
		return true;
	}
	s->defer[0] = '\0';
	s->begin_ok = point_borrow(s, point, &s->begin_err);
	my_stream(src, rd);
	return true;
}

static bool my_begun(struct source *src, bool streaming, struct err *e)
{
	struct my_source *s = MY(src);
	if (!s->begin_ok) {
		*e = s->begin_err;
		s->begin_ok = true; /* reported once */
		return false;
	}
	if (!streaming)
		return true;
	MYSQL *m = s->m;
	if (!m || !s->pending)
		return err_set(e, 500, "internal", NULL, "source: nothing to read");
	if (mysql_real_query(m, s->pending, strlen(s->pending)) != 0) {
		unsigned no = mysql_errno(m);
		s->lost = no == CR_SERVER_GONE || no == CR_SERVER_LOST;
		return my_fail(m, e, NULL);
	}
	s->res = mysql_use_result(m);
	if (!s->res)
		return my_fail(m, e, NULL);
	s->reading = true;
	s->ncols = (int)mysql_num_fields(s->res);
	return true;
}

/* "`schema`.`name`", as my_qualified writes it, back into its parts; false when it is not so. */
static bool relation_parse(const char *rel, struct qualname *q)
{
	char *out[2] = {q->schema, q->name};
	size_t cap[2] = {sizeof(q->schema), sizeof(q->name)};
	const char *p = rel;
	for (int i = 0; i < 2; i++) {
		if (*p++ != '`')
			return false;
		size_t n = 0;
		for (;;) {
			if (!*p)
				return false;
			if (*p == '`' && p[1] != '`')
				break;
			if (*p == '`')
				p++;
			if (n + 1 >= cap[i])
				return false;
			out[i][n++] = *p++;
		}
		out[i][n] = '\0';
		p++;
		if (i == 0 && *p++ != '.')
			return false;
	}
	return *p == '\0';
}

/* Integers wider than any column's range, for key ranges of signed and unsigned BIGINT alike. */
__extension__ typedef __int128 wide_int;

static bool wide_parse(const char *s, wide_int *out)
{
	bool neg = *s == '-';
	if (neg)
		s++;
	if (!*s)
		return false;
	wide_int v = 0;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > ((wide_int)1 << 80))
			return false;
		v = v * 10 + (*s - '0');
	}
	*out = neg ? -v : v;
	return true;
}

static void wide_format(wide_int v, char *buf, size_t n)
{
	char tmp[48];
	size_t i = sizeof(tmp);
	tmp[--i] = '\0';
	bool neg = v < 0;
	if (neg)
		v = -v;
	do {
		tmp[--i] = (char)('0' + (int)(v % 10));
		v /= 10;
	} while (v);
	if (neg)
		tmp[--i] = '-';
	str_copy(buf, n, tmp + i);
}

/*
 * Parts by ranges of the table's integer primary key (one column), from its
 * smallest to its largest value in the run's point, of equal width. Each
 * part after the first reads on a connection of the point set aside for it
 * here, so parts never wait for connections other tables hold: there are
 * only as many parts as idle connections allow (1: the table is read whole,
 * as it is without such a key).
 */
static int my_split(struct source *src, const char *relation, int n, char **conds, struct err *e)
{
	struct my_source *s = MY(src);
	struct qualname q;
	if (!my_join(s, NULL, e))
		return -1;
	if (n < 2 || !s->point || !relation_parse(relation, &q))
		return 1;
	json_t *pk = my_primary_key(src, &q, e);
	if (!pk)
		return -1;
	const char *col = json_array_size(pk) == 1 ? json_string_value(json_array_get(pk, 0)) : NULL;
	char kind[32] = "", type[64];
	struct err ke;
	err_clear(&ke);
	if (!col || !my_column_kind(src, &q, col, kind, sizeof(kind), type, sizeof(type), &ke) ||
	    strcmp(kind, "integer")) {
		json_decref(pk);
		return 1;
	}
	char *qc = my_ident(src, col);
	json_decref(pk);
	char *sql = xasprintf("SELECT MIN(%s), MAX(%s) FROM %s", qc, qc, relation);
	MYSQL_RES *res = my_query(s->m, sql, e);
	free(sql);
	if (!res) {
		free(qc);
		return -1;
	}
	MYSQL_ROW row = mysql_fetch_row(res);
	wide_int lo = 0, hi = 0;
	bool rows = row && row[0] && row[1] && wide_parse(row[0], &lo) && wide_parse(row[1], &hi);
	mysql_free_result(res);
	wide_int span = hi - lo + 1;
	if (!rows || span < 2) {
		free(qc);
		return 1;
	}
	int k = span < n ? (int)span : n;
	pthread_mutex_lock(&points_lock);
	struct my_point *pt = s->point;
	int got = 1;
	int *slots = xcalloc((size_t)k, sizeof(*slots));
	for (int i = 0; i < pt->n && got < k; i++) {
		if (pt->busy[i] || !pt->conns[i] || pt->gone)
			continue;
		pt->busy[i] = true;
		pt->borrowed++;
		slots[got++] = i;
	}
	k = got;
	wide_int width = span / k;
	char from[48], to[48];
	for (int i = 0; k > 1 && i < k; i++) {
		wide_format(lo + width * i, from, sizeof(from));
		wide_format(lo + width * (i + 1), to, sizeof(to));
		conds[i] = i == 0 ? xasprintf("%s < %s", qc, to)
			   : i == k - 1 ? xasprintf("%s >= %s", qc, from)
					: xasprintf("%s >= %s AND %s < %s", qc, from, qc, to);
		if (i == 0)
			continue;
		struct my_handoff *h = xcalloc(1, sizeof(*h));
		h->pt = pt;
		h->slot = slots[i];
		h->cond = xstrdup(conds[i]);
		h->owner = s;
		h->next = handoffs;
		handoffs = h;
	}
	pthread_mutex_unlock(&points_lock);
	free(slots);
	free(qc);
	return k;
}

/* Name the value that could not be written: table position, column, row. */
static bool value_error(struct my_source *s, int col, const char *why, struct err *e)
{
	MYSQL_FIELD *f = mysql_fetch_field_direct(s->res, (unsigned)col);
	return err_set(e, 422, "invalid_value", NULL,
		       "source: row %lld, column \"%s\": %s; set the job's \"values\" to convert such values, or \"casts\" to a type that holds them",
		       s->rows + 1, f && f->name ? f->name : "?", why);
}

static int my_read(struct source *src, const char **buf, int *rows, struct err *e)
{
	struct my_source *s = MY(src);
	if (!s->res)
		return 0;
	sb_reset(&s->chunk);
	int n = 0;
	while (s->chunk.len < CHUNK) {
		MYSQL_ROW row = mysql_fetch_row(s->res);
		if (!row)
			break;
		unsigned long *len = mysql_fetch_lengths(s->res);
		size_t start = s->chunk.len;
		for (int c = 0; c < s->ncols; c++) {
			if (c)
				sb_addc(&s->chunk, '\t');
			char why[200];
			enum my_conv conv = c < s->nconv ? s->conv[c] : MC_TEXT;
			if (!my_encode_value(&s->chunk, row[c], row[c] ? len[c] : 0, conv, &s->rules,
					     &s->counts, why, sizeof(why))) {
				s->chunk.len = start;
				s->chunk.buf[start] = '\0';
				value_error(s, c, why, e);
				return -1;
			}
		}
		if (s->kinds)
			s->sum += rh_row(s->chunk.buf + start, s->chunk.len - start, s->kinds, s->nkinds,
					 &s->scratch);
		sb_addc(&s->chunk, '\n');
		s->rows++;
		n++;
	}
	if (n == 0) {
		if (mysql_errno(s->m)) {
			unsigned no = mysql_errno(s->m);
			s->lost = no == CR_SERVER_GONE || no == CR_SERVER_LOST;
			my_fail(s->m, e, "reading rows");
			return -1;
		}
		return 0;
	}
	*buf = s->chunk.buf;
	*rows = n;
	return (int)s->chunk.len;
}

static bool my_read_end(struct source *src, struct err *e)
{
	struct my_source *s = MY(src);
	bool ok = !s->res || !mysql_errno(s->m) || my_fail(s->m, e, "reading rows");
	if (s->res)
		mysql_free_result(s->res);
	s->res = NULL;
	s->reading = false;
	if (ok && s->last)
		point_return(s, true);
	return ok;
}

static char *my_read_note(struct source *src)
{
	struct my_source *s = MY(src);
	if (!s->counts.zero_dates && !s->counts.nuls)
		return NULL;
	return xasprintf("values converted as the job's \"values\" says: %lld zero dates (or empty ENUM values) read as NULL, %lld values with NUL characters removed",
			 s->counts.zero_dates, s->counts.nuls);
}

static bool my_query_send(struct source *src, const char *sql)
{
	struct my_source *s = MY(src);
	free(s->pending);
	s->pending = xstrdup(sql);
	if (!s->m && s->defer[0] && s->begin_ok) {
		err_clear(&s->begin_err);
		s->begin_ok = my_join(s, NULL, &s->begin_err);
	}
	return s->m != NULL || !s->begin_ok;
}

static bool my_row(struct source *src, char **vals, int ncols, struct err *e)
{
	struct my_source *s = MY(src);
	if (!s->m && !s->begin_ok) {
		*e = s->begin_err;
		s->begin_ok = true; /* reported once */
		return false;
	}
	MYSQL_RES *res = my_query(s->m, s->pending, e);
	free(s->pending);
	s->pending = NULL;
	if (!res)
		return false;
	MYSQL_ROW row = mysql_fetch_row(res);
	if (!row || (int)mysql_num_fields(res) < ncols) {
		mysql_free_result(res);
		return err_set(e, 500, "internal", NULL, "source: a query returned no row");
	}
	for (int i = 0; i < ncols; i++)
		vals[i] = row[i] ? xstrdup(row[i]) : NULL;
	mysql_free_result(res);
	return true;
}

static char *my_validation_sql(struct source *src, bool checksum, const char *select)
{
	(void)src;
	(void)checksum;
	return xasprintf("SELECT COUNT(*), 0 FROM (%s) AS ferry_rows", select);
}

static void my_checksum(struct source *src, long long *rows, unsigned long long *sum)
{
	*rows = MY(src)->rows;
	*sum = MY(src)->sum;
}

/*
 * The handle is the source itself, alive until after the engine frees the
 * handle. A cancel stops the connection the source holds then
 * (mariadb_cancel shuts its socket down), wakes a load waiting for one of
 * the point's connections, and leaves a mark, so that a connection
 * borrowed later is not used.
 */
static void *my_cancel_new(struct source *src)
{
	struct my_source *s = MY(src);
	pthread_mutex_lock(&s->cancel_lock);
	s->cancelled = false; /* a new load on a kept handle */
	pthread_mutex_unlock(&s->cancel_lock);
	return s;
}

static void my_cancel(void *h)
{
	struct my_source *s = h;
	if (!s)
		return;
	pthread_mutex_lock(&s->cancel_lock);
	s->cancelled = true;
	if (s->m)
		mariadb_cancel(s->m);
	pthread_mutex_unlock(&s->cancel_lock);
	/*
	 * points_lock is not taken here (the engine's lock is held, and
	 * points_lock can wait on the network): a load that misses this wake-up
	 * sees the mark at its next timed wake (see point_borrow)
	 */
	pthread_cond_broadcast(&points_free);
}

static void my_cancel_free(void *h)
{
	(void)h;
}

static bool my_end(struct source *src)
{
	(void)src;
	return true;
}

static bool my_ended(struct source *src, struct err *e)
{
	(void)e;
	/* the transaction stays open: the run's other tables read in it */
	point_return(MY(src), true);
	return true;
}

const struct source_ops mysql_source_ops = {
	.kind = "mysql",
	.pg_binary = false,
	.open = my_open,
	.close = my_close,
	.idle = my_idle,
	.lost = my_lost,
	.about = my_about,
	.ident = my_ident,
	.qualified = my_qualified,
	.literal = my_literal,
	.hold_point = my_hold_point,
	.point_alive = my_point_alive,
	.plan_begin = my_plan_begin,
	.plan = my_plan,
	.types = my_types,
	.table_warnings = my_table_warnings,
	.primary_key = my_primary_key,
	.column_kind = my_column_kind,
	.bound_ok = my_bound_ok,
	.mark_expr = my_mark_expr,
	.flag_expr = my_flag_expr,
	.select_sql = my_select_sql,
	.plain_sql = my_plain_sql,
	.split = my_split,
	.objects = NULL,
	.begin = my_begin,
	.stream = my_stream,
	.begun = my_begun,
	.read = my_read,
	.read_end = my_read_end,
	.read_note = my_read_note,
	.query = my_query_send,
	.row = my_row,
	.validation_sql = my_validation_sql,
	.checksum = my_checksum,
	.cancel_new = my_cancel_new,
	.cancel = my_cancel,
	.cancel_free = my_cancel_free,
	.end = my_end,
	.ended = my_ended,
};

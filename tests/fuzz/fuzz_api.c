/* tests/fuzz/fuzz_api.c: libFuzzer target for what ferryd parses from clients:
 * job JSON bodies, table names and globs, connection strings and request paths */
#include <ctype.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cron.h"
#include "dsn.h"
#include "err.h"
#include "job.h"
#include "../unit/jobview.h"
#include "names.h"
#include "routes.h"
#include "sb.h"
#include "util.h"
#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ferryd's default for load.parallel, and a different one to renormalize with */
#define DEFAULT_PARALLEL 4
#define OTHER_PARALLEL 7

/*
 * Marks every password in a connection string: mask_password puts it in
 * place of the password's letters and digits and keeps the rest, so the
 * string still parses the same way. An input that already holds it skips the
 * checks that look for it.
 */
#define CANARY "Zq7canaryPw"

#define CHECK(cond, ...)                                          \
	do {                                                      \
		if (!(cond))                                      \
			check_failed(__LINE__, #cond, __VA_ARGS__); \
	} while (0)

/* Print what broke and abort, so libFuzzer keeps the input as a crash file. */
static void check_failed(int line, const char *cond, const char *fmt, ...)
	__attribute__((format(printf, 3, 4), noreturn));

static void check_failed(int line, const char *cond, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "fuzz_api: invariant failed at %s:%d: %s\n", __FILE__, line, cond);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

/* A validation error is a client mistake with a machine code and a message. */
static void check_err(const struct err *e, const char *what)
{
	CHECK(e->status == 400, "%s: status %d, code \"%s\", message \"%s\"", what, e->status,
	      e->code, e->msg);
	CHECK(e->code[0], "%s: empty code, message \"%s\"", what, e->msg);
	CHECK(e->msg[0], "%s: empty message, code \"%s\"", what, e->code);
}

/*
 * The password a client reads from dsn (new string), or NULL: none, empty,
 * or no parse. libpq reads PostgreSQL's strings; a mysql:// or mariadb:// URI
 * is read by its own parser, which the MySQL connector connects with.
 */
static char *pq_password(const char *dsn)
{
	char *pw = NULL;
	const char *kind = dsn_kind(dsn);
	if (kind && !strcmp(kind, "mysql")) {
		struct dsn_mysql d;
		if (!dsn_mysql_parse(dsn, &d, "source.dsn", NULL))
			return NULL;
		if (d.password && *d.password)
			pw = xstrdup(d.password);
		dsn_mysql_release(&d);
		return pw;
	}
	PQconninfoOption *opts = PQconninfoParse(dsn, NULL);
	if (!opts)
		return NULL;
	for (PQconninfoOption *o = opts; o->keyword; o++)
		if (!strcmp(o->keyword, "password") && o->val && *o->val)
			pw = xstrdup(o->val);
	PQconninfoFree(opts);
	return pw;
}

/*
 * redacted stands for dsn, which may carry a password: libpq must not read
 * that password back from it. (Whether the password shows anywhere in the
 * text is check_dsn_canary's job: a plain search would also hit the same
 * characters standing elsewhere, say in the user or database name.)
 */
static void check_redacted(const char *dsn, const char *redacted, const char *what)
{
	char *pw = pq_password(dsn);
	if (!pw)
		return;
	char *again = pq_password(redacted);
	CHECK(!again || strcmp(again, pw), "%s: \"%s\" redacted to \"%s\" keeps password \"%s\"",
	      what, dsn, redacted, pw);
	free(again);
	free(pw);
}

/* ---- connection strings with their passwords masked by CANARY ---- */

/*
 * Append the password p[0..n) masked: letters and digits dropped, every other
 * character kept (a %XX escape or a backslash and what it escapes as one),
 * and CANARY first and after each kept one. "Sup3r\"Secret" gives
 * CANARY"CANARY: the quote that may upset a parser is still there.
 */
static void mask_password(const char *p, size_t n, struct sb *out)
{
	sb_adds(out, CANARY);
	for (size_t i = 0; i < n; i++) {
		if (isalnum((unsigned char)p[i]))
			continue;
		size_t len = 1;
		if (p[i] == '%' && i + 2 < n && isxdigit((unsigned char)p[i + 1]) &&
		    isxdigit((unsigned char)p[i + 2]))
			len = 3;
		else if (p[i] == '\\' && i + 1 < n)
			len = 2;
		sb_add(out, p + i, len);
		sb_adds(out, CANARY);
		i += len - 1;
	}
}

/* Any URI: postgresql://, mysql://, and a mistyped scheme, which carries a password all the same. */
static bool starts_uri(const char *s)
{
	size_t n = 0;
	if (!isalpha((unsigned char)*s))
		return false;
	while (isalnum((unsigned char)s[n]) || s[n] == '+' || s[n] == '-' || s[n] == '.')
		n++;
	return !strncmp(s + n, "://", 3);
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* True when the URI query key k[0..n) percent-decodes to "password". */
static bool query_key_is_password(const char *k, size_t n)
{
	char key[16];
	size_t len = 0;
	for (size_t i = 0; i < n; i++) {
		char c = k[i];
		if (c == '%') {
			if (i + 2 >= n || hex_digit(k[i + 1]) < 0 || hex_digit(k[i + 2]) < 0)
				return false;
			c = (char)(hex_digit(k[i + 1]) * 16 + hex_digit(k[i + 2]));
			i += 2;
			if (!c)
				return false; /* libpq refuses %00 */
		}
		if (len + 1 >= sizeof(key))
			return false;
		key[len++] = c;
	}
	key[len] = '\0';
	return !strcmp(key, "password");
}

/* Past the host list at p as libpq reads it: hosts ([IPv6] or plain) with ports, split by ','. */
static const char *skip_hosts(const char *p)
{
	for (;;) {
		if (*p == '[') {
			const char *close = strchr(p, ']');
			if (!close)
				return p + strlen(p);
			p = close + 1;
		} else {
			p += strcspn(p, ":/?,");
		}
		if (*p == ':')
			p += strcspn(p, "/?,");
		if (*p != ',')
			return p;
		p++;
	}
}

/*
 * The URI as libpq reads it: user info ends at the first '@' before any '/',
 * the password follows its first ':'; then hosts, an optional /dbname, and a
 * query whose parameters are split at '&'.
 */
static int canary_uri(const char *dsn, struct sb *out)
{
	int n = 0;
	const char *p = strstr(dsn, "://") + 3;
	const char *end = p + strcspn(p, "@/");
	sb_add(out, dsn, (size_t)(p - dsn));
	if (*end == '@') {
		const char *colon = memchr(p, ':', (size_t)(end - p));
		if (colon) {
			sb_add(out, p, (size_t)(colon + 1 - p));
			mask_password(colon + 1, (size_t)(end - colon - 1), out);
			n++;
		} else {
			sb_add(out, p, (size_t)(end - p));
		}
		sb_addc(out, '@');
		p = end + 1;
	}
	const char *q = skip_hosts(p);
	if (*q == '/')
		q += strcspn(q, "?");
	sb_add(out, p, (size_t)(q - p));
	p = q;
	if (*p != '?') {
		sb_adds(out, p);
		return n;
	}
	while (*p) {
		sb_addc(out, *p++); /* '?' or '&' */
		size_t len = strcspn(p, "&");
		const char *eq = memchr(p, '=', len);
		if (eq && query_key_is_password(p, (size_t)(eq - p))) {
			sb_add(out, p, (size_t)(eq + 1 - p));
			mask_password(eq + 1, (size_t)(p + len - eq - 1), out);
			n++;
		} else {
			sb_add(out, p, len);
		}
		p += len;
	}
	return n;
}

/* key=value pairs as libpq tokenizes them; stops copying with care at the first error. */
static int canary_kv(const char *dsn, struct sb *out)
{
	int n = 0;
	const char *p = dsn;
	while (*p) {
		if (isspace((unsigned char)*p)) {
			sb_addc(out, *p++);
			continue;
		}
		const char *key = p;
		while (*p && *p != '=' && !isspace((unsigned char)*p))
			p++;
		bool is_pw = p - key == 8 && !strncmp(key, "password", 8);
		sb_add(out, key, (size_t)(p - key));
		while (isspace((unsigned char)*p))
			sb_addc(out, *p++);
		if (*p != '=')
			break;
		sb_addc(out, *p++);
		while (isspace((unsigned char)*p))
			sb_addc(out, *p++);
		const char *val = p;
		bool quoted = *p == '\'';
		if (quoted) {
			for (p++; *p && *p != '\''; p++)
				if (*p == '\\' && p[1])
					p++;
		} else {
			for (; *p && !isspace((unsigned char)*p); p++)
				if (*p == '\\' && p[1])
					p++;
		}
		bool closed = quoted && *p == '\'';
		if (closed)
			p++;
		if (is_pw) {
			if (quoted)
				sb_addc(out, '\'');
			const char *from = val + quoted;
			mask_password(from, (size_t)(p - closed - from), out);
			if (closed)
				sb_addc(out, '\'');
			n++;
		} else {
			sb_add(out, val, (size_t)(p - val));
		}
	}
	sb_adds(out, p);
	return n;
}

/* dsn with every password it holds masked (new string), or NULL when it holds none. */
static char *with_canary(const char *dsn)
{
	struct sb out;
	sb_init(&out);
	int n = starts_uri(dsn) ? canary_uri(dsn, &out) : canary_kv(dsn, &out);
	if (!n) {
		sb_release(&out);
		return NULL;
	}
	return sb_detach(&out);
}

/* Nothing ferryd shows for a connection string may repeat its password. */
static void check_dsn_canary(const char *dsn)
{
	char *d = with_canary(dsn);
	if (!d)
		return;
	struct err e;
	err_clear(&e);
	if (!dsn_validate(d, "source.dsn", &e))
		CHECK(!strstr(e.msg, CANARY), "dsn_validate(\"%s\") repeats the password: %s", d,
		      e.msg);
	char *r = dsn_redact(d);
	CHECK(!strstr(r, CANARY), "dsn_redact(\"%s\") = \"%s\"", d, r);
	char *pw = pq_password(d);
	if (pw && strstr(pw, CANARY)) {
		char *text = xasprintf("password \"%s\" rejected for \"%s\"", pw, r);
		char *s = dsn_scrub(text, d);
		CHECK(!strstr(s, CANARY), "dsn_scrub(\"%s\", \"%s\") = \"%s\"", text, d, s);
		free(s);
		free(text);
	}
	free(pw);
	free(r);
	free(d);
}

/* ---- jobs ---- */

static bool has_only_keys(json_t *obj, const char *const *keys)
{
	const char *k;
	json_t *v;
	json_object_foreach(obj, k, v) {
		const char *const *w = keys;
		while (*w && strcmp(*w, k))
			w++;
		if (!*w)
			return false;
	}
	return true;
}

static bool int_between(json_t *v, json_int_t lo, json_int_t hi)
{
	return json_is_integer(v) && json_integer_value(v) >= lo && json_integer_value(v) <= hi;
}

static bool one_of(json_t *v, const char *const *list)
{
	if (!json_is_string(v))
		return false;
	for (; *list; list++)
		if (!strcmp(json_string_value(v), *list))
			return true;
	return false;
}

static bool strings_array(json_t *v)
{
	size_t i;
	json_t *x;
	if (!json_is_array(v))
		return false;
	json_array_foreach(v, i, x) {
		if (!json_is_string(x))
			return false;
	}
	return true;
}

/* The endpoint as normalized: the client's dsn and password_env unchanged, nothing else. */
static void check_endpoint(json_t *spec, json_t *body, const char *key)
{
	static const char *const keys[] = {"dsn", "password_env", NULL};
	json_t *ep = json_object_get(spec, key);
	json_t *in = json_object_get(body, key);
	CHECK(json_is_object(ep) && has_only_keys(ep, keys), "%s is not {dsn, password_env}", key);
	CHECK(json_is_string(json_object_get(ep, "dsn")), "%s.dsn is not a string", key);
	CHECK(json_equal(json_object_get(ep, "dsn"), json_object_get(in, "dsn")),
	      "%s.dsn changed", key);
	CHECK(json_equal(json_object_get(ep, "password_env"), json_object_get(in, "password_env")) ||
		      (!json_object_get(ep, "password_env") && !json_object_get(in, "password_env")),
	      "%s.password_env changed", key);
}

/* A normalized job has every field of a definition, defaults filled in, and nothing else. */
static void check_normalized(json_t *spec, json_t *body)
{
	static const char *const keys[] = {"name", "source", "target", "include", "exclude",
					   "tables", "objects", "schemas", "values", "load", "retry", "after",
					   "schedule", NULL};
	static const char *const load_keys[] = {"mode", "create", "parallel", "index_parallel",
						"validate", "split_bytes", NULL};
	static const char *const retry_keys[] = {"attempts", "delay_s", NULL};
	static const char *const modes[] = {"replace", "append", "fail", "drop",
					    "swap", "upsert", "incremental", NULL};
	static const char *const validations[] = {"none", "count", "checksum", NULL};
	CHECK(json_is_object(spec) && has_only_keys(spec, keys), "unexpected top-level field");
	for (const char *const *k = keys; *k; k++)
		CHECK(json_object_get(spec, *k), "\"%s\" is missing", *k);
	CHECK(json_equal(json_object_get(spec, "name"), json_object_get(body, "name")), "name changed");
	const char *objects = json_string_value(json_object_get(spec, "objects"));
	CHECK(objects && (!strcmp(objects, "tables") || !strcmp(objects, "all")), "objects is neither tables nor all");
	json_t *values = json_object_get(spec, "values");
	const char *zd = json_string_value(json_object_get(values, "zero_dates"));
	const char *nul = json_string_value(json_object_get(values, "nul_characters"));
	CHECK(json_object_size(values) == 2 && zd && nul && (!strcmp(zd, "null") || !strcmp(zd, "fail")) &&
		      (!strcmp(nul, "fail") || !strcmp(nul, "strip")),
	      "values is not the two rules with an allowed value each");
	CHECK(json_is_object(json_object_get(spec, "schemas")), "schemas is not an object");
	check_endpoint(spec, body, "source");
	check_endpoint(spec, body, "target");
	json_t *include = json_object_get(spec, "include");
	CHECK(strings_array(include) && json_array_size(include) > 0, "include is not a list of globs");
	CHECK(strings_array(json_object_get(spec, "exclude")), "exclude is not a list of globs");
	CHECK(json_is_object(json_object_get(spec, "tables")), "tables is not an object");
	json_t *sched = json_object_get(spec, "schedule");
	struct cron c;
	CHECK(json_is_null(sched) ||
		      (json_is_string(sched) && cron_parse(json_string_value(sched), &c, NULL, 0)),
	      "schedule is neither null nor a schedule");

	json_t *load = json_object_get(spec, "load");
	json_t *in_load = json_object_get(body, "load");
	CHECK(json_is_object(load) && has_only_keys(load, load_keys), "load has unexpected fields");
	CHECK(one_of(json_object_get(load, "mode"), modes), "load.mode is not a load mode");
	CHECK(json_is_boolean(json_object_get(load, "create")), "load.create is not a boolean");
	CHECK(one_of(json_object_get(load, "validate"), validations), "load.validate is bad");
	json_t *par = json_object_get(load, "parallel");
	CHECK(int_between(par, 1, 64), "load.parallel out of range");
	CHECK(int_between(json_object_get(load, "index_parallel"), 1, 64),
	      "load.index_parallel out of range");
	CHECK(int_between(json_object_get(load, "split_bytes"), 0, SPLIT_BYTES_MAX),
	      "load.split_bytes out of range");
	if (!json_object_get(in_load, "split_bytes"))
		CHECK(json_integer_value(json_object_get(load, "split_bytes")) == SPLIT_BYTES_DEFAULT,
		      "load.split_bytes is not the default");
	CHECK(view_split_bytes(spec) == json_integer_value(json_object_get(load, "split_bytes")),
	      "job_split_bytes disagrees with the normalized job");
	if (!json_object_get(in_load, "parallel"))
		CHECK(json_integer_value(par) == DEFAULT_PARALLEL, "load.parallel is not the default");
	if (!json_object_get(in_load, "index_parallel"))
		CHECK(json_equal(json_object_get(load, "index_parallel"), par),
		      "load.index_parallel does not default to load.parallel");
	CHECK(view_load_mode(spec) && view_validate_mode(spec) && view_load_parallel(spec) >= 1 &&
		      view_index_parallel(spec) >= 1,
	      "an accessor disagrees with the normalized job");

	/* every table's mode is a load mode; an incremental one has a cursor */
	const char *tk;
	json_t *topts;
	json_object_foreach(json_object_get(spec, "tables"), tk, topts) {
		json_t *m = json_object_get(topts, "mode");
		CHECK(!m || one_of(m, modes), "tables.%s.mode is not a load mode", tk);
		CHECK(!m || strcmp(json_string_value(m), "incremental") || json_object_get(topts, "cursor"),
		      "tables.%s is incremental without a cursor", tk);
	}
	static const char *const after_keys[] = {"name", "sql", NULL};
	json_t *after = json_object_get(spec, "after");
	CHECK(json_is_array(after) && json_array_size(after) <= 100, "after is not a list of steps");
	size_t ai;
	json_t *step;
	json_array_foreach(after, ai, step) {
		CHECK(json_is_object(step) && has_only_keys(step, after_keys) &&
			      json_is_string(json_object_get(step, "name")) &&
			      json_is_string(json_object_get(step, "sql")) &&
			      *json_string_value(json_object_get(step, "sql")),
		      "after[%zu] is not {name, sql}", ai);
	}

	json_t *retry = json_object_get(spec, "retry");
	CHECK(json_is_object(retry) && has_only_keys(retry, retry_keys), "retry has unexpected fields");
	CHECK(int_between(json_object_get(retry, "attempts"), 0, 10), "retry.attempts out of range");
	json_t *delay = json_object_get(retry, "delay_s");
	CHECK(json_is_real(delay) && json_real_value(delay) >= 0 && json_real_value(delay) <= 3600,
	      "retry.delay_s is not a number from 0 to 3600");
}

/* Normalizing a normalized job changes nothing, whatever the default parallelism. */
static void check_idempotent(json_t *spec)
{
	struct err e;
	err_clear(&e);
	json_t *again = job_normalize(spec, OTHER_PARALLEL, &e);
	CHECK(again, "a normalized job is rejected: %s: %s", e.code, e.msg);
	CHECK(json_equal(again, spec), "normalizing twice changes the job");
	json_decref(again);
}

/* The job as the API shows it: fields in a fixed order, DSNs redacted, the rest as stored. */
static void check_rendered(json_t *spec)
{
	static const char *const order[] = {"id", "name", "source", "target", "include",
					    "exclude", "tables", "objects", "schemas", "values", "load", "retry",
					    "after", "schedule", "paused", "next_run_at", "created_at", "updated_at",
					    "last_run", NULL};
	json_t *doc = json_deep_copy(spec);
	json_object_set_new(doc, "paused", json_false());
	json_object_set_new(doc, "next_run_at", json_null());
	json_object_set_new(doc, "id", json_string("7d1f0c2e-5b7a-4c1e-9f3a-2b6d8e4f1a90"));
	json_object_set_new(doc, "created_at", json_string("2024-05-01T12:00:00Z"));
	json_object_set_new(doc, "updated_at", json_string("2024-05-02T08:30:00Z"));
	json_object_set_new(doc, "last_run", json_pack("{s:s, s:s}", "id",
						       "0b9c3f4e-1d2a-4e5b-8c7d-6f5e4d3c2b1a",
						       "state", "succeeded"));
	json_t *before = json_deep_copy(doc);
	json_t *out = job_render(doc);
	CHECK(json_equal(doc, before), "job_render changed its input");
	json_decref(before);

	const char *const *want = order;
	const char *k;
	json_t *v;
	json_object_foreach(out, k, v) {
		while (*want && strcmp(*want, k))
			want++;
		CHECK(*want, "rendered field \"%s\" is out of order or unknown", k);
		if (strcmp(k, "source") && strcmp(k, "target"))
			CHECK(json_equal(v, json_object_get(doc, k)), "rendered \"%s\" differs", k);
	}
	CHECK(json_object_size(out) == json_object_size(doc), "job_render dropped a field");
	for (int side = 0; side < 2; side++) {
		const char *key = side ? "target" : "source";
		const char *dsn = side ? job_target_dsn(spec) : job_source_dsn(spec);
		const char *shown = side ? job_target_dsn(out) : job_source_dsn(out);
		char *r = dsn_redact(dsn);
		CHECK(shown && !strcmp(shown, r), "rendered %s.dsn \"%s\" is not dsn_redact: \"%s\"",
		      key, shown ? shown : "(null)", r);
		check_redacted(dsn, shown, "job_render");
		free(r);
	}
	json_decref(out);
	json_decref(doc);
}

/* A glob matches the names it spells; an excluded table is never selected. */
static void check_selection(json_t *spec)
{
	struct qualname q;
	size_t i;
	json_t *g;
	(void)view_selects(spec, "public", "users");
	(void)view_selects(spec, "", "");
	json_array_foreach(json_object_get(spec, "include"), i, g) {
		const char *s = json_string_value(g);
		CHECK(qualname_parse(s, false, &q, "", NULL), "include glob \"%s\" does not parse", s);
		CHECK(glob_match_table(s, q.schema, q.name), "glob \"%s\" does not match itself", s);
	}
	json_array_foreach(json_object_get(spec, "exclude"), i, g) {
		const char *s = json_string_value(g);
		CHECK(qualname_parse(s, false, &q, "", NULL), "exclude glob \"%s\" does not parse", s);
		CHECK(!view_selects(spec, q.schema, q.name), "\"%s\" is excluded yet selected", s);
	}
	const char *key;
	json_t *opts;
	json_object_foreach(json_object_get(spec, "tables"), key, opts) {
		CHECK(qualname_parse(key, false, &q, "", NULL), "tables key \"%s\" does not parse", key);
		json_t *found = view_table_options(spec, q.schema, q.name);
		CHECK(json_is_object(found), "no options found for tables key \"%s\"", key);
	}
}

/* The job with its passwords masked: neither its error nor its rendering shows one. */
static void check_job_canary(json_t *body)
{
	json_t *copy = json_deep_copy(body);
	int swapped = 0;
	for (int side = 0; side < 2; side++) {
		json_t *ep = json_object_get(copy, side ? "target" : "source");
		const char *dsn = json_string_value(json_object_get(ep, "dsn"));
		char *d = dsn ? with_canary(dsn) : NULL;
		if (d) {
			json_object_set_new(ep, "dsn", json_string(d));
			swapped++;
		}
		free(d);
	}
	if (swapped) {
		struct err e;
		err_clear(&e);
		json_t *spec = job_normalize(copy, DEFAULT_PARALLEL, &e);
		if (!spec) {
			CHECK(!strstr(e.msg, CANARY) && !strstr(e.field, CANARY),
			      "job_normalize error repeats a password: %s", e.msg);
		} else {
			json_t *out = job_render(spec);
			char *text = json_dumps(out, JSON_COMPACT);
			CHECK(!strstr(text, CANARY), "job_render shows a password: %s", text);
			free(text);
			json_decref(out);
			json_decref(spec);
		}
	}
	json_decref(copy);
}

/* The body as ferryd's HTTP layer parses it, then validated, stored and shown. */
static void fuzz_job(const uint8_t *data, size_t size, bool canary_free)
{
	json_error_t jerr;
	json_t *body = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &jerr);
	if (!body)
		return;
	struct err e;
	err_clear(&e);
	json_t *spec = job_normalize(body, DEFAULT_PARALLEL, &e);
	if (spec) {
		check_normalized(spec, body);
		check_idempotent(spec);
		check_rendered(spec);
		check_selection(spec);
		json_decref(spec);
	} else {
		check_err(&e, "job_normalize");
	}
	if (canary_free && json_is_object(body))
		check_job_canary(body);
	json_decref(body);
}

/* ---- the raw bytes as one string ---- */

static void fuzz_names(const char *s)
{
	struct qualname q, again;
	struct err e;
	for (int bare = 0; bare < 2; bare++) {
		err_clear(&e);
		if (!qualname_parse(s, bare, &q, "tables.x", &e)) {
			check_err(&e, "qualname_parse");
			continue;
		}
		CHECK(q.name[0] && (bare || q.schema[0]), "\"%s\" parses to an empty part", s);
		if (!q.schema[0])
			continue;
		char buf[700];
		qualname_format(&q, buf, sizeof(buf));
		CHECK(qualname_parse(buf, false, &again, "", NULL), "\"%s\" formats to \"%s\", which does not parse", s, buf);
		CHECK(!strcmp(q.schema, again.schema) && !strcmp(q.name, again.name),
		      "\"%s\" formats to \"%s\", which parses differently", s, buf);
	}
	err_clear(&e);
	if (glob_validate(s, "include[0]", &e)) {
		CHECK(qualname_parse(s, false, &q, "", NULL), "valid glob \"%s\" does not parse", s);
		CHECK(glob_match_table(s, q.schema, q.name), "glob \"%s\" does not match itself", s);
	} else {
		check_err(&e, "glob_validate");
	}
	(void)glob_match_table(s, "public", "users");
	CHECK(glob_match(s, s), "\"%s\" does not match itself", s);
	CHECK(glob_match("*", s), "* does not match \"%s\"", s);
}

static void fuzz_dsn(const char *s, bool canary_free)
{
	struct err e;
	err_clear(&e);
	bool ok = dsn_validate(s, "source.dsn", &e);
	const char *kind = dsn_kind(s);
	if (!kind) {
		CHECK(!ok, "dsn_validate(\"%s\") takes an unknown scheme", s);
	} else if (!strcmp(kind, "mysql")) {
		struct dsn_mysql d;
		bool parsed = dsn_mysql_parse(s, &d, "source.dsn", NULL);
		CHECK(ok == parsed, "dsn_validate(\"%s\") = %d disagrees with the MySQL parser", s, ok);
		if (parsed) {
			CHECK(d.host && d.database && (d.socket || (d.port > 0 && d.port < 65536)),
			      "\"%s\" parses without a host, database or port", s);
			dsn_mysql_release(&d);
		}
	} else {
		PQconninfoOption *opts = PQconninfoParse(s, NULL);
		CHECK(ok == (*s && opts), "dsn_validate(\"%s\") = %d disagrees with libpq", s, ok);
		PQconninfoFree(opts);
	}
	if (!ok)
		check_err(&e, "dsn_validate");

	char *r = dsn_redact(s);
	check_redacted(s, r, "dsn_redact");

	char *pw = pq_password(s);
	char *scrubbed = dsn_scrub(s, s);
	/* a password made of '*' can reappear next to the "***" put in its place */
	if (pw && !strchr(pw, '*'))
		CHECK(!strstr(scrubbed, pw), "dsn_scrub leaves password \"%s\" in \"%s\"", pw, scrubbed);
	if (!pw)
		CHECK(!strcmp(scrubbed, s), "dsn_scrub changed \"%s\" without a password", s);
	char *plain = dsn_scrub(s, NULL);
	CHECK(!strcmp(plain, s), "dsn_scrub without a dsn changed \"%s\"", s);
	CHECK(!dsn_scrub(NULL, s), "dsn_scrub(NULL) is not NULL");
	free(plain);
	free(scrubbed);
	free(pw);
	free(r);
	if (canary_free)
		check_dsn_canary(s);
}

static int count_params(const char *pattern)
{
	int n = 0;
	for (const char *p = pattern; (p = strstr(p, "{}")); p += 2)
		n++;
	return n;
}

static void fuzz_routes(const char *s)
{
	static const char *const patterns[] = {"/api/v1/jobs/{}/runs", "/api/v1/jobs/{}", "/{}",
					       "/{}/{}/{}/{}", "/{}/{}/{}/{}/{}", NULL};
	static const struct route table[] = {
		{"GET", "/api/v1/jobs/{}/runs", NULL, ROUTE_BODY_NONE},
		{"POST", "/api/v1/jobs/{}/runs", NULL, ROUTE_BODY_OPTIONAL},
		{"DELETE", "/api/v1/jobs/{}", NULL, ROUTE_BODY_NONE},
		{"PUT", "/api/v1/jobs/{}", NULL, ROUTE_BODY_JSON},
		{"GET", "/{}", NULL, ROUTE_BODY_NONE | ROUTE_FALLBACK},
		{NULL, NULL, NULL, 0},
	};
	struct route_params p;
	for (const char *const *pat = patterns; *pat; pat++) {
		if (!route_match(*pat, s, &p))
			continue;
		CHECK(p.n == count_params(*pat) && p.n <= ROUTE_MAX_PARAMS,
		      "\"%s\" matches \"%s\" with %d parameters", s, *pat, p.n);
		for (int i = 0; i < p.n; i++)
			CHECK(p.v[i] >= p.buf && p.v[i] + strlen(p.v[i]) < p.buf + sizeof(p.buf) &&
				      *p.v[i],
			      "parameter %d of \"%s\" is empty or outside the buffer", i, s);
	}
	char allow[12];
	bool known;
	const struct route *r = route_find(table, "PATCH", s, &p, allow, sizeof(allow), &known);
	CHECK(!r && strlen(allow) < sizeof(allow), "route_find: PATCH found or Allow overflowed");
	CHECK(known == (allow[0] != '\0'), "route_find: path known but no Allow for \"%s\"", s);
	r = route_find(table, "GET", s, &p, allow, sizeof(allow), &known);
	CHECK(!r || !strcmp(r->method, "GET"), "route_find(GET) returned %s", r->method);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	bool canary_free = !memmem(data, size, CANARY, strlen(CANARY));
	char *s = xstrndup((const char *)data, size); /* ends at the first NUL */
	fuzz_job(data, size, canary_free);
	fuzz_names(s);
	fuzz_dsn(s, canary_free);
	fuzz_routes(s);
	free(s);
	return 0;
}

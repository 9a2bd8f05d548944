/* core/engine/backfill.c: backfills: a cursor range of a job split into windows, one run each */
#include "backfill.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sql.h"
#include "util.h"
#include "banned.h"

#define WHEN_HELP "a date (YYYY-MM-DD) or a timestamp (YYYY-MM-DDTHH:MM:SS, UTC unless it names a zone)"
#define STEP_HELP "an interval such as \"1 day\" or \"6 hours\""

/* A backfill request after validation. */
struct range {
	bool integers;
	long long from, to, step; /* integer ranges */
	const char *from_s, *to_s, *step_s; /* borrowed, date and timestamp ranges */
	char from_text[32], to_text[32], step_text[32];
};

/* n decimal digits at *p into *out; advances *p. */
static bool digits(const char **p, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return false;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*out = v;
	return true;
}

static int days_in_month(int y, int m)
{
	static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return m == 2 && leap ? 29 : days[m - 1];
}

/* Optional zone at *p: Z, or +HH, +HHMM, +HH:MM (or -); minutes east of UTC in *off. */
static bool parse_zone(const char **p, int *off)
{
	*off = 0;
	if (**p == 'Z' || **p == 'z') {
		(*p)++;
		return true;
	}
	if (**p != '+' && **p != '-')
		return true;
	int sign = **p == '-' ? -1 : 1, h, m = 0;
	(*p)++;
	if (!digits(p, 2, &h))
		return false;
	if (**p == ':')
		(*p)++;
	if (isdigit((unsigned char)**p) && !digits(p, 2, &m))
		return false;
	*off = sign * (h * 60 + m);
	return h <= 15 && m <= 59;
}

/*
 * "YYYY-MM-DD", optionally followed by "THH:MM[:SS[.ffffff]]" (or a space
 * for the T) and a zone, as microseconds since the epoch; UTC unless a zone
 * is given. False when s is not such a moment.
 */
static bool parse_when(const char *s, long long *us)
{
	const char *p = s;
	int y, mo, d, h = 0, mi = 0, sec = 0, off = 0;
	long frac = 0;
	if (!digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &mo) || *p++ != '-' ||
	    !digits(&p, 2, &d))
		return false;
	if (*p == 'T' || *p == 't' || *p == ' ') {
		p++;
		if (!digits(&p, 2, &h) || *p++ != ':' || !digits(&p, 2, &mi))
			return false;
		if (*p == ':') {
			p++;
			if (!digits(&p, 2, &sec))
				return false;
			if (*p == '.') {
				int nd = 0;
				for (p++; isdigit((unsigned char)*p) && nd < 6; p++, nd++)
					frac = frac * 10 + (*p - '0');
				if (nd == 0 || isdigit((unsigned char)*p))
					return false;
				for (; nd < 6; nd++)
					frac *= 10;
			}
		}
	}
	if (!parse_zone(&p, &off) || *p)
		return false;
	if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 ||
	    sec > 59)
		return false;
	struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h,
			.tm_min = mi, .tm_sec = sec};
	*us = ((long long)timegm(&tm) - off * 60LL) * 1000000LL + frac;
	return true;
}

/* "<n> <unit>" one or more times, units from seconds to years; every n from 1 to 1000000. */
static bool interval_ok(const char *s)
{
	static const char *const units[] = {"second", "minute", "hour", "day", "week", "month",
					    "year", NULL};
	const char *p = s;
	int parts = 0;
	while (*p) {
		while (*p == ' ')
			p++;
		if (!*p)
			break;
		long n = 0;
		const char *d = p;
		while (isdigit((unsigned char)*p) && n <= 1000000)
			n = n * 10 + (*p++ - '0');
		if (p == d || n < 1 || n > 1000000)
			return false;
		while (*p == ' ')
			p++;
		size_t len = 0;
		while (isalpha((unsigned char)p[len]))
			len++;
		bool known = false;
		for (const char *const *u = units; *u && !known; u++) {
			size_t ul = strlen(*u);
			known = (len == ul || (len == ul + 1 && p[ul] == 's')) && !strncmp(p, *u, ul);
		}
		if (!known)
			return false;
		p += len;
		parts++;
	}
	return parts > 0 && strlen(s) < 64;
}

static bool check_keys(json_t *body, struct err *e)
{
	if (!json_is_object(body))
		return err_set(e, 400, "invalid_json", NULL, "the request body must be a JSON object");
	const char *key;
	json_t *v;
	json_object_foreach(body, key, v) {
		if (strcmp(key, "from") && strcmp(key, "to") && strcmp(key, "step"))
			return err_set(e, 400, "unknown_field", key, "unknown field \"%s\"", key);
	}
	static const char *const need[] = {"from", "to", "step"};
	for (int i = 0; i < 3; i++)
		if (!json_object_get(body, need[i]))
			return err_set(e, 400, "missing_field", need[i], "\"%s\" is required", need[i]);
	return true;
}

static bool integer_range(json_t *from, json_t *to, json_t *step, struct range *r,
			  struct err *e)
{
	r->integers = true;
	r->from = json_integer_value(from);
	r->to = json_integer_value(to);
	if (r->from >= r->to)
		return err_set(e, 400, "invalid_field", "to", "\"to\" (%lld) must be greater than \"from\" (%lld)",
			       r->to, r->from);
	if (!json_is_integer(step) || json_integer_value(step) < 1)
		return err_set(e, 400, "invalid_field", "step",
			       "for an integer range, \"step\" must be a positive integer");
	r->step = json_integer_value(step);
	unsigned long long span = (unsigned long long)r->to - (unsigned long long)r->from;
	unsigned long long n = span / (unsigned long long)r->step +
			       (span % (unsigned long long)r->step != 0);
	if (n > BACKFILL_MAX_WINDOWS)
		return err_set(e, 400, "invalid_field", "step",
			       "from %lld to %lld in steps of %lld makes %llu windows, more than %d; use a larger \"step\"",
			       r->from, r->to, r->step, n, BACKFILL_MAX_WINDOWS);
	snprintf(r->from_text, sizeof(r->from_text), "%lld", r->from);
	snprintf(r->to_text, sizeof(r->to_text), "%lld", r->to);
	snprintf(r->step_text, sizeof(r->step_text), "%lld", r->step);
	r->from_s = r->from_text;
	r->to_s = r->to_text;
	r->step_s = r->step_text;
	return true;
}

static bool time_range(json_t *from, json_t *to, json_t *step, struct range *r, struct err *e)
{
	long long f, t;
	r->integers = false;
	r->from_s = json_string_value(from);
	r->to_s = json_string_value(to);
	if (strlen(r->from_s) > 40 || !parse_when(r->from_s, &f))
		return err_set(e, 400, "invalid_field", "from", "\"from\" must be %s; got \"%.40s\"",
			       WHEN_HELP, r->from_s);
	if (strlen(r->to_s) > 40 || !parse_when(r->to_s, &t))
		return err_set(e, 400, "invalid_field", "to", "\"to\" must be %s; got \"%.40s\"",
			       WHEN_HELP, r->to_s);
	if (f >= t)
		return err_set(e, 400, "invalid_field", "to", "\"to\" (%s) must be after \"from\" (%s)",
			       r->to_s, r->from_s);
	if (!json_is_string(step) || !interval_ok(json_string_value(step)))
		return err_set(e, 400, "invalid_field", "step",
			       "for a date or timestamp range, \"step\" must be %s", STEP_HELP);
	r->step_s = json_string_value(step);
	return true;
}

static bool range_parse(json_t *body, struct range *r, struct err *e)
{
	if (!check_keys(body, e))
		return false;
	json_t *from = json_object_get(body, "from"), *to = json_object_get(body, "to");
	json_t *step = json_object_get(body, "step");
	if (!json_is_integer(from) && !json_is_string(from))
		return err_set(e, 400, "invalid_field", "from",
			       "\"from\" must be an integer or %s", WHEN_HELP);
	if (json_is_integer(from) != json_is_integer(to) || (!json_is_integer(to) && !json_is_string(to)))
		return err_set(e, 400, "invalid_field", "to",
			       "\"to\" must be of the same kind as \"from\": both integers, or both dates or timestamps");
	return json_is_integer(from) ? integer_range(from, to, step, r, e)
				     : time_range(from, to, step, r, e);
}

/* The windows of an integer range, as a new JSON array. */
static json_t *integer_windows(const struct range *r)
{
	json_t *arr = json_array();
	long long lo = r->from;
	for (;;) {
		long long hi = (unsigned long long)r->to - (unsigned long long)lo <= (unsigned long long)r->step
				   ? r->to
				   : lo + r->step;
		json_array_append_new(arr, json_pack("{s:I,s:I}", "from", (json_int_t)lo, "to",
						     (json_int_t)hi));
		if (hi == r->to)
			return arr;
		lo = hi;
	}
}

/* The windows of a date or timestamp range, computed by PostgreSQL (new JSON array), or NULL. */
static json_t *time_windows(struct meta *m, const struct range *r, struct err *e)
{
	char limit[16];
	snprintf(limit, sizeof(limit), "%d", BACKFILL_MAX_WINDOWS + 1);
	const char *p[] = {r->from_s, r->to_s, r->step_s, limit};
	struct meta_rows *res = meta_exec(m, sql_backfill_windows, 4, p, e);
	if (!res)
		return NULL;
	long n = atol(meta_value(res, 0, 0));
	json_t *arr = n > BACKFILL_MAX_WINDOWS ? NULL : json_loads(meta_value(res, 0, 1), 0, NULL);
	meta_rows_free(res);
	if (n > BACKFILL_MAX_WINDOWS)
		err_set(e, 400, "invalid_field", "step",
			"from %s to %s in steps of \"%s\" makes more than %d windows; use a larger \"step\"",
			r->from_s, r->to_s, r->step_s, BACKFILL_MAX_WINDOWS);
	else if (!arr || json_array_size(arr) == 0)
		err_set(e, 400, "invalid_field", "step", "\"step\" must be %s", STEP_HELP);
	if (err_is_set(e)) {
		json_decref(arr);
		return NULL;
	}
	return arr;
}

json_t *backfill_create(struct meta *m, const char *job_id, json_t *body, struct err *e)
{
	struct range r;
	memset(&r, 0, sizeof(r));
	if (!range_parse(body, &r, e))
		return NULL;
	json_t *windows = r.integers ? integer_windows(&r) : time_windows(m, &r, e);
	if (!windows)
		return NULL;
	char id[37];
	uuid_new(id);
	char *text = json_dumps(windows, JSON_COMPACT);
	const char *p[] = {id, job_id, r.from_s, r.to_s, r.step_s, text};
	struct meta_rows *res = meta_exec(m, sql_backfill_insert, 6, p, e);
	free(text);
	json_decref(windows);
	if (!res) {
		if (e->status == 409)
			err_set(e, 409, "conflict", NULL,
				"the job already has a running backfill; cancel it or wait until it ends");
		return NULL;
	}
	meta_rows_free(res);
	return backfill_get(m, id, e);
}

json_t *backfill_get(struct meta *m, const char *id, struct err *e)
{
	const char *p[] = {id};
	if (!str_is_uuid(id)) {
		err_set(e, 404, "not_found", NULL, "backfill \"%s\" not found", id);
		return NULL;
	}
	json_t *doc = meta_doc(m, sql_backfill_get, 1, p, "backfill", e);
	if (!doc && e->status == 404)
		err_set(e, 404, "not_found", NULL, "backfill \"%s\" not found", id);
	return doc;
}

json_t *backfill_list(struct meta *m, const char *job_id, long limit, long offset,
		      struct err *e)
{
	char l[24], o[24];
	snprintf(l, sizeof(l), "%ld", limit);
	snprintf(o, sizeof(o), "%ld", offset);
	const char *p[] = {job_id, l, o};
	long long total = meta_count(m, sql_backfill_count, 1, p, e);
	json_t *items = total < 0 ? NULL : meta_docs(m, sql_backfill_list, 3, p, e);
	if (!items)
		return NULL;
	return json_pack("{s:o,s:I,s:I,s:I}", "items", items, "total", (json_int_t)total, "limit",
			 (json_int_t)limit, "offset", (json_int_t)offset);
}

json_t *backfill_cancel(struct meta *m, struct engine *en, const char *id, struct err *e)
{
	json_t *doc = backfill_get(m, id, e);
	if (!doc)
		return NULL;
	json_decref(doc);
	const char *p[] = {id};
	struct meta_rows *res = meta_exec(m, sql_backfill_cancel, 1, p, e);
	if (!res)
		return NULL;
	char run_id[37] = "";
	bool cancelled = meta_nrows(res) > 0;
	if (cancelled)
		str_copy(run_id, sizeof(run_id), meta_value(res, 0, 0));
	meta_rows_free(res);
	if (!cancelled) {
		doc = backfill_get(m, id, e);
		if (doc)
			err_set(e, 409, "conflict", NULL, "backfill %s has already finished (%s)", id,
				json_string_value(json_object_get(doc, "state")));
		json_decref(doc);
		return NULL;
	}
	if (*run_id) {
		/* a window run that has finished by now is no error */
		struct err ce;
		err_clear(&ce);
		engine_cancel_run(en, run_id, &ce);
	}
	return backfill_get(m, id, e);
}

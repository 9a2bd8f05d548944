/* core/lib/cron.c: job schedules: cron expressions, @aliases and @every intervals, in UTC */
#include "cron.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "banned.h"

#define CRON_YEARS 30
#define EVERY_MAX_S (366L * 24 * 3600)

struct field_spec {
	const char *name;
	int lo, hi;
	const char *const *names; /* names[i] stands for lo + i; NULL when none */
};

static const char *const month_names[] = {"jan", "feb", "mar", "apr", "may", "jun", "jul",
					  "aug", "sep", "oct", "nov", "dec", NULL};
static const char *const dow_names[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL};

static const struct field_spec fields[5] = {
	{"minute", 0, 59, NULL},
	{"hour", 0, 23, NULL},
	{"day-of-month", 1, 31, NULL},
	{"month", 1, 12, month_names},
	{"day-of-week", 0, 7, dow_names},
};

static const struct {
	const char *alias;
	const char *expr;
} aliases[] = {
	{"@hourly", "0 * * * *"},  {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
	{"@weekly", "0 0 * * 0"},  {"@monthly", "0 0 1 * *"},  {"@yearly", "0 0 1 1 *"},
	{"@annually", "0 0 1 1 *"},
};

static bool fail(char *why, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static bool fail(char *why, size_t n, const char *fmt, ...)
{
	if (n) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(why, n, fmt, ap);
		va_end(ap);
	}
	return false;
}

/* One value of a field at *p (a number or a name); advances *p. */
static bool parse_value(const struct field_spec *f, const char **p, int *out, char *why,
			size_t n)
{
	const char *s = *p;
	if (isdigit((unsigned char)*s)) {
		long v = 0;
		while (isdigit((unsigned char)*s) && v < 100000)
			v = v * 10 + (*s++ - '0');
		if (isdigit((unsigned char)*s) || v < f->lo || v > f->hi)
			return fail(why, n, "%s field: %.*s is out of range %d-%d", f->name,
				    (int)strspn(*p, "0123456789"), *p, f->lo, f->hi);
		*out = (int)v;
		*p = s;
		return true;
	}
	size_t len = 0;
	while (isalpha((unsigned char)s[len]))
		len++;
	for (int i = 0; f->names && len == 3 && f->names[i]; i++) {
		if (!strncasecmp(s, f->names[i], 3)) {
			*out = f->lo + i;
			*p = s + 3;
			return true;
		}
	}
	size_t shown = len ? len : strcspn(s, ",-/");
	return fail(why, n, "%s field: \"%.*s\" is not a %s", f->name, (int)(shown ? shown : 1), s,
		    f->names ? "number or a name" : "number");
}

/* One list item: "*", "v", "a-b", each optionally "/step"; "v/step" runs to the top. */
static bool parse_item(const struct field_spec *f, const char *item, uint64_t *bits,
		       char *why, size_t n)
{
	int lo = f->lo, hi = f->hi, step = 1;
	const char *p = item;
	bool range = false;
	if (*p == '*') {
		p++;
		range = true;
		if (f->lo == 0 && f->hi == 7)
			hi = 6; /* Sunday once, as 0 */
	} else {
		if (!parse_value(f, &p, &lo, why, n))
			return false;
		hi = lo;
		if (*p == '-') {
			p++;
			if (!parse_value(f, &p, &hi, why, n))
				return false;
			if (hi < lo)
				return fail(why, n, "%s field: range %d-%d runs backwards", f->name, lo, hi);
			range = true;
		}
	}
	if (*p == '/') {
		p++;
		long s = 0;
		const char *d = p;
		while (isdigit((unsigned char)*p) && s <= f->hi + 1)
			s = s * 10 + (*p++ - '0');
		if (p == d || *p || s < 1 || s > f->hi)
			return fail(why, n, "%s field: bad step \"/%s\" (want a number from 1 to %d)",
				    f->name, d, f->hi);
		step = (int)s;
		if (!range)
			hi = f->lo == 0 && f->hi == 7 ? 6 : f->hi;
	}
	if (*p)
		return fail(why, n, "%s field: unexpected \"%s\" in \"%s\"", f->name, p, item);
	for (int v = lo; v <= hi; v += step)
		*bits |= (uint64_t)1 << (f->lo == 0 && f->hi == 7 && v == 7 ? 0 : v);
	return true;
}

static bool parse_field(const struct field_spec *f, const char *text, uint64_t *bits,
			bool *star, char *why, size_t n)
{
	char item[64];
	const char *p = text;
	*bits = 0;
	*star = text[0] == '*';
	for (;;) {
		size_t len = strcspn(p, ",");
		if (len == 0)
			return fail(why, n, "%s field: empty list item in \"%s\"", f->name, text);
		if (len >= sizeof(item))
			return fail(why, n, "%s field: \"%.20s…\" is too long", f->name, p);
		memcpy(item, p, len);
		item[len] = '\0';
		if (!parse_item(f, item, bits, why, n))
			return false;
		if (!p[len])
			return true;
		p += len + 1;
	}
}

static bool parse_fields(const char *expr, struct cron *c, char *why, size_t n)
{
	char buf[256];
	char *parts[6];
	int count = 0;
	if (strlen(expr) >= sizeof(buf))
		return fail(why, n, "schedule is too long (at most %zu characters)", sizeof(buf) - 1);
	memcpy(buf, expr, strlen(expr) + 1);
	for (char *p = buf; *p && count < 6;) {
		while (isspace((unsigned char)*p))
			*p++ = '\0';
		if (!*p)
			break;
		parts[count++] = p;
		while (*p && !isspace((unsigned char)*p))
			p++;
	}
	if (count != 5)
		return fail(why, n,
			    "expected 5 fields (minute hour day-of-month month day-of-week)%s, got %s%d",
			    " or an @alias", count > 5 ? "more than " : "", count > 5 ? 5 : count);
	uint64_t bits[5];
	bool star[5];
	for (int i = 0; i < 5; i++)
		if (!parse_field(&fields[i], parts[i], &bits[i], &star[i], why, n))
			return false;
	memset(c, 0, sizeof(*c));
	c->kind = CRON_FIELDS;
	c->minute = bits[0];
	c->hour = (uint32_t)bits[1];
	c->dom = (uint32_t)bits[2];
	c->month = (uint16_t)bits[3];
	c->dow = (uint8_t)bits[4];
	c->dom_any = star[2];
	c->dow_any = star[4];
	return true;
}

static bool parse_every(const char *arg, struct cron *c, char *why, size_t n)
{
	while (isspace((unsigned char)*arg))
		arg++;
	char *end;
	errno = 0;
	long v = isdigit((unsigned char)*arg) ? strtol(arg, &end, 10) : 0;
	if (!isdigit((unsigned char)*arg) || errno || !strchr("smh", *end) || !*end ||
	    end[1 + strspn(end + 1, " \t")])
		return fail(why, n, "@every needs a duration such as 30s, 5m or 2h, not \"%s\"", arg);
	long unit = *end == 's' ? 1 : *end == 'm' ? 60 : 3600;
	if (v < 1 || v > EVERY_MAX_S / unit)
		return fail(why, n, "@every %s is out of range: from 1s up to 366 days", arg);
	memset(c, 0, sizeof(*c));
	c->kind = CRON_EVERY;
	c->every = v * unit;
	return true;
}

bool cron_parse(const char *expr, struct cron *out, char *why, size_t n)
{
	if (!expr)
		return fail(why, n, "schedule is empty");
	while (isspace((unsigned char)*expr))
		expr++;
	if (!*expr)
		return fail(why, n, "schedule is empty");
	if (*expr != '@')
		return parse_fields(expr, out, why, n);
	size_t len = strcspn(expr, " \t");
	if (len == 6 && !strncasecmp(expr, "@every", 6))
		return parse_every(expr + 6, out, why, n);
	bool rest = expr[len + strspn(expr + len, " \t")] != '\0';
	if (len == 5 && !strncasecmp(expr, "@once", 5) && !rest) {
		memset(out, 0, sizeof(*out));
		out->kind = CRON_ONCE;
		return true;
	}
	for (size_t i = 0; !rest && i < sizeof(aliases) / sizeof(aliases[0]); i++)
		if (strlen(aliases[i].alias) == len && !strncasecmp(expr, aliases[i].alias, len))
			return parse_fields(aliases[i].expr, out, why, n);
	return fail(why, n,
		    "unknown schedule \"%.40s\": use @once, @hourly, @daily, @weekly, @monthly, "
		    "@yearly, @every <n>s|m|h or five cron fields",
		    expr);
}

static bool day_matches(const struct cron *c, const struct tm *tm)
{
	bool dom = c->dom & (1u << tm->tm_mday);
	bool dow = c->dow & (1u << tm->tm_wday);
	if (c->dom_any || c->dow_any)
		return dom && dow;
	return dom || dow;
}

/* Let timegm carry overflowing fields of *tm into the others; returns the time. */
static time_t normalize(struct tm *tm)
{
	time_t t = timegm(tm);
	gmtime_r(&t, tm);
	return t;
}

bool cron_next(const struct cron *c, time_t after, time_t *next)
{
	if (c->kind == CRON_ONCE)
		return false;
	if (c->kind == CRON_EVERY) {
		time_t q = after / c->every - (after < 0 && after % c->every);
		*next = (q + 1) * c->every;
		return true;
	}
	time_t t = after - (after % 60 + 60) % 60 + 60;
	struct tm tm;
	gmtime_r(&t, &tm);
	int last_year = tm.tm_year + CRON_YEARS;
	while (tm.tm_year <= last_year) {
		if (!(c->month & (1u << (tm.tm_mon + 1)))) {
			tm.tm_mon++;
			tm.tm_mday = 1;
			tm.tm_hour = tm.tm_min = 0;
		} else if (!day_matches(c, &tm)) {
			tm.tm_mday++;
			tm.tm_hour = tm.tm_min = 0;
		} else if (!(c->hour & (1u << tm.tm_hour))) {
			tm.tm_hour++;
			tm.tm_min = 0;
		} else if (!(c->minute & ((uint64_t)1 << tm.tm_min))) {
			tm.tm_min++;
		} else {
			*next = timegm(&tm);
			return true;
		}
		normalize(&tm);
	}
	return false;
}

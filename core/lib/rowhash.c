/* core/lib/rowhash.c: an order-independent checksum of rows in COPY text, equal for equal values whichever database printed them */
#include "rowhash.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

static const char *const kind_names[] = {
	[RH_TEXT] = "text",		  [RH_CHAR] = "char",	  [RH_INT] = "int",
	[RH_FLOAT4] = "float4",		  [RH_FLOAT8] = "float8", [RH_TIMESTAMP] = "timestamp",
	[RH_TIMESTAMPTZ] = "timestamptz", [RH_JSON] = "json",
};

const char *rh_kind_name(enum rh_kind k)
{
	return (size_t)k < sizeof(kind_names) / sizeof(kind_names[0]) ? kind_names[k] : "text";
}

enum rh_kind rh_kind_parse(const char *name)
{
	for (size_t i = 0; name && i < sizeof(kind_names) / sizeof(kind_names[0]); i++)
		if (!strcmp(kind_names[i], name))
			return (enum rh_kind)i;
	return RH_TEXT;
}

static bool starts(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

enum rh_kind rh_kind_of(const char *t)
{
	if (starts(t, "character(") || starts(t, "char(") || !strcmp(t, "character") || !strcmp(t, "bpchar"))
		return RH_CHAR;
	if (!strcmp(t, "smallint") || !strcmp(t, "integer") || !strcmp(t, "bigint"))
		return RH_INT;
	if (!strcmp(t, "real"))
		return RH_FLOAT4;
	if (!strcmp(t, "double precision"))
		return RH_FLOAT8;
	if (starts(t, "timestamp") && strstr(t, "with time zone"))
		return RH_TIMESTAMPTZ;
	if (starts(t, "timestamp") || starts(t, "time(") || !strcmp(t, "time") ||
	    starts(t, "time without") || starts(t, "interval"))
		return RH_TIMESTAMP;
	if (!strcmp(t, "jsonb") || !strcmp(t, "json"))
		return RH_JSON;
	return RH_TEXT;
}

/* FNV-1a over s[0..n), continuing from h. */
static uint64_t fnv(uint64_t h, const void *s, size_t n)
{
	const unsigned char *p = s;
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* splitmix64's finalizer: spreads the bits, so that sums of hashes of similar rows do not cancel. */
static uint64_t mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

/* Undo COPY's escapes of one field into out. */
static void unescape(const char *s, size_t n, struct sb *out)
{
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '\\' && i + 1 < n) {
			c = s[++i];
			switch (c) {
			case 't':
				c = '\t';
				break;
			case 'n':
				c = '\n';
				break;
			case 'r':
				c = '\r';
				break;
			case 'b':
				c = '\b';
				break;
			case 'f':
				c = '\f';
				break;
			case 'v':
				c = '\v';
				break;
			default:
				break;
			}
		}
		sb_addc(out, c);
	}
}

/* Drop a fraction's trailing zeros (and its point) from a timestamp or time in s. */
static void trim_fraction(struct sb *s, bool tz)
{
	if (tz && s->len >= 3 && !strcmp(s->buf + s->len - 3, "+00"))
		s->buf[s->len -= 3] = '\0';
	char *dot = strrchr(s->buf, '.');
	if (!dot || strchr(dot, ' ') || strchr(dot, ':'))
		return;
	size_t end = s->len;
	while (end > (size_t)(dot - s->buf) + 1 && s->buf[end - 1] == '0')
		end--;
	if (end == (size_t)(dot - s->buf) + 1)
		end--;
	s->buf[s->len = end] = '\0';
}

/* The field's value in one form, appended to the hash. */
static uint64_t hash_field(uint64_t h, const char *f, size_t n, enum rh_kind k, struct sb *tmp)
{
	if (n == 2 && f[0] == '\\' && f[1] == 'N')
		return fnv(h, "\x01N", 2);
	sb_reset(tmp);
	unescape(f, n, tmp);
	switch (k) {
	case RH_CHAR:
		while (tmp->len && tmp->buf[tmp->len - 1] == ' ')
			tmp->buf[--tmp->len] = '\0';
		break;
	case RH_INT: {
		long long v = strtoll(tmp->buf, NULL, 10);
		return fnv(h, &v, sizeof(v));
	}
	case RH_FLOAT4: {
		float v = strtof(tmp->buf, NULL);
		return fnv(h, &v, sizeof(v));
	}
	case RH_FLOAT8: {
		double v = strtod(tmp->buf, NULL);
		return fnv(h, &v, sizeof(v));
	}
	case RH_TIMESTAMP:
	case RH_TIMESTAMPTZ:
		trim_fraction(tmp, k == RH_TIMESTAMPTZ);
		break;
	case RH_JSON: {
		json_t *v = json_loadb(tmp->buf, tmp->len, JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL, NULL);
		char *text = v ? json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY) : NULL;
		json_decref(v);
		if (text) {
			h = fnv(h, text, strlen(text));
			free(text);
			return fnv(h, "\x1f", 1);
		}
		break;
	}
	case RH_TEXT:
		break;
	}
	h = fnv(h, tmp->buf, tmp->len);
	return fnv(h, "\x1f", 1);
}

uint64_t rh_row(const char *line, size_t len, const enum rh_kind *kinds, int n, struct sb *scratch)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t start = 0;
	int col = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && line[i] != '\t')
			continue;
		h = hash_field(h, line + start, i - start, col < n ? kinds[col] : RH_TEXT, scratch);
		col++;
		start = i + 1;
	}
	return mix(h);
}

/* core/dsn.c: PostgreSQL connection strings: validation and password redaction */
#include "dsn.h"

#include <ctype.h>
#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>

#include "sb.h"
#include "util.h"
#include "banned.h"

/*
 * libpq quotes pieces of the string it could not parse; keep a quoted piece
 * only when it also stands in the redacted DSN, so no password slips through.
 */
static char *hide_echo(const char *msg, const char *dsn)
{
	char *redacted = dsn_redact(dsn);
	struct sb out;
	sb_init(&out);
	const char *p = msg;
	const char *open;
	while ((open = strchr(p, '"'))) {
		const char *close = strchr(open + 1, '"');
		if (!close)
			break;
		sb_add(&out, p, (size_t)(open - p));
		char *piece = xstrndup(open + 1, (size_t)(close - open - 1));
		if (strstr(redacted, piece))
			sb_add(&out, open, (size_t)(close - open + 1));
		else
			sb_adds(&out, "(hidden)");
		free(piece);
		p = close + 1;
	}
	sb_adds(&out, p);
	free(redacted);
	return sb_detach(&out);
}

bool dsn_validate(const char *dsn, const char *field, struct err *e)
{
	char *errmsg = NULL;
	if (!*dsn)
		return err_set(e, 400, "invalid_field", field, "connection string is empty");
	PQconninfoOption *opts = PQconninfoParse(dsn, &errmsg);
	if (!opts) {
		char *clean = hide_echo(errmsg ? errmsg : "", dsn);
		size_t n = strlen(clean);
		while (n && (clean[n - 1] == '\n' || clean[n - 1] == '.'))
			clean[--n] = '\0';
		err_set(e, 400, "invalid_field", field, "malformed connection string: %s",
			*clean ? clean : "cannot parse");
		free(clean);
		PQfreemem(errmsg);
		return false;
	}
	PQconninfoFree(opts);
	return true;
}

static bool is_uri(const char *s)
{
	return !strncmp(s, "postgresql://", 13) || !strncmp(s, "postgres://", 11);
}

/* True when the query key k[0..n) percent-decodes to "password". */
static bool is_password_key(const char *k, size_t n)
{
	static const char want[] = "password";
	size_t w = 0;
	for (size_t i = 0; i < n; i++, w++) {
		char c = k[i];
		if (c == '%') {
			if (i + 2 >= n || !isxdigit((unsigned char)k[i + 1]) ||
			    !isxdigit((unsigned char)k[i + 2]))
				return false;
			char hex[3] = {k[i + 1], k[i + 2], '\0'};
			c = (char)strtol(hex, NULL, 16);
			i += 2;
		}
		if (w >= sizeof(want) - 1 || c != want[w])
			return false;
	}
	return w == sizeof(want) - 1;
}

/*
 * Redact the URI's user-info password and any password query parameter.
 * libpq ends the user info at the first '@' before any '/'; hiding up to
 * the last one covers that and any '@' inside the password.
 */
static void redact_uri(const char *dsn, struct sb *out)
{
	const char *p = strstr(dsn, "://") + 3;
	const char *slash = p + strcspn(p, "/");
	const char *stop = NULL;
	for (const char *q = p; q < slash; q++)
		if (*q == '@')
			stop = q;
	sb_add(out, dsn, (size_t)(p - dsn));
	if (stop) {
		const char *colon = memchr(p, ':', (size_t)(stop - p));
		if (colon) {
			sb_add(out, p, (size_t)(colon - p) + 1);
			sb_adds(out, "***");
		} else {
			sb_add(out, p, (size_t)(stop - p));
		}
		p = stop;
	}
	const char *query = strchr(p, '?');
	if (!query) {
		sb_adds(out, p);
		return;
	}
	sb_add(out, p, (size_t)(query - p));
	p = query;
	while (*p) {
		sb_addc(out, *p++); /* '?' or '&' */
		size_t n = strcspn(p, "&");
		const char *eq = memchr(p, '=', n);
		if (eq && is_password_key(p, (size_t)(eq - p))) {
			sb_add(out, p, (size_t)(eq - p) + 1);
			sb_adds(out, "***");
		} else {
			sb_add(out, p, n);
		}
		p += n;
	}
}

/* Redact password=value in a key=value string (value bare or single-quoted). */
static void redact_kv(const char *dsn, struct sb *out)
{
	const char *p = dsn;
	while (*p) {
		while (isspace((unsigned char)*p))
			sb_addc(out, *p++);
		const char *key = p;
		while (*p && *p != '=' && !isspace((unsigned char)*p))
			p++;
		size_t keylen = (size_t)(p - key);
		sb_add(out, key, keylen);
		while (isspace((unsigned char)*p))
			sb_addc(out, *p++);
		if (*p != '=')
			continue;
		sb_addc(out, *p++);
		while (isspace((unsigned char)*p))
			sb_addc(out, *p++);
		const char *val = p;
		if (*p == '\'') {
			p++;
			while (*p && *p != '\'') {
				if (*p == '\\' && p[1])
					p++;
				p++;
			}
			if (*p)
				p++;
		} else {
			while (*p && !isspace((unsigned char)*p)) {
				if (*p == '\\' && p[1])
					p++;
				p++;
			}
		}
		if (keylen == 8 && !strncmp(key, "password", 8))
			sb_adds(out, "***");
		else
			sb_add(out, val, (size_t)(p - val));
	}
}

char *dsn_redact(const char *dsn)
{
	struct sb out;
	sb_init(&out);
	if (is_uri(dsn))
		redact_uri(dsn, &out);
	else
		redact_kv(dsn, &out);
	return sb_detach(&out);
}

/* The password a DSN carries (new string), or NULL. */
static char *dsn_password(const char *dsn)
{
	char *result = NULL;
	PQconninfoOption *opts = PQconninfoParse(dsn, NULL);
	if (!opts)
		return NULL;
	for (PQconninfoOption *o = opts; o->keyword; o++)
		if (!strcmp(o->keyword, "password") && o->val && *o->val)
			result = xstrdup(o->val);
	PQconninfoFree(opts);
	return result;
}

char *dsn_scrub(const char *text, const char *dsn)
{
	if (!text)
		return NULL;
	char *pw = dsn ? dsn_password(dsn) : NULL;
	if (!pw)
		return xstrdup(text);
	struct sb out;
	sb_init(&out);
	size_t pwlen = strlen(pw);
	const char *p = text;
	const char *hit;
	while ((hit = strstr(p, pw))) {
		sb_add(&out, p, (size_t)(hit - p));
		sb_adds(&out, "***");
		p = hit + pwlen;
	}
	sb_adds(&out, p);
	free(pw);
	return sb_detach(&out);
}

/* core/dsn.c: PostgreSQL connection strings: validation and password redaction */
#include "dsn.h"

#include <ctype.h>
#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>

#include "sb.h"
#include "util.h"
#include "banned.h"

bool dsn_validate(const char *dsn, const char *field, struct err *e)
{
	char *errmsg = NULL;
	if (!*dsn)
		return err_set(e, 400, "invalid_field", field, "connection string is empty");
	PQconninfoOption *opts = PQconninfoParse(dsn, &errmsg);
	if (!opts) {
		char *clean = errmsg ? dsn_scrub(errmsg, dsn) : NULL;
		size_t n = clean ? strlen(clean) : 0;
		while (n && (clean[n - 1] == '\n' || clean[n - 1] == '.'))
			clean[--n] = '\0';
		err_set(e, 400, "invalid_field", field, "malformed connection string: %s",
			clean && *clean ? clean : "cannot parse");
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

/* Redact the URI's user-info password and any password= query parameter. */
static void redact_uri(const char *dsn, struct sb *out)
{
	const char *p = strstr(dsn, "://") + 3;
	const char *auth_end = p + strcspn(p, "/?");
	const char *at = NULL;
	for (const char *q = p; q < auth_end; q++)
		if (*q == '@')
			at = q;
	sb_add(out, dsn, (size_t)(p - dsn));
	if (at) {
		const char *colon = memchr(p, ':', (size_t)(at - p));
		if (colon) {
			sb_add(out, p, (size_t)(colon - p) + 1);
			sb_adds(out, "***");
		} else {
			sb_add(out, p, (size_t)(at - p));
		}
		p = at;
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
		if (!strncmp(p, "password=", 9)) {
			sb_adds(out, "password=***");
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

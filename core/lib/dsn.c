/* core/lib/dsn.c: PostgreSQL connection strings: validation and password redaction */
#include "dsn.h"

#include <ctype.h>
#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>

#include "sb.h"
#include "util.h"
#include "banned.h"

/*
 * libpq's message about a string it could not parse, cut before the first
 * quote: what follows quotes pieces of that string, and a password may hold
 * a quote, so only libpq's own opening words are kept.
 */
static char *hide_echo(const char *msg)
{
	return xstrndup(msg, strcspn(msg, "\""));
}

bool dsn_validate(const char *dsn, const char *field, struct err *e)
{
	char *errmsg = NULL;
	if (!*dsn)
		return err_set(e, 400, "invalid_field", field, "connection string is empty");
	PQconninfoOption *opts = PQconninfoParse(dsn, &errmsg);
	if (!opts) {
		char *clean = hide_echo(errmsg ? errmsg : "");
		size_t n = strlen(clean);
		while (n && (clean[n - 1] == '\n' || clean[n - 1] == '.' || clean[n - 1] == ' ' ||
			     clean[n - 1] == ':'))
			clean[--n] = '\0';
		char *shown = dsn_redact(dsn);
		err_set(e, 400, "invalid_field", field, "malformed connection string \"%s\": %s", shown,
			*clean ? clean : "cannot parse");
		free(shown);
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

/* Skip a bracketed IPv6 host: from '[' to its ']' (or the end). */
static const char *skip_brackets(const char *p)
{
	const char *close = strchr(p, ']');
	return close ? close + 1 : p + strlen(p);
}

/*
 * Redact the URI's user-info password and every password parameter. libpq
 * ends the user info at the first '@' before the path's '/'; hiding up to
 * the last '@' before it (outside a bracketed host) covers that, an '@'
 * inside the password, and strings libpq would refuse. A parameter whose
 * key decodes to "password" is hidden up to the next '&' wherever a '?' or
 * '&' starts it, even where that runs into what looked like the user info.
 * Hidden stretches are marked first and then each is written as one "***".
 */
static void redact_uri(const char *dsn, struct sb *out)
{
	size_t len = strlen(dsn);
	bool *hide = xcalloc(len + 1, sizeof(bool));
	const char *p = strstr(dsn, "://") + 3;
	const char *slash = p;
	/* a bracket opens an IPv6 host only where a host begins */
	while (*slash && *slash != '/')
		slash = *slash == '[' && (slash == p || strchr("@,", slash[-1])) ? skip_brackets(slash)
										     : slash + 1;
	const char *at = NULL, *first_at = NULL;
	for (const char *q = p; q < slash; q++)
		if (*q == '@') {
			at = q;
			if (!first_at)
				first_at = q;
		}
	const char *colon = at ? memchr(p, ':', (size_t)(at - p)) : NULL;
	for (const char *q = colon ? colon + 1 : at; colon && q < at; q++)
		hide[q - dsn] = true;
	/* parameters, as libpq finds them: after the user info that ends at the first '@' */
	for (const char *q = first_at ? first_at : p; *q; q++) {
		if (*q != '?' && *q != '&')
			continue;
		size_t key = strcspn(q + 1, "=?&");
		if (q[1 + key] != '=' || !is_password_key(q + 1, key))
			continue;
		const char *v = q + 2 + key;
		size_t n = strcspn(v, "&");
		for (size_t i = 0; i < n; i++)
			hide[v - dsn + (long)i] = true;
	}
	for (size_t i = 0; i < len; i++) {
		if (colon && dsn + i == at && colon + 1 == at)
			sb_adds(out, "***"); /* an empty password is hidden too */
		if (!hide[i])
			sb_addc(out, dsn[i]);
		else if (i == 0 || !hide[i - 1])
			sb_adds(out, "***");
	}
	free(hide);
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

/* core/lib/dsn.c: connection strings (PostgreSQL's, MySQL's URIs): validation and password redaction */
#include "dsn.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
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

/* The length of the URI scheme dsn starts with ("mysql" of "mysql://…"), or 0 when it is no URI. */
static size_t scheme_len(const char *s)
{
	size_t n = 0;
	if (!isalpha((unsigned char)*s))
		return 0;
	while (isalnum((unsigned char)s[n]) || s[n] == '+' || s[n] == '-' || s[n] == '.')
		n++;
	return !strncmp(s + n, "://", 3) ? n : 0;
}

static bool is_mysql(const char *s)
{
	return !strncmp(s, "mysql://", 8) || !strncmp(s, "mariadb://", 10);
}

const char *dsn_kind(const char *dsn)
{
	if (is_mysql(dsn))
		return "mysql";
	size_t n = scheme_len(dsn);
	if (!n || !strncmp(dsn, "postgresql://", 13) || !strncmp(dsn, "postgres://", 11))
		return "postgresql";
	return NULL;
}

/* Percent-decode s[0..n) into a new string; NULL when an escape is broken or decodes to NUL. */
static char *pct_decode(const char *s, size_t n)
{
	struct sb out;
	sb_init(&out);
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '%') {
			if (i + 2 >= n || !isxdigit((unsigned char)s[i + 1]) ||
			    !isxdigit((unsigned char)s[i + 2])) {
				sb_release(&out);
				return NULL;
			}
			char hex[3] = {s[i + 1], s[i + 2], '\0'};
			c = (char)strtol(hex, NULL, 16);
			i += 2;
			if (!c) {
				sb_release(&out);
				return NULL;
			}
		}
		sb_addc(&out, c);
	}
	return sb_detach(&out);
}

void dsn_mysql_release(struct dsn_mysql *d)
{
	free(d->user);
	free(d->password);
	free(d->host);
	free(d->database);
	free(d->socket);
	free(d->ssl_mode);
	free(d->ssl_ca);
	free(d->ssl_cert);
	free(d->ssl_key);
	memset(d, 0, sizeof(*d));
}

/* Fail parsing a MySQL URI: the message shows the URI redacted. */
static bool mysql_bad(const char *dsn, const char *field, struct err *e, const char *why,
		      struct dsn_mysql *d)
{
	char *shown = dsn_redact(dsn);
	err_set(e, 400, "invalid_field", field, "malformed connection string \"%s\": %s", shown, why);
	free(shown);
	dsn_mysql_release(d);
	return false;
}

bool dsn_mysql_parse(const char *dsn, struct dsn_mysql *d, const char *field, struct err *e)
{
	memset(d, 0, sizeof(*d));
	d->port = 3306;
	const char *p = strstr(dsn, "://") + 3;
	const char *end = p + strcspn(p, "/?");
	const char *at = NULL;
	for (const char *q = p; q < end; q++)
		if (*q == '@')
			at = q;
	if (at) {
		const char *colon = memchr(p, ':', (size_t)(at - p));
		d->user = pct_decode(p, (size_t)((colon ? colon : at) - p));
		if (colon)
			d->password = pct_decode(colon + 1, (size_t)(at - colon - 1));
		if (!d->user || (colon && !d->password))
			return mysql_bad(dsn, field, e, "a user name or password has a broken %-escape", d);
		p = at + 1;
	}
	const char *hend = end;
	const char *colon = NULL;
	if (*p == '[') {
		const char *close = memchr(p, ']', (size_t)(end - p));
		if (!close)
			return mysql_bad(dsn, field, e, "an IPv6 host lacks its closing ']'", d);
		d->host = xstrndup(p + 1, (size_t)(close - p - 1));
		colon = close + 1 < end && close[1] == ':' ? close + 1 : NULL;
		if (close + 1 < end && !colon)
			return mysql_bad(dsn, field, e, "unexpected text after the host", d);
	} else {
		colon = memchr(p, ':', (size_t)(end - p));
		hend = colon ? colon : end;
		d->host = pct_decode(p, (size_t)(hend - p));
		if (!d->host)
			return mysql_bad(dsn, field, e, "the host has a broken %-escape", d);
	}
	if (colon) {
		char *stop = NULL;
		long port = strtol(colon + 1, &stop, 10);
		if (stop != end || port < 1 || port > 65535)
			return mysql_bad(dsn, field, e, "the port must be a number from 1 to 65535", d);
		d->port = (int)port;
	}
	if (*end == '/') {
		const char *db = end + 1;
		size_t n = strcspn(db, "?");
		d->database = pct_decode(db, n);
		if (!d->database || strchr(d->database, '/'))
			return mysql_bad(dsn, field, e, "the database name is not valid", d);
		end = db + n;
	}
	if (!d->database || !*d->database)
		return mysql_bad(dsn, field, e, "the database is missing: mysql://user:password@host:3306/database", d);
	const char *q = *end == '?' ? end + 1 : NULL;
	while (q && *q) {
		size_t n = strcspn(q, "&");
		const char *eq = memchr(q, '=', n);
		if (!eq)
			return mysql_bad(dsn, field, e, "a parameter lacks its '=value'", d);
		char *key = xstrndup(q, (size_t)(eq - q));
		char *val = pct_decode(eq + 1, (size_t)(q + n - eq - 1));
		char **slot = !strcmp(key, "socket")     ? &d->socket
			      : !strcmp(key, "ssl-mode") || !strcmp(key, "sslmode") ? &d->ssl_mode
			      : !strcmp(key, "ssl-ca")   ? &d->ssl_ca
			      : !strcmp(key, "ssl-cert") ? &d->ssl_cert
			      : !strcmp(key, "ssl-key")  ? &d->ssl_key
			      : !strcmp(key, "password") ? &d->password
			      : !strcmp(key, "user")     ? &d->user
							 : NULL;
		bool known = slot != NULL;
		char msg[300];
		snprintf(msg, sizeof(msg),
			 "unknown parameter \"%.100s\" (ferry takes socket, ssl-mode, ssl-ca, ssl-cert, ssl-key, user and password)",
			 key);
		free(key);
		if (!val) {
			free(val);
			return mysql_bad(dsn, field, e, "a parameter value has a broken %-escape", d);
		}
		if (!known) {
			free(val);
			return mysql_bad(dsn, field, e, msg, d);
		}
		free(*slot);
		*slot = val;
		q += n + (q[n] == '&');
	}
	if (d->ssl_mode && strcmp(d->ssl_mode, "DISABLED") && strcmp(d->ssl_mode, "PREFERRED") &&
	    strcmp(d->ssl_mode, "REQUIRED") && strcmp(d->ssl_mode, "VERIFY_CA") &&
	    strcmp(d->ssl_mode, "VERIFY_IDENTITY"))
		return mysql_bad(dsn, field, e, "ssl-mode must be DISABLED, PREFERRED, REQUIRED, VERIFY_CA or VERIFY_IDENTITY", d);
	if (!*d->host && !d->socket)
		return mysql_bad(dsn, field, e, "the host is missing (or give socket=/path)", d);
	return true;
}

bool dsn_validate(const char *dsn, const char *field, struct err *e)
{
	char *errmsg = NULL;
	if (!*dsn)
		return err_set(e, 400, "invalid_field", field, "connection string is empty");
	if (is_mysql(dsn)) {
		struct dsn_mysql d;
		if (!dsn_mysql_parse(dsn, &d, field, e))
			return false;
		dsn_mysql_release(&d);
		return true;
	}
	size_t sn = scheme_len(dsn);
	if (sn && strncmp(dsn, "postgresql://", 13) && strncmp(dsn, "postgres://", 11)) {
		char *shown = dsn_redact(dsn);
		err_set(e, 400, "invalid_field", field,
			"connection string \"%s\" has the unknown scheme \"%.*s\": ferry takes postgresql://, postgres://, mysql:// and mariadb:// (or PostgreSQL's key=value form)",
			shown, (int)(sn > 40 ? 40 : sn), dsn);
		free(shown);
		return false;
	}
	if (!db_conninfo_check(dsn, &errmsg)) {
		char *clean = hide_echo(errmsg ? errmsg : "");
		size_t n = strlen(clean);
		while (n && (clean[n - 1] == '\n' || clean[n - 1] == '.' || clean[n - 1] == ' ' ||
			     clean[n - 1] == ':'))
			clean[--n] = '\0';
		char *shown = dsn_redact(dsn);
		/* libpq's "missing "=" after "…"" loses its quoted parts above */
		err_set(e, 400, "invalid_field", field, "malformed connection string \"%s\": %s", shown,
			!strcmp(clean, "missing") ? "it is neither a URI (postgresql://…, mysql://…) nor key=value pairs (a key lacks its \"=\")"
			: *clean		  ? clean
						  : "cannot parse");
		free(shown);
		free(clean);
		free(errmsg);
		return false;
	}
	return true;
}

/* Any URI, whatever its scheme: a mistyped one carries its password where a good one does. */
static bool is_uri(const char *s)
{
	return scheme_len(s) > 0;
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
 * '&' starts it, before or after the user info, even where that runs into
 * what looked like the user info. Only in a PostgreSQL URI libpq accepts
 * (trusted) is a "?password=" inside the user info's password taken as part
 * of that password, as libpq takes it, and not hidden on past its '@'.
 * Hidden stretches are marked first and then each is written as one "***".
 */
static void redact_uri(const char *dsn, bool trusted, struct sb *out)
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
	/*
	 * parameters: wherever a '?' or '&' starts one after the first '@', as
	 * libpq finds them, and before it too, since a string libpq or the scheme
	 * check refuses has no user info to trust (a host in brackets before an
	 * '@' leaves "?password=" ahead of it, and a password's value may run on
	 * past the '@' that seemed to end the user info)
	 */
	for (const char *q = p; *q; q++) {
		if ((*q != '?' && *q != '&') ||
		    (trusted && first_at && q < first_at && hide[q - dsn]))
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
	if (is_uri(dsn)) {
		const char *kind = dsn_kind(dsn);
		bool trusted = kind && !strcmp(kind, "postgresql") && db_conninfo_check(dsn, NULL);
		redact_uri(dsn, trusted, &out);
	} else {
		redact_kv(dsn, &out);
	}
	return sb_detach(&out);
}

/* The password a DSN carries (new string), or NULL. */
static char *dsn_password(const char *dsn)
{
	char *result = NULL;
	if (is_mysql(dsn)) {
		struct dsn_mysql d;
		struct err e;
		if (!dsn_mysql_parse(dsn, &d, "dsn", &e))
			return NULL;
		result = d.password && *d.password ? xstrdup(d.password) : NULL;
		dsn_mysql_release(&d);
		return result;
	}
	result = db_conninfo_value(dsn, "password");
	if (result && !*result) {
		free(result);
		result = NULL;
	}
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

/* core/lib/names.c: qualified table names ("schema.table") and glob patterns over them */
#include "names.h"

#include <stdio.h>
#include <string.h>

#include "banned.h"

/* Read one part of a qualified name from *pp into buf; stop at an unquoted dot. */
static bool part_read(const char **pp, char *buf, size_t n)
{
	const char *p = *pp;
	size_t len = 0;
	bool quoted = false;
	if (*p == '"') {
		quoted = true;
		p++;
	}
	for (;;) {
		if (!*p) {
			if (quoted)
				return false;
			break;
		}
		if (quoted && *p == '"') {
			if (p[1] == '"') {
				p++;
			} else {
				p++;
				break;
			}
		} else if (!quoted && *p == '.') {
			break;
		} else if (!quoted && *p == '"') {
			return false;
		}
		if (len + 1 >= n)
			return false;
		buf[len++] = *p++;
	}
	buf[len] = '\0';
	*pp = p;
	return len > 0;
}

bool qualname_parse(const char *s, bool allow_bare, struct qualname *out,
		    const char *field, struct err *e)
{
	const char *p = s;
	char first[128];
	memset(out, 0, sizeof(*out));
	if (!part_read(&p, first, sizeof(first)))
		goto bad;
	if (!*p) {
		if (!allow_bare)
			goto bad;
		memcpy(out->name, first, sizeof(first));
		return true;
	}
	if (*p != '.')
		goto bad;
	p++;
	if (!part_read(&p, out->name, sizeof(out->name)) || *p)
		goto bad;
	memcpy(out->schema, first, sizeof(first));
	return true;
bad:
	return err_set(e, 400, "invalid_field", field,
		       "\"%s\" is not a table name of the form schema.table%s", s,
		       allow_bare ? " or table" : "");
}

static void part_format(const char *part, char *buf, size_t n)
{
	if (!strpbrk(part, ".\"")) {
		snprintf(buf, n, "%s", part);
		return;
	}
	size_t len = 0;
	if (len + 1 < n)
		buf[len++] = '"';
	for (const char *p = part; *p && len + 3 < n; p++) {
		if (*p == '"')
			buf[len++] = '"';
		buf[len++] = *p;
	}
	if (len + 1 < n)
		buf[len++] = '"';
	buf[len] = '\0';
}

void qualname_format(const struct qualname *q, char *buf, size_t n)
{
	char s[300], t[300];
	part_format(q->schema, s, sizeof(s));
	part_format(q->name, t, sizeof(t));
	snprintf(buf, n, "%s.%s", s, t);
}

bool glob_validate(const char *pattern, const char *field, struct err *e)
{
	struct qualname q;
	if (strpbrk(pattern, "[]{}\\"))
		return err_set(e, 400, "invalid_field", field,
			       "glob \"%s\" uses unsupported syntax: only * and ? are wildcards",
			       pattern);
	if (!qualname_parse(pattern, false, &q, field, NULL))
		return err_set(e, 400, "invalid_field", field,
			       "glob \"%s\" must have the form schema.table (for example public.*)",
			       pattern);
	return true;
}

bool glob_match(const char *pat, const char *s)
{
	const char *star = NULL, *resume = NULL;
	while (*s) {
		if (*pat == '*') {
			star = pat++;
			resume = s;
		} else if (*pat == '?' || *pat == *s) {
			pat++;
			s++;
		} else if (star) {
			pat = star + 1;
			s = ++resume;
		} else {
			return false;
		}
	}
	while (*pat == '*')
		pat++;
	return !*pat;
}

bool glob_match_table(const char *pattern, const char *schema, const char *name)
{
	struct qualname q;
	if (!qualname_parse(pattern, false, &q, "", NULL))
		return false;
	return glob_match(q.schema, schema) && glob_match(q.name, name);
}

/* server/routes.c: the route table and path matching (no libmicrohttpd here) */
#include "routes.h"

#include <ctype.h>
#include <string.h>

#include "banned.h"

static int hexval(char c)
{
	if (isdigit((unsigned char)c))
		return c - '0';
	c = (char)tolower((unsigned char)c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* URL-decode s[0..n) into out; false when it does not fit or is malformed. */
static bool seg_decode(const char *s, size_t n, char *out, size_t room)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '%') {
			if (i + 2 >= n)
				return false;
			int hi = hexval(s[i + 1]), lo = hexval(s[i + 2]);
			if (hi < 0 || lo < 0)
				return false;
			c = (char)(hi * 16 + lo);
			if (!c)
				return false;
			i += 2;
		}
		if (o + 1 >= room)
			return false;
		out[o++] = c;
	}
	out[o] = '\0';
	return true;
}

bool route_match(const char *pattern, const char *path, struct route_params *p)
{
	size_t used = 0;
	p->n = 0;
	while (*pattern && *path) {
		if (pattern[0] == '{' && pattern[1] == '}') {
			size_t n = strcspn(path, "/");
			if (n == 0 || p->n == ROUTE_MAX_PARAMS)
				return false;
			if (!seg_decode(path, n, p->buf + used, sizeof(p->buf) - used))
				return false;
			p->v[p->n++] = p->buf + used;
			used += strlen(p->buf + used) + 1;
			pattern += 2;
			path += n;
		} else if (*pattern == *path) {
			pattern++;
			path++;
		} else {
			return false;
		}
	}
	return !*pattern && !*path;
}

const struct route *route_find(const struct route *table, const char *method, const char *path,
			       struct route_params *p, char *allow, size_t allow_len,
			       bool *path_known)
{
	size_t used = 0;
	*path_known = false;
	if (allow_len)
		allow[0] = '\0';
	for (const struct route *r = table; r->method; r++) {
		if (!route_match(r->pattern, path, p))
			continue;
		if (!strcmp(r->method, method))
			return r;
		if (r->flags & ROUTE_FALLBACK)
			continue;
		*path_known = true;
		size_t need = strlen(r->method) + (used ? 2 : 0);
		if (used + need + 1 <= allow_len && !strstr(allow, r->method)) {
			if (used) {
				memcpy(allow + used, ", ", 2);
				used += 2;
			}
			memcpy(allow + used, r->method, strlen(r->method));
			used += strlen(r->method);
			allow[used] = '\0';
		}
	}
	return NULL;
}

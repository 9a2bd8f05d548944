/* server/routes.h: the route table and path matching (no libmicrohttpd here) */
#ifndef FERRY_ROUTES_H
#define FERRY_ROUTES_H

#include <stdbool.h>
#include <stddef.h>

#define ROUTE_MAX_PARAMS 4

struct req;
typedef void (*route_handler)(struct req *r);

enum route_flags {
	ROUTE_BODY_NONE = 0,     /* the request has no body */
	ROUTE_BODY_JSON = 1,     /* a JSON body is required */
	ROUTE_BODY_OPTIONAL = 2, /* a JSON body may be sent */
	ROUTE_FALLBACK = 4,      /* a catch-all: other methods on its paths get 404, not 405 */
};

struct route {
	const char *method;
	const char *pattern; /* "/api/v1/jobs/{}/runs": {} matches one non-empty segment */
	route_handler handler;
	int flags;
};

/* Path parameters captured by a match; values point into `buf`. */
struct route_params {
	const char *v[ROUTE_MAX_PARAMS];
	int n;
	char buf[1024];
};

/*
 * Does path match pattern? On a match fills p with the segments that stood
 * for {} (URL-decoded) and returns true.
 */
bool route_match(const char *pattern, const char *path, struct route_params *p);

/*
 * Find the route for method and path in table (ended by a NULL method).
 * Returns it, or NULL; when the path matches other methods only, writes
 * them comma-separated into allow (for a 405) and sets *path_known.
 */
const struct route *route_find(const struct route *table, const char *method, const char *path,
			       struct route_params *p, char *allow, size_t allow_len,
			       bool *path_known);

#endif

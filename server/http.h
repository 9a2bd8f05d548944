/* server/http.h: libmicrohttpd glue: requests, bodies, responses, the listening daemon */
#ifndef FERRY_HTTP_H
#define FERRY_HTTP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "err.h"
#include "routes.h"
#include "sb.h"
#include "service.h"

#define HTTP_BODY_MAX (1024 * 1024)

struct MHD_Connection;
struct MHD_Response;

struct app {
	struct service svc;
	struct meta *meta; /* borrowed */
	const char *token; /* borrowed; NULL when the API needs no token */
};

/* One request; allocated on the first callback, freed when the request completes. */
struct req {
	struct app *app;
	struct MHD_Connection *conn;
	const char *method;
	const char *path;
	struct sb body; /* owned */
	bool too_large;
	struct route_params params;
	json_t *json; /* owned: the parsed body, or NULL */
	/* the response the handler chose */
	int status;
	struct MHD_Response *resp; /* owned until queued */
};

/* A query parameter of the request (borrowed), or NULL. */
const char *req_query(struct req *r, const char *name);

/* Reply with a JSON document (steals doc). */
void reply_json(struct req *r, int status, json_t *doc);
/* Reply with a JSON document already written by svc_body: len bytes of body (stolen). */
void reply_body(struct req *r, int status, char *body, size_t len);
/* Reply with the error shape of the API. */
void reply_err(struct req *r, const struct err *e);
/* Shorthand: build and reply an error. */
void reply_error(struct req *r, int status, const char *code, const char *field,
		 const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Reply with no body. */
void reply_empty(struct req *r, int status);
/*
 * Reply with static bytes (not copied), a content type, an ETag and, when
 * not NULL, a Content-Encoding. Answers 304 when If-None-Match has the ETag.
 */
void reply_static(struct req *r, const char *data, size_t len, const char *ctype,
		  const char *etag, const char *encoding);
/* The value of a request header (borrowed), or NULL. */
const char *req_header(struct req *r, const char *name);
/* Add a header to the chosen response. */
void reply_header(struct req *r, const char *name, const char *value);

struct http_server;

struct http_options {
	const char *listen;   /* "host:port", "[v6]:port" */
	const char *tls_cert; /* PEM text (not a path), or NULL for plain HTTP */
	const char *tls_key;  /* PEM text */
	unsigned int max_connections;
	unsigned int timeout_s; /* idle connections are closed after this */
};

/*
 * Listen and serve routes with one thread per connection, at most
 * max_connections at once (more are refused at accept). NULL with e filled
 * when the address is bad or taken, or TLS cannot be set up. *port_out
 * receives the bound port.
 */
struct http_server *http_start(const struct http_options *o, const struct route *routes,
			       struct app *app, int *port_out, struct err *e);
/* Stop accepting new connections (requests in flight finish). */
void http_quiesce(struct http_server *s);
/* Close every connection and free the server. */
void http_stop(struct http_server *s);

#endif

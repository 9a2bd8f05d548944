/* server/http.c: libmicrohttpd glue: requests, bodies, responses, the listening daemon */
#include "http.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"
#include "util.h"
#include "banned.h"

struct http_server {
	struct MHD_Daemon *d;
	const struct route *routes;
	struct app *app;
	unsigned int max_connections;
	unsigned int open; /* connections being served; atomic */
};

/*
 * Refuse (close at once) a connection over the limit, rather than leave it
 * waiting in the listen queue as libmicrohttpd's own limit would.
 */
static enum MHD_Result on_accept(void *cls, const struct sockaddr *addr, socklen_t len)
{
	struct http_server *s = cls;
	(void)addr;
	(void)len;
	return __atomic_load_n(&s->open, __ATOMIC_RELAXED) < s->max_connections ? MHD_YES : MHD_NO;
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	struct http_server *s = cls;
	(void)conn;
	(void)socket_context;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED)
		__atomic_add_fetch(&s->open, 1, __ATOMIC_RELAXED);
	else
		__atomic_sub_fetch(&s->open, 1, __ATOMIC_RELAXED);
}

const char *req_query(struct req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

static void set_response(struct req *r, int status, struct MHD_Response *resp)
{
	if (r->resp)
		MHD_destroy_response(r->resp);
	r->status = status;
	r->resp = resp;
}

void reply_body(struct req *r, int status, char *body, size_t len)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	MHD_add_response_header(resp, "Content-Type", "application/json");
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	set_response(r, status, resp);
}

void reply_json(struct req *r, int status, json_t *doc)
{
	size_t len;
	char *body = svc_body(doc, &len);
	json_decref(doc);
	reply_body(r, status, body, len);
}

void reply_err(struct req *r, const struct err *e)
{
	json_t *inner = json_pack("{s:s,s:s}", "code", *e->code ? e->code : "internal", "message",
				  *e->msg ? e->msg : "unexpected error");
	if (*e->field)
		json_object_set_new(inner, "field", json_string(e->field));
	int status = e->status >= 400 && e->status < 600 ? e->status : 500;
	if (status >= 500)
		log_error("%s %s: %d %s", r->method, r->path, status, e->msg);
	reply_json(r, status, json_pack("{s:o}", "error", inner));
}

void reply_error(struct req *r, int status, const char *code, const char *field,
		 const char *fmt, ...)
{
	struct err e;
	err_clear(&e);
	e.status = status;
	str_copy(e.code, sizeof(e.code), code);
	str_copy(e.field, sizeof(e.field), field ? field : "");
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e.msg, sizeof(e.msg), fmt, ap);
	va_end(ap);
	reply_err(r, &e);
}

void reply_empty(struct req *r, int status)
{
	set_response(r, status, MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT));
}

const char *req_header(struct req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

void reply_static(struct req *r, const char *data, size_t len, const char *ctype,
		  const char *etag, const char *encoding)
{
	const char *inm = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "If-None-Match");
	bool fresh = inm && etag && (strstr(inm, etag) || !strcmp(inm, "*"));
	struct MHD_Response *resp = MHD_create_response_from_buffer(
		fresh ? 0 : len, fresh ? NULL : (void *)data, MHD_RESPMEM_PERSISTENT);
	MHD_add_response_header(resp, "Content-Type", ctype);
	MHD_add_response_header(resp, "Cache-Control", "no-cache");
	MHD_add_response_header(resp, "Vary", "Accept-Encoding");
	if (etag)
		MHD_add_response_header(resp, "ETag", etag);
	if (encoding && !fresh)
		MHD_add_response_header(resp, "Content-Encoding", encoding);
	set_response(r, fresh ? 304 : 200, resp);
}

void reply_header(struct req *r, const char *name, const char *value)
{
	if (r->resp)
		MHD_add_response_header(r->resp, name, value);
}

/* True when the request's Content-Type is JSON. */
static bool is_json_type(struct req *r)
{
	const char *ct = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Content-Type");
	if (!ct)
		return false;
	size_t n = strcspn(ct, ";");
	while (n && ct[n - 1] == ' ')
		n--;
	return n == 16 && !strncasecmp(ct, "application/json", 16);
}

/* Check and parse the body the route expects; false after replying with an error. */
static bool take_body(struct req *r, int flags)
{
	if (r->too_large) {
		reply_error(r, 413, "payload_too_large", NULL, "request body is larger than %d bytes",
			    HTTP_BODY_MAX);
		return false;
	}
	flags &= ROUTE_BODY_JSON | ROUTE_BODY_OPTIONAL;
	if (flags == ROUTE_BODY_NONE || (flags == ROUTE_BODY_OPTIONAL && r->body.len == 0))
		return true;
	if (!is_json_type(r)) {
		reply_error(r, 415, "unsupported_media_type", NULL,
			    "request body must be sent with Content-Type: application/json");
		return false;
	}
	if (r->body.len == 0) {
		reply_error(r, 400, "invalid_json", NULL, "a JSON request body is required");
		return false;
	}
	json_error_t jerr;
	r->json = json_loadb(r->body.buf, r->body.len, JSON_REJECT_DUPLICATES, &jerr);
	if (!r->json) {
		reply_error(r, 400, "invalid_json", NULL, "malformed JSON at line %d, column %d: %s",
			    jerr.line, jerr.column, jerr.text);
		return false;
	}
	return true;
}

/* Compare without an early exit, so the time taken says nothing about the token. */
static bool same_secret(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned char diff = la != lb;
	for (size_t i = 0; i < la; i++)
		diff |= (unsigned char)(a[i] ^ b[i % (lb ? lb : 1)]);
	return diff == 0;
}

/* True when the request may go on; otherwise replies 401. */
static bool authorized(struct req *r)
{
	const char *token = r->app->token;
	if (!token || strncmp(r->path, "/api/", 5))
		return true;
	const char *h = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Authorization");
	if (h && !strncasecmp(h, "Bearer ", 7) && same_secret(h + 7, token))
		return true;
	reply_error(r, 401, "unauthorized", NULL,
		    h ? "the API token is not valid" : "this ferryd requires an API token: send Authorization: Bearer <token>");
	reply_header(r, "WWW-Authenticate", "Bearer");
	return false;
}

static void dispatch(struct http_server *s, struct req *r)
{
	if (!authorized(r))
		return;
	char allow[128];
	bool known;
	const struct route *rt = route_find(s->routes, r->method, r->path, &r->params, allow,
					    sizeof(allow), &known);
	if (!rt && known) {
		reply_error(r, 405, "method_not_allowed", NULL, "method %s is not allowed on %s",
			    r->method, r->path);
		reply_header(r, "Allow", allow);
		return;
	}
	if (!rt) {
		reply_error(r, 404, "not_found", NULL, "no such resource: %s", r->path);
		return;
	}
	if (take_body(r, rt->flags))
		rt->handler(r);
	if (!r->resp)
		reply_error(r, 500, "internal", NULL, "handler produced no response");
}

static enum MHD_Result send_reply(struct req *r)
{
	enum MHD_Result ret = MHD_queue_response(r->conn, (unsigned int)r->status, r->resp);
	MHD_destroy_response(r->resp);
	r->resp = NULL;
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version,
				  const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	struct http_server *s = cls;
	struct req *r = *con_cls;
	(void)version;
	if (!r) {
		r = xcalloc(1, sizeof(*r));
		r->app = s->app;
		r->conn = conn;
		r->method = method;
		r->path = url;
		sb_init(&r->body);
		*con_cls = r;
		/*
		 * A body declared too large is read and dropped, not refused at once:
		 * a client still writing would otherwise see a reset, not the 413.
		 */
		const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
		if (cl && strtoull(cl, NULL, 10) > HTTP_BODY_MAX)
			r->too_large = true;
		return MHD_YES;
	}
	if (*upload_data_size) {
		if (!r->too_large && r->body.len + *upload_data_size > HTTP_BODY_MAX) {
			r->too_large = true;
			sb_release(&r->body);
		}
		if (!r->too_large)
			sb_add(&r->body, upload_data, *upload_data_size);
		*upload_data_size = 0;
		return MHD_YES;
	}
	int64_t t0 = now_ms();
	dispatch(s, r);
	log_debug("%s %s %d %lld ms", method, url, r->status, (long long)(now_ms() - t0));
	return send_reply(r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct req *r = *con_cls;
	(void)cls;
	(void)conn;
	(void)toe;
	if (!r)
		return;
	if (r->resp)
		MHD_destroy_response(r->resp);
	sb_release(&r->body);
	json_decref(r->json);
	free(r);
	*con_cls = NULL;
}

/* Split "host:port" or "[v6]:port" and resolve it. */
static bool parse_listen(const char *listen, struct sockaddr_storage *ss, socklen_t *len,
			 struct err *e)
{
	char host[256];
	const char *colon = strrchr(listen, ':');
	if (!colon || colon == listen || !colon[1])
		return err_set(e, 400, "listen", NULL,
			       "listen address \"%s\" must look like 127.0.0.1:8080 or [::1]:8080", listen);
	size_t hl = (size_t)(colon - listen);
	const char *h = listen;
	if (*h == '[' && hl > 2 && h[hl - 1] == ']') {
		h++;
		hl -= 2;
	}
	if (hl >= sizeof(host))
		return err_set(e, 400, "listen", NULL, "listen host is too long");
	memcpy(host, h, hl);
	host[hl] = '\0';
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_PASSIVE};
	struct addrinfo *ai = NULL;
	int rc = getaddrinfo(host, colon + 1, &hints, &ai);
	if (rc)
		return err_set(e, 400, "listen", NULL, "listen address \"%s\": %s", listen,
			       gai_strerror(rc));
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	*len = ai->ai_addrlen;
	freeaddrinfo(ai);
	return true;
}

/*
 * The kernel's sched_attr (sched_setattr(2)); glibc has no declaration of
 * its own. For SCHED_OTHER, runtime is the time slice the thread asks for.
 */
struct slice_attr {
	uint32_t size, policy;
	uint64_t flags;
	int32_t nice;
	uint32_t priority;
	uint64_t runtime, deadline, period;
};

/* The short slice the HTTP threads ask for: 0.1 ms, the kernel's shortest. */
#define HTTP_SLICE_NS 100000

/*
 * Ask for a time slice of ns nanoseconds for the calling thread (0: the
 * kernel's default), keeping its policy and nice value; threads it starts
 * inherit it. Kernels that schedule by earliest deadline (Linux 6.12 and
 * later) run a thread with a short slice soon after it wakes, ahead of
 * threads that use up long ones: an answer waits less behind the
 * database servers of a copy that keeps every core busy. Elsewhere the
 * call fails or is ignored, and nothing changes.
 */
static void ask_slice(uint64_t ns)
{
#ifdef SYS_sched_setattr
	struct slice_attr a;
	memset(&a, 0, sizeof(a));
	if (syscall(SYS_sched_getattr, 0, &a, sizeof(a), 0) != 0 || a.policy != 0 /* SCHED_OTHER */)
		return;
	a.size = sizeof(a);
	a.runtime = ns;
	if (syscall(SYS_sched_setattr, 0, &a, 0) != 0)
		log_debug("could not set the time slice of the HTTP threads; left as it is");
#else
	(void)ns;
#endif
}

struct http_server *http_start(const struct http_options *o, const struct route *routes,
			       struct app *app, int *port_out, struct err *e)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	if (!parse_listen(o->listen, &ss, &sslen, e))
		return NULL;
	if (o->tls_cert && MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
		err_set(e, 500, "tls", NULL, "this libmicrohttpd was built without TLS support");
		return NULL;
	}
	struct http_server *s = xcalloc(1, sizeof(*s));
	s->routes = routes;
	s->app = app;
	s->max_connections = o->max_connections;
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
			     MHD_USE_ITC | MHD_USE_ERROR_LOG;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	struct MHD_OptionItem tls[] = {
		{MHD_OPTION_HTTPS_MEM_CERT, 0, (void *)o->tls_cert},
		{MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)o->tls_key},
		{MHD_OPTION_END, 0, NULL},
	};
	if (o->tls_cert)
		flags |= MHD_USE_TLS;
	else
		tls[0].option = MHD_OPTION_END;
	/* the daemon's threads, and the connection threads they start, inherit the short slice */
	ask_slice(HTTP_SLICE_NS);
	s->d = MHD_start_daemon(flags, 0, on_accept, s, on_request, s,
				MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
				MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
				MHD_OPTION_CONNECTION_TIMEOUT, o->timeout_s,
				MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
				MHD_OPTION_ARRAY, tls,
				MHD_OPTION_END);
	ask_slice(0);
	if (!s->d) {
		free(s);
		err_set(e, 500, "listen", NULL,
			o->tls_cert ? "could not listen on %s (address in use, or the TLS certificate and key do not match)"
				    : "could not listen on %s (address in use or not available)",
			o->listen);
		return NULL;
	}
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
	*port_out = info ? info->port : 0;
	return s;
}

void http_quiesce(struct http_server *s)
{
	if (!s)
		return;
	MHD_socket fd = MHD_quiesce_daemon(s->d);
	if (fd != MHD_INVALID_SOCKET)
		close(fd);
}

void http_stop(struct http_server *s)
{
	if (!s)
		return;
	MHD_stop_daemon(s->d);
	free(s);
}

/* server/h_system.c: health, readiness, the contract, the status page assets, connection tests */
#include "handlers.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "log.h"
#include "spec_assets.h"
#include "util.h"
#include "web_assets.h"
#include "banned.h"

void h_healthz(struct req *r)
{
	reply_json(r, 200, json_pack("{s:s}", "status", "ok"));
}

void h_readyz(struct req *r)
{
	struct err e;
	err_clear(&e);
	if (meta_ping(r->app->meta, &e))
		reply_json(r, 200, json_pack("{s:s}", "status", "ready"));
	else
		reply_json(r, 503, json_pack("{s:s,s:s}", "status", "unavailable", "error", e.msg));
}

/* A strong ETag from the content (FNV-1a, 64 bits). */
static void etag_of(const char *data, size_t len, char *out, size_t n)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)data[i];
		h *= 1099511628211ULL;
	}
	snprintf(out, n, "\"%016llx\"", (unsigned long long)h);
}

static const char *content_type(const char *name)
{
	static const struct {
		const char *ext, *type;
	} types[] = {
		{".html", "text/html; charset=utf-8"},   {".css", "text/css; charset=utf-8"},
		{".js", "text/javascript; charset=utf-8"}, {".svg", "image/svg+xml"},
		{".png", "image/png"},                   {".json", "application/json"},
		{".yaml", "application/yaml"},           {".ico", "image/x-icon"},
	};
	const char *dot = strrchr(name, '.');
	for (size_t i = 0; dot && i < sizeof(types) / sizeof(types[0]); i++)
		if (!strcmp(dot, types[i].ext))
			return types[i].type;
	return "application/octet-stream";
}

/* A gzip copy of one embedded file, made on first use and kept for the process's life. */
struct gz_copy {
	const char *src;
	char *data; /* owned */
	size_t len;
};

#define GZ_MAX 64
static struct gz_copy gz_cache[GZ_MAX];
static int gz_count;
static pthread_mutex_t gz_lock = PTHREAD_MUTEX_INITIALIZER;

/* Compress data with gzip framing; false when zlib fails. */
static bool gzip_bytes(const char *data, size_t len, struct gz_copy *out)
{
	z_stream z = {0};
	if (deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return false;
	size_t cap = deflateBound(&z, (uLong)len) + 32;
	out->data = xmalloc(cap);
	z.next_in = (Bytef *)data;
	z.avail_in = (uInt)len;
	z.next_out = (Bytef *)out->data;
	z.avail_out = (uInt)cap;
	bool ok = deflate(&z, Z_FINISH) == Z_STREAM_END;
	out->len = z.total_out;
	deflateEnd(&z);
	if (!ok) {
		free(out->data);
		out->data = NULL;
	}
	return ok;
}

static const struct gz_copy *gzip_of(const char *data, size_t len)
{
	const struct gz_copy *found = NULL;
	pthread_mutex_lock(&gz_lock);
	for (int i = 0; i < gz_count && !found; i++)
		if (gz_cache[i].src == data)
			found = &gz_cache[i];
	if (!found && gz_count < GZ_MAX) {
		struct gz_copy c = {.src = data};
		if (gzip_bytes(data, len, &c)) {
			gz_cache[gz_count] = c;
			found = &gz_cache[gz_count++];
		} else {
			log_warn("could not compress a static file; serving it plain");
		}
	}
	pthread_mutex_unlock(&gz_lock);
	return found;
}

static bool accepts_gzip(struct req *r)
{
	const char *ae = req_header(r, "Accept-Encoding");
	return ae && strstr(ae, "gzip");
}

static void serve_file(struct req *r, const char *name, const char *data, size_t len)
{
	char etag[48];
	const struct gz_copy *gz = len > 256 && accepts_gzip(r) ? gzip_of(data, len) : NULL;
	etag_of(data, len, etag, sizeof(etag));
	if (gz) {
		etag[strlen(etag) - 1] = '\0';
		str_copy(etag + strlen(etag), sizeof(etag) - strlen(etag), "-gz\"");
		reply_static(r, gz->data, gz->len, content_type(name), etag, "gzip");
		return;
	}
	reply_static(r, data, len, content_type(name), etag, NULL);
}

void h_openapi(struct req *r)
{
	serve_file(r, spec_files[0].name, spec_files[0].data, spec_files[0].len);
}

void h_index(struct req *r)
{
	for (const struct web_file *f = web_files; f->name; f++)
		if (!strcmp(f->name, "index.html")) {
			serve_file(r, f->name, f->data, f->len);
			return;
		}
	reply_error(r, 404, "not_found", NULL, "no status page is built into this ferryd");
}

void h_asset(struct req *r)
{
	for (const struct web_file *f = web_files; f->name; f++)
		if (!strcmp(f->name, r->params.v[0])) {
			serve_file(r, f->name, f->data, f->len);
			return;
		}
	reply_error(r, 404, "not_found", NULL, "no such resource: %s", r->path);
}

void h_connection_test(struct req *r)
{
	struct err e;
	err_clear(&e);
	reply_result(r, 200, svc_connection_test(&r->app->svc, r->json, &e), &e);
}

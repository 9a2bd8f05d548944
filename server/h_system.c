/* server/h_system.c: health, readiness, the contract, the status page assets, connection tests */
#include "handlers.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "spec_assets.h"
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

static void serve_file(struct req *r, const char *name, const char *data, size_t len)
{
	char etag[40];
	etag_of(data, len, etag, sizeof(etag));
	reply_static(r, data, len, content_type(name), etag);
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

/* server/main.c: ferryd: flags, start-up, signals and graceful shutdown */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dsn.h"
#include "embedpg.h"
#include "engine.h"
#include "handlers.h"
#include "http.h"
#include "log.h"
#include "meta.h"
#include "sb.h"
#include "scheduler.h"
#include "util.h"
#include "banned.h"

#ifndef FERRY_VERSION
#define FERRY_VERSION "0.1.0"
#endif

struct options {
	const char *listen;
	const char *meta;
	const char *data_dir;
	const char *log_level;
	const char *token;
	const char *tls_cert;
	const char *tls_key;
	bool insecure_listen;
	int workers;
	int max_connections;
	int timeout_s;
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: ferryd [OPTIONS]\n"
		"\n"
		"ferry's server: a REST API on which jobs are defined and run, and worker\n"
		"threads that copy tables between PostgreSQL databases.\n"
		"\n"
		"Options (each also read from the environment variable shown):\n"
		"  --listen HOST:PORT  address to serve HTTP on            FERRY_LISTEN\n"
		"                      (default 127.0.0.1:8080; [::1]:8080 for IPv6; port 0 picks one)\n"
		"  --meta DSN          PostgreSQL connection string of the  FERRY_META_DSN\n"
		"                      metadata database (default: an embedded PostgreSQL\n"
		"                      that ferryd runs itself in --data-dir)\n"
		"  --workers N         worker threads copying tables        FERRY_WORKERS\n"
		"                      (default: number of cores, at least 2)\n"
		"  --data-dir DIR      where the embedded metadata database FERRY_DATA_DIR\n"
		"                      lives (default ./ferry-data; /var/lib/ferry as root)\n"
		"  --log-level LEVEL   debug, info, warn or error           FERRY_LOG_LEVEL\n"
		"                      (default info)\n"
		"  --api-token TOKEN   require Authorization: Bearer TOKEN  FERRY_API_TOKEN\n"
		"                      on every /api/ request (default: no token)\n"
		"  --insecure-listen   allow a non-loopback --listen address\n"
		"                      without an API token\n"
		"  --tls-cert FILE     serve HTTPS with this PEM certificate FERRY_TLS_CERT\n"
		"  --tls-key FILE      and this PEM private key             FERRY_TLS_KEY\n"
		"  --max-connections N HTTP connections served at once      FERRY_MAX_CONNECTIONS\n"
		"                      (default 256; more are closed at once)\n"
		"  --request-timeout S close an HTTP connection idle this   FERRY_REQUEST_TIMEOUT\n"
		"                      many seconds (default 30)\n"
		"  --help              show this help and exit\n"
		"  --version           show the version and exit\n"
		"\n"
		"The API is described at /openapi.yaml; the status page is at /.\n");
}

static const char *env_or(const char *name, const char *dflt)
{
	const char *v = getenv(name);
	return v && *v ? v : dflt;
}

static bool parse_int(const char *s, long lo, long hi, int *out)
{
	char *end;
	long n = strtol(s, &end, 10);
	if (!*s || *end || n < lo || n > hi)
		return false;
	*out = (int)n;
	return true;
}

/* Read a whole (small) file into a new string; NULL when it cannot be read. */
static char *read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	struct sb b;
	sb_init(&b);
	char buf[4096];
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0 && b.len < 1024 * 1024)
		sb_add(&b, buf, n);
	bool ok = !ferror(f);
	fclose(f);
	if (!ok) {
		sb_release(&b);
		return NULL;
	}
	return sb_detach(&b);
}

/* True when a "host:port" listen address is a loopback address (an IP literal, or localhost). */
static bool is_loopback(const char *listen)
{
	char host[64];
	const char *colon = strrchr(listen, ':');
	size_t n = colon ? (size_t)(colon - listen) : 0;
	if (n >= sizeof(host))
		return false;
	memcpy(host, listen, n);
	host[n] = '\0';
	struct in_addr v4;
	struct in6_addr v6;
	if (inet_pton(AF_INET, host, &v4) == 1)
		return (ntohl(v4.s_addr) >> 24) == 127;
	if (n > 2 && host[0] == '[' && host[n - 1] == ']') {
		host[n - 1] = '\0';
		return inet_pton(AF_INET6, host + 1, &v6) == 1 && IN6_IS_ADDR_LOOPBACK(&v6);
	}
	return !strcmp(host, "localhost");
}

/* Fill o from the environment, then the command line; exits on --help or a bad flag. */
static void parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{"listen", required_argument, NULL, 'l'},  {"meta", required_argument, NULL, 'm'},
		{"workers", required_argument, NULL, 'w'}, {"data-dir", required_argument, NULL, 'd'},
		{"log-level", required_argument, NULL, 'v'}, {"help", no_argument, NULL, 'h'},
		{"api-token", required_argument, NULL, 't'}, {"insecure-listen", no_argument, NULL, 'i'},
		{"tls-cert", required_argument, NULL, 'c'}, {"tls-key", required_argument, NULL, 'k'},
		{"max-connections", required_argument, NULL, 'M'},
		{"request-timeout", required_argument, NULL, 'T'},
		{"version", no_argument, NULL, 'V'},      {NULL, 0, NULL, 0},
	};
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	const char *workers = env_or("FERRY_WORKERS", NULL);
	o->listen = env_or("FERRY_LISTEN", "127.0.0.1:8080");
	o->meta = env_or("FERRY_META_DSN", NULL);
	o->data_dir = env_or("FERRY_DATA_DIR", geteuid() == 0 ? "/var/lib/ferry" : "ferry-data");
	o->log_level = env_or("FERRY_LOG_LEVEL", "info");
	o->token = env_or("FERRY_API_TOKEN", NULL);
	o->tls_cert = env_or("FERRY_TLS_CERT", NULL);
	o->tls_key = env_or("FERRY_TLS_KEY", NULL);
	const char *maxc = env_or("FERRY_MAX_CONNECTIONS", "256");
	const char *timeout = env_or("FERRY_REQUEST_TIMEOUT", "30");
	o->insecure_listen = false;
	o->workers = cores < 2 ? 2 : (int)cores;
	int c;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'l': o->listen = optarg; break;
		case 'm': o->meta = optarg; break;
		case 'w': workers = optarg; break;
		case 'd': o->data_dir = optarg; break;
		case 'v': o->log_level = optarg; break;
		case 't': o->token = optarg; break;
		case 'c': o->tls_cert = optarg; break;
		case 'k': o->tls_key = optarg; break;
		case 'M': maxc = optarg; break;
		case 'T': timeout = optarg; break;
		case 'i': o->insecure_listen = true; break;
		case 'h': usage(stdout); exit(0);
		case 'V': printf("ferryd %s\n", FERRY_VERSION); exit(0);
		default: usage(stderr); exit(2);
		}
	}
	if (optind < argc) {
		fprintf(stderr, "ferryd: unexpected argument \"%s\"\n", argv[optind]);
		exit(2);
	}
	if (workers && !parse_int(workers, 1, 256, &o->workers)) {
		fprintf(stderr, "ferryd: --workers must be a whole number from 1 to 256, not \"%s\"\n",
			workers);
		exit(2);
	}
	if (!parse_int(maxc, 1, 100000, &o->max_connections) ||
	    !parse_int(timeout, 1, 86400, &o->timeout_s)) {
		fprintf(stderr, "ferryd: --max-connections must be 1 to 100000 and --request-timeout 1 to 86400\n");
		exit(2);
	}
	if (!o->tls_cert != !o->tls_key) {
		fprintf(stderr, "ferryd: --tls-cert and --tls-key go together\n");
		exit(2);
	}
	enum log_level lv;
	if (!log_level_parse(o->log_level, &lv)) {
		fprintf(stderr, "ferryd: --log-level must be debug, info, warn or error, not \"%s\"\n",
			o->log_level);
		exit(2);
	}
	log_set_level(lv);
	if (o->token && !*o->token)
		o->token = NULL;
	if (!o->token && !o->insecure_listen && !is_loopback(o->listen)) {
		fprintf(stderr,
			"ferryd: refusing to serve the API without a token on \"%s\", which is not a loopback address;\n"
			"        set --api-token (or FERRY_API_TOKEN), or pass --insecure-listen\n",
			o->listen);
		exit(2);
	}
}

static void listen_url(const char *listen, int port, bool tls, char *out, size_t n)
{
	const char *colon = strrchr(listen, ':');
	int hl = colon ? (int)(colon - listen) : 0;
	snprintf(out, n, "%s://%.*s:%d/", tls ? "https" : "http", hl, listen, port);
}

int main(int argc, char **argv)
{
	struct options o;
	struct err e;
	struct embedpg *pg = NULL;
	struct meta *meta = NULL;
	struct engine *engine = NULL;
	struct scheduler *sched = NULL;
	struct http_server *http = NULL;
	struct app app = {0};
	char *cert = NULL, *key = NULL;
	int rc = 1;
	err_clear(&e);
	parse_options(argc, argv, &o);

	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	const char *meta_dsn = o.meta;
	if (!meta_dsn) {
		if (!(pg = embedpg_start(o.data_dir, &e)))
			goto out;
		meta_dsn = embedpg_dsn(pg);
	}
	char *shown = dsn_redact(meta_dsn);
	log_info("metadata database: %s", shown);
	free(shown);
	if (!(meta = meta_open(meta_dsn, &e)))
		goto out;
	if (!(engine = engine_start(meta, o.workers, &e)))
		goto out;
	sched = scheduler_start(meta, engine);
	app = (struct app){.svc = {.meta = meta, .engine = engine, .default_parallel = o.workers},
			   .meta = meta, .token = o.token};
	svc_start(&app.svc);
	int port = 0;
	struct http_options ho = {.listen = o.listen, .max_connections = (unsigned)o.max_connections,
				  .timeout_s = (unsigned)o.timeout_s};
	if (o.tls_cert) {
		if (!(cert = read_file(o.tls_cert)) || !(key = read_file(o.tls_key))) {
			err_set(&e, 500, "tls", NULL, "could not read %s: %s",
				cert ? o.tls_key : o.tls_cert, strerror(errno));
			goto out;
		}
		ho.tls_cert = cert;
		ho.tls_key = key;
	}
	if (!(http = http_start(&ho, ferry_routes, &app, &port, &e)))
		goto out;
	char url[300];
	listen_url(o.listen, port, o.tls_cert != NULL, url, sizeof(url));
	log_info("ferryd %s listening on %s (status page %s, API %sapi/v1)", FERRY_VERSION, url,
		 url, url);
	log_info("%d worker threads; a job copies %d tables at a time unless its load.parallel says otherwise",
		 o.workers, o.workers);

	int sig = 0;
	sigwait(&sigs, &sig);
	log_info("received %s: shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
	http_quiesce(http);
	rc = 0;
out:
	if (rc && *e.msg)
		log_error("%s", e.msg);
	/* requests in flight may go on until http_stop: the service is freed after it */
	scheduler_stop(sched);
	svc_stop(&app.svc);
	engine_stop(engine);
	http_stop(http);
	engine_free(engine);
	svc_release(&app.svc);
	meta_close(meta);
	embedpg_stop(pg);
	free(cert);
	free(key);
	if (rc == 0)
		log_info("ferryd stopped");
	return rc;
}

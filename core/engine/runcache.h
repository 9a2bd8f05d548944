/* core/engine/runcache.h: recent answers about the runs this ferryd is loading, kept warm by a thread */
#ifndef FERRY_RUNCACHE_H
#define FERRY_RUNCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

/*
 * Where answers come from.
 *
 * live: true when answers about run_id may be kept (this process is
 * loading the run), with the run's generation in *gen and in *changing
 * whether a change to it is under way. An answer is served only while no
 * change is under way and the generation is the one read before its fetch
 * began. Called with the cache's lock held: it must be quick, must not wait
 * for a query and must not call the cache.
 *
 * fetch: the answer from the database, a new string of *len bytes, or NULL
 * with e filled. Called with no lock held, from request threads and from
 * the refresher, one at a time for a live run: what is kept is always the
 * newest answer handed out, so that a client asking again never gets an
 * older one.
 */
struct runcache_source {
	bool (*live)(void *arg, const char *run_id, uint64_t *gen, bool *changing);
	char *(*fetch)(void *arg, const char *run_id, size_t *len, struct err *e);
	void *arg;
};

/* How long answers are kept and served, in milliseconds, and how many runs are kept. */
struct runcache_limits {
	int max_age_ms; /* an answer is served until it is this old, counted from its fetch's start */
	int refresh_ms; /* the refresher fetches an answer again once it is this old */
	int tick_ms;    /* the refresher looks at least this often, and retries a failed fetch no sooner */
	int idle_ms;    /* an answer nobody has asked for in this long is dropped */
	int max_runs;   /* runs kept at once; the one asked for least recently makes room */
	int untaken;    /* the refresher's answers in a row that no request took, after which it
			   waits for a request before it fetches that run again */
};

/* 250, 150, 100, 5000, 64 and 2. */
extern const struct runcache_limits runcache_defaults;

struct runcache;

/*
 * Start a cache with its refresher thread, returning once the refresher
 * has made its first look (at no slots). src and lim are copied; what
 * src.arg points to must outlive runcache_stop.
 */
struct runcache *runcache_start(const struct runcache_source *src,
				const struct runcache_limits *lim);

/*
 * The answer about run_id: a new string of *len bytes (caller frees), from
 * memory when a kept one may be served, otherwise fetched (and kept when
 * the run is live). A fetch about a live run already under way is waited
 * for first, unless the kept answer may still be served (the fetch only
 * refreshes it); when the fetch waited for fails, so does this call. NULL with e filled when the
 * fetch fails; failures are not kept.
 */
char *runcache_get(struct runcache *c, const char *run_id, size_t *len, struct err *e);

/* A generation may have moved: the refresher looks at once. Quick; any thread. */
void runcache_poke(struct runcache *c);

/*
 * End the refresher (waits for it) and stop calling src.live: from now on
 * runcache_get always fetches. NULL is fine.
 */
void runcache_stop(struct runcache *c);

/* Free the cache after runcache_stop, once no thread can call it any more. NULL is fine. */
void runcache_free(struct runcache *c);

#endif

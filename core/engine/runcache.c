/* core/engine/runcache.c: recent answers about the runs this ferryd is loading, kept warm by a thread */
#include "runcache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util.h"
#include "banned.h"

const struct runcache_limits runcache_defaults = {
	.max_age_ms = 250, .refresh_ms = 150, .tick_ms = 100, .idle_ms = 5000, .max_runs = 64,
	.untaken = 2,
};

/* One run's answer. A slot is free when run_id is "". */
struct entry {
	char run_id[37];
	char *body; /* owned: the newest answer, or NULL before the first */
	size_t len;
	uint64_t gen;       /* the run's generation read before body's fetch began */
	int64_t fetched_ms; /* when body's fetch began */
	int64_t wanted_ms;  /* when a request last asked */
	uint64_t asked;     /* the number of that request: the lowest makes room */
	bool fetching;      /* a fetch is under way: the slot is neither dropped nor reused */
	uint64_t tried_gen; /* the generation the newest fetch began under */
	int64_t tried_ms;   /* when it began */
	uint64_t fetch_no;  /* its number */
	bool failed;        /* it failed, with error */
	struct err error;
	int untaken;        /* the refresher's answers in a row that no request took */
};

struct runcache {
	struct runcache_source src;
	struct runcache_limits lim;
	pthread_mutex_t lock; /* guards everything below; never held across a fetch */
	pthread_cond_t wake;  /* the refresher's, on CLOCK_MONOTONIC */
	pthread_cond_t fetched; /* a fetch is over */
	pthread_t thread;
	bool stopping; /* the refresher ends and src.live is not called any more */
	bool started;  /* the refresher has made its first look */
	bool poked;    /* a generation may have moved since the refresher last looked */
	uint64_t asks; /* requests so far */
	uint64_t fetches; /* fetches begun so far */
	struct entry *slots; /* owned: lim.max_runs of them */
};

static void entry_clear(struct entry *en)
{
	free(en->body);
	memset(en, 0, sizeof(*en));
}

static struct entry *entry_find(struct runcache *c, const char *run_id)
{
	for (int i = 0; i < c->lim.max_runs; i++)
		if (!strcmp(c->slots[i].run_id, run_id))
			return &c->slots[i];
	return NULL;
}

/*
 * A slot for run_id: its own, a free one, or the one asked for least
 * recently (emptied); NULL when every slot has a fetch under way.
 */
static struct entry *entry_take(struct runcache *c, const char *run_id)
{
	struct entry *en = entry_find(c, run_id), *oldest = NULL;
	if (en)
		return en;
	for (int i = 0; i < c->lim.max_runs && !en; i++) {
		struct entry *s = &c->slots[i];
		if (!s->run_id[0])
			en = s;
		else if (!s->fetching && (!oldest || s->asked < oldest->asked))
			oldest = s;
	}
	if (!en && !oldest)
		return NULL;
	if (!en) {
		en = oldest;
		entry_clear(en);
	}
	str_copy(en->run_id, sizeof(en->run_id), run_id);
	return en;
}

/* A fetch about en's run begins at `at` under generation gen; the lock is held. */
static void fetch_begin(struct runcache *c, struct entry *en, uint64_t gen, int64_t at)
{
	en->fetching = true;
	en->tried_gen = gen;
	en->tried_ms = at;
	en->fetch_no = ++c->fetches;
}

/*
 * The fetch that began at `began` under gen is over: keep body (not
 * stolen), or when it failed (NULL) keep the answer before and e, and let
 * the requests waiting for it go on. taken: a request fetched it and
 * answers with it; otherwise the refresher did, and it counts as untaken
 * until a request is served it.
 */
static void fetch_end(struct runcache *c, struct entry *en, uint64_t gen, int64_t began,
		      const char *body, size_t len, const struct err *e, bool taken)
{
	pthread_mutex_lock(&c->lock);
	en->fetching = false;
	en->failed = !body;
	if (!body)
		en->error = *e;
	if (body) {
		free(en->body);
		en->body = xmalloc(len + 1);
		memcpy(en->body, body, len);
		en->body[len] = '\0';
		en->len = len;
		en->gen = gen;
		en->fetched_ms = began;
		en->untaken = taken ? 0 : en->untaken + 1;
	}
	pthread_cond_broadcast(&c->fetched);
	pthread_mutex_unlock(&c->lock);
}

/*
 * Whether en's kept answer may be served now (lock held): the run is not
 * changing, its generation is the one the answer was fetched under and the
 * answer is young enough. A fetch under way does not matter: it can only
 * bring a newer answer, which is kept once it ends.
 */
static bool servable(const struct runcache *c, const struct entry *en, uint64_t gen,
		     bool changing, int64_t now)
{
	return !changing && en->body && en->gen == gen && now - en->fetched_ms <= c->lim.max_age_ms;
}

char *runcache_get(struct runcache *c, const char *run_id, size_t *len, struct err *e)
{
	uint64_t gen = 0, waited = 0;
	bool changing = false;
	struct entry *en = NULL;
	int64_t now;
	pthread_mutex_lock(&c->lock);
	for (;;) {
		now = now_ms();
		bool live = !c->stopping && c->src.live(c->src.arg, run_id, &gen, &changing);
		en = live ? entry_take(c, run_id) : NULL;
		if (en && waited && en->fetch_no == waited && en->failed) {
			/* the fetch waited for failed: so does this request, rather than try again at once */
			*e = en->error;
			pthread_mutex_unlock(&c->lock);
			return NULL;
		}
		if (!en || !en->fetching || servable(c, en, gen, changing, now))
			break;
		waited = en->fetch_no;
		pthread_cond_wait(&c->fetched, &c->lock);
	}
	if (en) {
		en->wanted_ms = now;
		en->asked = ++c->asks;
		if (servable(c, en, gen, changing, now)) {
			en->untaken = 0;
			char *out = xmalloc(en->len + 1);
			memcpy(out, en->body, en->len + 1);
			*len = en->len;
			pthread_mutex_unlock(&c->lock);
			return out;
		}
		fetch_begin(c, en, gen, now);
	}
	pthread_mutex_unlock(&c->lock);
	char *body = c->src.fetch(c->src.arg, run_id, len, e);
	if (en)
		fetch_end(c, en, gen, now, body, body ? *len : 0, e, true);
	return body;
}

/*
 * Drop the answers nobody wants any more and those of runs no longer live;
 * of the rest, the first that is due for a fetch, with the run's generation
 * in *gen, or NULL. An answer is due when the generation moved since its
 * last fetch began, or when it is refresh_ms old and no fetch began in the
 * last tick_ms. Slots with a fetch under way are left alone, and so are
 * those whose last lim.untaken answers from the refresher no request took:
 * when the run changes faster than it is asked about (thousands of small
 * tables, one poll a second), answering each request with a fetch of its
 * own costs the database less than fetching at every change. *next_ms gets
 * the soonest time another one falls due.
 */
static struct entry *entry_due(struct runcache *c, int64_t now, uint64_t *gen, int64_t *next_ms)
{
	*next_ms = now + c->lim.tick_ms;
	for (int i = 0; i < c->lim.max_runs; i++) {
		struct entry *en = &c->slots[i];
		bool changing;
		if (!en->run_id[0] || en->fetching)
			continue;
		if (now - en->wanted_ms > c->lim.idle_ms ||
		    !c->src.live(c->src.arg, en->run_id, gen, &changing)) {
			entry_clear(en);
			continue;
		}
		if (en->untaken >= c->lim.untaken)
			continue;
		int64_t due = en->fetched_ms + c->lim.refresh_ms;
		if (due < en->tried_ms + c->lim.tick_ms)
			due = en->tried_ms + c->lim.tick_ms;
		if (*gen != en->tried_gen || due <= now)
			return en;
		if (due < *next_ms)
			*next_ms = due;
	}
	return NULL;
}

/* Wait (lock held) until next_ms, a poke or the stop. */
static void refresher_wait(struct runcache *c, int64_t next_ms)
{
	struct timespec until = {(time_t)(next_ms / 1000), (long)(next_ms % 1000) * 1000000L};
	while (!c->stopping && !c->poked && now_ms() < next_ms)
		pthread_cond_timedwait(&c->wake, &c->lock, &until);
}

static void *refresher_main(void *arg)
{
	struct runcache *c = arg;
	pthread_mutex_lock(&c->lock);
	c->started = true;
	pthread_cond_broadcast(&c->fetched);
	while (!c->stopping) {
		uint64_t gen;
		int64_t now = now_ms(), next_ms;
		c->poked = false;
		struct entry *en = entry_due(c, now, &gen, &next_ms);
		if (!en) {
			refresher_wait(c, next_ms);
			continue;
		}
		char run_id[37];
		str_copy(run_id, sizeof(run_id), en->run_id);
		fetch_begin(c, en, gen, now);
		pthread_mutex_unlock(&c->lock);
		struct err e;
		size_t len = 0;
		err_clear(&e);
		char *body = c->src.fetch(c->src.arg, run_id, &len, &e);
		fetch_end(c, en, gen, now, body, len, &e, false);
		free(body);
		pthread_mutex_lock(&c->lock);
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

struct runcache *runcache_start(const struct runcache_source *src,
				const struct runcache_limits *lim)
{
	struct runcache *c = xcalloc(1, sizeof(*c));
	c->src = *src;
	c->lim = *lim;
	c->slots = xcalloc((size_t)lim->max_runs, sizeof(*c->slots));
	pthread_condattr_t attr;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&c->wake, &attr);
	pthread_condattr_destroy(&attr);
	pthread_cond_init(&c->fetched, NULL);
	pthread_mutex_init(&c->lock, NULL);
	pthread_create(&c->thread, NULL, refresher_main, c);
	/*
	 * The refresher holds the lock from its start until it first waits, so
	 * once it has started nothing it does depends on how late the scheduler
	 * runs it: a cache just started looks at its slots only when poked,
	 * ticked or asked.
	 */
	pthread_mutex_lock(&c->lock);
	while (!c->started)
		pthread_cond_wait(&c->fetched, &c->lock);
	pthread_mutex_unlock(&c->lock);
	return c;
}

void runcache_poke(struct runcache *c)
{
	pthread_mutex_lock(&c->lock);
	c->poked = true;
	pthread_cond_signal(&c->wake);
	pthread_mutex_unlock(&c->lock);
}

void runcache_stop(struct runcache *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	bool running = !c->stopping;
	c->stopping = true;
	pthread_cond_signal(&c->wake);
	pthread_mutex_unlock(&c->lock);
	if (running)
		pthread_join(c->thread, NULL);
}

void runcache_free(struct runcache *c)
{
	if (!c)
		return;
	runcache_stop(c);
	for (int i = 0; i < c->lim.max_runs; i++)
		entry_clear(&c->slots[i]);
	free(c->slots);
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->wake);
	pthread_cond_destroy(&c->fetched);
	free(c);
}

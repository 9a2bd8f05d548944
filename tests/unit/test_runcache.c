/* tests/unit/test_runcache.c: when kept answers about live runs are served, fetched again or dropped (runcache.h) */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runcache.h"
#include "util.h"

#define DEADLINE_MS 5000
#define LONG_MS 600000

/*
 * A stand-in for the engine and the database: every run is live except
 * "gone", all share one generation and one changing flag, and each fetch
 * answers "<who><n> <run>" where who is t for the test's thread, w for
 * another thread of the test and r for the refresher, n counting the
 * fetches of each. While hold is set the refresher's fetches wait.
 */
struct fake {
	pthread_mutex_t lock;
	pthread_cond_t changed;
	pthread_t test_thread;
	uint64_t gen;
	bool changing;
	bool fail;
	bool hold;
	int fetches;   /* by the test's thread */
	int waiters;   /* by another thread of the test */
	int refreshes; /* by the refresher */
	int looks;     /* calls of live by another thread of the test */
};

static __thread bool waiter_thread;

static bool fake_live(void *arg, const char *run_id, uint64_t *gen, bool *changing)
{
	struct fake *f = arg;
	pthread_mutex_lock(&f->lock);
	*gen = f->gen;
	*changing = f->changing;
	if (waiter_thread)
		f->looks++;
	pthread_mutex_unlock(&f->lock);
	return strcmp(run_id, "gone") != 0;
}

static char *fake_fetch(void *arg, const char *run_id, size_t *len, struct err *e)
{
	struct fake *f = arg;
	char *body = NULL;
	pthread_mutex_lock(&f->lock);
	char who = pthread_equal(pthread_self(), f->test_thread) ? 't' : waiter_thread ? 'w' : 'r';
	int n = who == 't' ? ++f->fetches : who == 'w' ? ++f->waiters : ++f->refreshes;
	pthread_cond_broadcast(&f->changed);
	while (who == 'r' && f->hold)
		pthread_cond_wait(&f->changed, &f->lock);
	if (f->fail)
		err_set(e, 503, "unavailable", NULL, "the database is down");
	else
		body = xasprintf("%c%d %s", who, n, run_id);
	pthread_mutex_unlock(&f->lock);
	if (body)
		*len = strlen(body);
	return body;
}

static int counter(struct fake *f, const int *which)
{
	pthread_mutex_lock(&f->lock);
	int n = *which;
	pthread_mutex_unlock(&f->lock);
	return n;
}

static void set_gen(struct fake *f, uint64_t gen)
{
	pthread_mutex_lock(&f->lock);
	f->gen = gen;
	pthread_mutex_unlock(&f->lock);
}

static void set_changing(struct fake *f, bool changing)
{
	pthread_mutex_lock(&f->lock);
	f->changing = changing;
	pthread_mutex_unlock(&f->lock);
}

static void set_hold(struct fake *f, bool hold)
{
	pthread_mutex_lock(&f->lock);
	f->hold = hold;
	pthread_cond_broadcast(&f->changed);
	pthread_mutex_unlock(&f->lock);
}

static void set_fail(struct fake *f, bool fail)
{
	pthread_mutex_lock(&f->lock);
	f->fail = fail;
	pthread_mutex_unlock(&f->lock);
}

/* Limits under which the refresher stays idle unless it is poked. */
static struct runcache_limits quiet(void)
{
	return (struct runcache_limits){.max_age_ms = LONG_MS, .refresh_ms = LONG_MS,
					.tick_ms = LONG_MS, .idle_ms = LONG_MS, .max_runs = 8,
					.untaken = 2};
}

/* Limits under which the refresher fetches an asked answer again every 20 ms. */
static struct runcache_limits refreshing(void)
{
	struct runcache_limits lim = quiet();
	lim.refresh_ms = 20;
	lim.tick_ms = 10;
	return lim;
}

static struct runcache *start(struct fake *f, struct runcache_limits lim)
{
	memset(f, 0, sizeof(*f));
	pthread_mutex_init(&f->lock, NULL);
	pthread_cond_init(&f->changed, NULL);
	f->test_thread = pthread_self();
	f->gen = 1;
	struct runcache_source src = {fake_live, fake_fetch, f};
	return runcache_start(&src, &lim);
}

static void finish(struct runcache *c, struct fake *f)
{
	runcache_stop(c);
	runcache_free(c);
	pthread_mutex_destroy(&f->lock);
	pthread_cond_destroy(&f->changed);
}

/* runcache_get must answer want (and the length must match). */
static void expect_get(struct runcache *c, const char *run_id, const char *want)
{
	struct err e;
	size_t len = 0;
	err_clear(&e);
	char *got = runcache_get(c, run_id, &len, &e);
	assert_non_null(got);
	assert_string_equal(got, want);
	assert_int_equal(len, strlen(want));
	free(got);
}

/* runcache_get must answer about "a" with the refresher's fetch. */
static void expect_refreshed(struct runcache *c)
{
	struct err e;
	size_t len = 0;
	err_clear(&e);
	char *got = runcache_get(c, "a", &len, &e);
	assert_non_null(got);
	assert_int_equal(got[0], 'r');
	free(got);
}

static void pause_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* Wait until *which reaches n, failing after DEADLINE_MS. */
static void wait_count(struct fake *f, const int *which, int n)
{
	int64_t until = now_ms() + DEADLINE_MS;
	while (counter(f, which) < n) {
		if (now_ms() > until)
			fail_msg("count stayed at %d, wanted %d", counter(f, which), n);
		pause_ms(2);
	}
}

static void test_live_answer_is_served_from_memory(void **state)
{
	(void)state;
	struct fake f;
	struct runcache *c = start(&f, quiet());
	expect_get(c, "a", "t1 a");
	expect_get(c, "a", "t1 a");
	expect_get(c, "b", "t2 b");
	expect_get(c, "a", "t1 a");
	assert_int_equal(counter(&f, &f.fetches), 2);
	finish(c, &f);
}

static void test_run_not_live_is_always_fetched(void **state)
{
	(void)state;
	struct fake f;
	struct runcache *c = start(&f, quiet());
	expect_get(c, "gone", "t1 gone");
	expect_get(c, "gone", "t2 gone");
	finish(c, &f);
}

static void test_moved_generation_is_fetched_again(void **state)
{
	(void)state;
	struct fake f;
	struct runcache *c = start(&f, quiet());
	expect_get(c, "a", "t1 a");
	set_gen(&f, 2);
	expect_get(c, "a", "t2 a");
	expect_get(c, "a", "t2 a");
	finish(c, &f);
}

static void test_changing_run_is_not_served(void **state)
{
	(void)state;
	struct fake f;
	struct runcache *c = start(&f, quiet());
	expect_get(c, "a", "t1 a");
	set_changing(&f, true);
	expect_get(c, "a", "t2 a");
	expect_get(c, "a", "t3 a");
	/* the change left the generation as it was (a claim of another run's task) */
	set_changing(&f, false);
	expect_get(c, "a", "t3 a");
	set_changing(&f, true);
	set_gen(&f, 2);
	expect_get(c, "a", "t4 a");
	set_changing(&f, false);
	set_gen(&f, 3);
	expect_get(c, "a", "t5 a");
	expect_get(c, "a", "t5 a");
	finish(c, &f);
}

static void test_old_answer_is_fetched_again(void **state)
{
	(void)state;
	struct fake f;
	struct runcache_limits lim = quiet();
	lim.max_age_ms = 30;
	struct runcache *c = start(&f, lim);
	expect_get(c, "a", "t1 a");
	pause_ms(60);
	expect_get(c, "a", "t2 a");
	finish(c, &f);
}

static void test_failure_is_not_kept(void **state)
{
	(void)state;
	struct fake f;
	struct runcache *c = start(&f, quiet());
	struct err e;
	size_t len = 0;
	err_clear(&e);
	set_fail(&f, true);
	assert_null(runcache_get(c, "a", &len, &e));
	assert_int_equal(e.status, 503);
	set_fail(&f, false);
	expect_get(c, "a", "t2 a");
	expect_get(c, "a", "t2 a");
	finish(c, &f);
}

static void test_least_recently_asked_run_makes_room(void **state)
{
	(void)state;
	struct fake f;
	struct runcache_limits lim = quiet();
	lim.max_runs = 2;
	struct runcache *c = start(&f, lim);
	expect_get(c, "a", "t1 a");
	expect_get(c, "b", "t2 b");
	expect_get(c, "a", "t1 a");
	expect_get(c, "c", "t3 c"); /* b goes */
	expect_get(c, "a", "t1 a");
	expect_get(c, "c", "t3 c");
	expect_get(c, "b", "t4 b");
	finish(c, &f);
}

static void test_poke_refreshes_a_moved_generation(void **state)
{
	(void)state;
	struct fake f;
	struct runcache *c = start(&f, quiet());
	expect_get(c, "a", "t1 a");
	runcache_poke(c);
	set_gen(&f, 2);
	runcache_poke(c);
	wait_count(&f, &f.refreshes, 1);
	finish(c, &f);
	assert_int_equal(f.refreshes, 1);
}

/* A request of another thread: runcache_get(c, "a"). */
struct waiter {
	struct runcache *c;
	char *got; /* owned */
	struct err e;
	int done; /* set (atomically) once runcache_get returned */
};

static void *waiter_main(void *arg)
{
	struct waiter *w = arg;
	size_t len = 0;
	err_clear(&w->e);
	waiter_thread = true;
	w->got = runcache_get(w->c, "a", &len, &w->e);
	__atomic_store_n(&w->done, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

/*
 * With "a" kept at generation 1: move it to 2, let the refresher's fetch
 * begin and hold it, have another thread ask for "a" meanwhile, then let
 * the fetch end (failing when fail is set). w gets what that thread got.
 */
static void ask_during_refresh(struct runcache *c, struct fake *f, bool fail, struct waiter *w)
{
	set_hold(f, true);
	set_fail(f, fail);
	set_gen(f, 2);
	runcache_poke(c);
	wait_count(f, &f->refreshes, 1);
	pthread_t t;
	w->c = c;
	pthread_create(&t, NULL, waiter_main, w);
	/* it looked with the cache's lock held, which it gives up only to wait */
	wait_count(f, &f->looks, 1);
	assert_int_equal(counter(f, &f->waiters), 0);
	set_hold(f, false);
	pthread_join(t, NULL);
	set_fail(f, false);
	assert_int_equal(counter(f, &f->waiters), 0);
}

static void test_request_waits_for_the_fetch_under_way(void **state)
{
	(void)state;
	struct fake f;
	struct waiter w;
	struct runcache *c = start(&f, quiet());
	expect_get(c, "a", "t1 a");
	ask_during_refresh(c, &f, false, &w);
	assert_string_equal(w.got, "r1 a");
	free(w.got);
	expect_get(c, "a", "r1 a");
	finish(c, &f);
}

static void test_request_shares_the_failure_of_the_fetch_under_way(void **state)
{
	(void)state;
	struct fake f;
	struct waiter w;
	struct runcache *c = start(&f, quiet());
	expect_get(c, "a", "t1 a");
	ask_during_refresh(c, &f, true, &w);
	assert_null(w.got);
	assert_int_equal(w.e.status, 503);
	expect_get(c, "a", "t2 a");
	finish(c, &f);
}

/*
 * The refresher fetches a kept answer again because of its age alone: while
 * that fetch is under way, a request gets the kept answer at once rather
 * than wait for it, and once the fetch ends its newer answer is served.
 */
static void test_request_does_not_wait_for_a_refresh_of_a_servable_answer(void **state)
{
	(void)state;
	struct fake f;
	struct runcache *c = start(&f, refreshing());
	set_hold(&f, true);
	expect_get(c, "a", "t1 a");
	wait_count(&f, &f.refreshes, 1);
	struct waiter w = {.c = c};
	pthread_t t;
	pthread_create(&t, NULL, waiter_main, &w);
	/* with the refresher's fetch still held, the request ends */
	int64_t until = now_ms() + DEADLINE_MS;
	while (!__atomic_load_n(&w.done, __ATOMIC_SEQ_CST)) {
		if (now_ms() > until) {
			/* let the fetch and the request end before failing: f lives on this stack */
			set_hold(&f, false);
			pthread_join(t, NULL);
			free(w.got);
			finish(c, &f);
			fail_msg("the request waited for a fetch that only refreshes a servable answer");
		}
		pause_ms(2);
	}
	pthread_join(t, NULL);
	assert_string_equal(w.got, "t1 a");
	free(w.got);
	assert_int_equal(counter(&f, &f.waiters), 0);
	set_hold(&f, false);
	wait_count(&f, &f.refreshes, 2);
	expect_refreshed(c);
	finish(c, &f);
}

static void test_refresher_keeps_an_asked_answer_fresh(void **state)
{
	(void)state;
	struct fake f;
	struct runcache *c = start(&f, refreshing());
	expect_get(c, "a", "t1 a");
	/* the refresher fetches one at a time: its first answer is kept before its second fetch */
	wait_count(&f, &f.refreshes, 2);
	expect_refreshed(c);
	assert_int_equal(counter(&f, &f.fetches), 1);
	finish(c, &f);
}

/*
 * Once two of the refresher's answers in a row went to no request, it
 * fetches that run again neither for its age nor for a change, until a
 * request has been answered.
 */
static void test_refresher_waits_for_a_request_after_untaken_answers(void **state)
{
	(void)state;
	struct fake f;
	struct runcache *c = start(&f, refreshing());
	expect_get(c, "a", "t1 a");
	wait_count(&f, &f.refreshes, 2);
	/* refresh_ms is 20 and tick_ms 10: left to fetch, it would have done so a few times by now */
	set_gen(&f, 2);
	runcache_poke(c);
	pause_ms(100);
	int refreshes = counter(&f, &f.refreshes);
	if (refreshes != 2) {
		/* stop the refresher before failing: f lives on this stack */
		finish(c, &f);
		fail_msg("the refresher fetched %d times, after two answers nobody took", refreshes);
	}
	/* the kept answer is of the generation before: the request fetches its own */
	expect_get(c, "a", "t2 a");
	set_gen(&f, 3);
	runcache_poke(c);
	wait_count(&f, &f.refreshes, 3);
	finish(c, &f);
}

static void test_unasked_answer_is_dropped(void **state)
{
	(void)state;
	struct fake f;
	struct runcache_limits lim = refreshing();
	lim.idle_ms = 100;
	struct runcache *c = start(&f, lim);
	expect_get(c, "a", "t1 a");
	wait_count(&f, &f.refreshes, 1);
	/* once dropped, nothing refreshes it: the count settles */
	int64_t until = now_ms() + DEADLINE_MS;
	int before;
	do {
		if (now_ms() > until)
			fail_msg("the refresher still fetches an answer nobody asked for");
		before = counter(&f, &f.refreshes);
		pause_ms(150);
	} while (counter(&f, &f.refreshes) != before);
	expect_get(c, "a", "t2 a");
	finish(c, &f);
}

static void test_stopped_cache_always_fetches(void **state)
{
	(void)state;
	struct fake f;
	struct runcache *c = start(&f, quiet());
	expect_get(c, "a", "t1 a");
	runcache_stop(c);
	expect_get(c, "a", "t2 a");
	expect_get(c, "a", "t3 a");
	finish(c, &f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_live_answer_is_served_from_memory),
		cmocka_unit_test(test_run_not_live_is_always_fetched),
		cmocka_unit_test(test_moved_generation_is_fetched_again),
		cmocka_unit_test(test_changing_run_is_not_served),
		cmocka_unit_test(test_old_answer_is_fetched_again),
		cmocka_unit_test(test_failure_is_not_kept),
		cmocka_unit_test(test_least_recently_asked_run_makes_room),
		cmocka_unit_test(test_poke_refreshes_a_moved_generation),
		cmocka_unit_test(test_request_waits_for_the_fetch_under_way),
		cmocka_unit_test(test_request_does_not_wait_for_a_refresh_of_a_servable_answer),
		cmocka_unit_test(test_request_shares_the_failure_of_the_fetch_under_way),
		cmocka_unit_test(test_refresher_keeps_an_asked_answer_fresh),
		cmocka_unit_test(test_refresher_waits_for_a_request_after_untaken_answers),
		cmocka_unit_test(test_unasked_answer_is_dropped),
		cmocka_unit_test(test_stopped_cache_always_fetches),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

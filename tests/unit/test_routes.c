/* tests/unit/test_routes.c: path matching and route lookup (server/routes.h) */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "routes.h"

static void h_noop(struct req *r)
{
	(void)r;
}

static const struct route table[] = {
	{"GET", "/jobs", h_noop, ROUTE_BODY_NONE},             /* 0 */
	{"POST", "/jobs", h_noop, ROUTE_BODY_JSON},            /* 1 */
	{"GET", "/jobs/{}", h_noop, ROUTE_BODY_NONE},          /* 2 */
	{"PUT", "/jobs/{}", h_noop, ROUTE_BODY_JSON},          /* 3 */
	{"DELETE", "/jobs/{}", h_noop, ROUTE_BODY_NONE},       /* 4 */
	{"PUT", "/jobs/special", h_noop, ROUTE_BODY_JSON},     /* 5 */
	{"GET", "/jobs/{}/runs", h_noop, ROUTE_BODY_NONE},     /* 6 */
	{"POST", "/jobs/{}/runs", h_noop, ROUTE_BODY_OPTIONAL}, /* 7 */
	{"GET", "/", h_noop, ROUTE_BODY_NONE},                 /* 8 */
	{"GET", "/{}", h_noop, ROUTE_BODY_NONE},               /* 9 */
	{NULL, NULL, NULL, 0},
};

static void test_match_literal(void **state)
{
	(void)state;
	struct route_params p;
	assert_true(route_match("/healthz", "/healthz", &p));
	assert_int_equal(p.n, 0);
	assert_true(route_match("/", "/", &p));
	assert_int_equal(p.n, 0);
	assert_false(route_match("/healthz", "/healthy", &p));
	assert_false(route_match("/healthz", "/health", &p));
	assert_false(route_match("/health", "/healthz", &p));
	assert_false(route_match("/healthz", "/HEALTHZ", &p));
	assert_false(route_match("/healthz", "", &p));
}

static void test_match_params(void **state)
{
	(void)state;
	struct route_params p;
	assert_true(route_match("/api/v1/jobs/{}", "/api/v1/jobs/abc", &p));
	assert_int_equal(p.n, 1);
	assert_string_equal(p.v[0], "abc");

	assert_true(route_match("/api/v1/jobs/{}/runs", "/api/v1/jobs/j-1/runs", &p));
	assert_int_equal(p.n, 1);
	assert_string_equal(p.v[0], "j-1");

	assert_true(route_match("/a/{}/b/{}", "/a/x/b/yy", &p));
	assert_int_equal(p.n, 2);
	assert_string_equal(p.v[0], "x");
	assert_string_equal(p.v[1], "yy");

	assert_true(route_match("/{}/{}/{}/{}", "/1/22/333/4444", &p));
	assert_int_equal(p.n, 4);
	assert_string_equal(p.v[0], "1");
	assert_string_equal(p.v[1], "22");
	assert_string_equal(p.v[2], "333");
	assert_string_equal(p.v[3], "4444");

	/* a parameter is a whole segment, and the captures live in p.buf */
	assert_false(route_match("/files/{}.txt", "/files/name.txt", &p));
	assert_true(route_match("/x/{}", "/x/a.b.c", &p));
	assert_string_equal(p.v[0], "a.b.c");
	assert_true(p.v[0] >= p.buf && p.v[0] < p.buf + sizeof(p.buf));
}

static void test_match_too_many_params(void **state)
{
	(void)state;
	struct route_params p;
	assert_false(route_match("/{}/{}/{}/{}/{}", "/1/2/3/4/5", &p));
}

static void test_match_decodes(void **state)
{
	(void)state;
	struct route_params p;
	assert_true(route_match("/jobs/{}", "/jobs/a%2Fb", &p));
	assert_string_equal(p.v[0], "a/b");
	assert_true(route_match("/jobs/{}", "/jobs/a%2fb", &p));
	assert_string_equal(p.v[0], "a/b");
	assert_true(route_match("/jobs/{}", "/jobs/nightly%20copy", &p));
	assert_string_equal(p.v[0], "nightly copy");
	assert_true(route_match("/jobs/{}", "/jobs/%41%42c", &p));
	assert_string_equal(p.v[0], "ABc");
	assert_true(route_match("/jobs/{}", "/jobs/%25", &p));
	assert_string_equal(p.v[0], "%");
	assert_true(route_match("/jobs/{}", "/jobs/a+b", &p));
	assert_string_equal(p.v[0], "a+b");
	assert_true(route_match("/jobs/{}/runs", "/jobs/x%2Fy/runs", &p));
	assert_string_equal(p.v[0], "x/y");
	assert_true(route_match("/a/{}/b/{}", "/a/%20/b/%2F", &p));
	assert_string_equal(p.v[0], " ");
	assert_string_equal(p.v[1], "/");
	/* an encoded slash does not split the segment */
	assert_false(route_match("/jobs/{}/runs", "/jobs/x%2Fruns", &p));
}

static void test_match_bad_escapes(void **state)
{
	(void)state;
	struct route_params p;
	assert_false(route_match("/jobs/{}", "/jobs/%", &p));
	assert_false(route_match("/jobs/{}", "/jobs/%2", &p));
	assert_false(route_match("/jobs/{}", "/jobs/a%2", &p));
	assert_false(route_match("/jobs/{}", "/jobs/%zz", &p));
	assert_false(route_match("/jobs/{}", "/jobs/%g0", &p));
	assert_false(route_match("/jobs/{}/runs", "/jobs/%2/runs", &p));
}

static void test_match_empty_segment(void **state)
{
	(void)state;
	struct route_params p;
	assert_false(route_match("/jobs/{}", "/jobs/", &p));
	assert_false(route_match("/jobs/{}/runs", "/jobs//runs", &p));
	assert_false(route_match("/{}", "/", &p));
	assert_false(route_match("/a/{}/b/{}", "/a/x/b/", &p));
}

static void test_match_trailing_slash(void **state)
{
	(void)state;
	struct route_params p;
	assert_false(route_match("/jobs", "/jobs/", &p));
	assert_false(route_match("/jobs/", "/jobs", &p));
	assert_false(route_match("/jobs/{}", "/jobs/x/", &p));
	assert_false(route_match("/jobs/{}", "/jobs/x/runs", &p));
	assert_false(route_match("/jobs/{}/runs", "/jobs/x/runs/", &p));
	assert_false(route_match("/jobs/{}/runs", "/jobs/x", &p));
}

static void test_match_too_long(void **state)
{
	(void)state;
	struct route_params p;
	char path[4000];
	/* the longest segment that fits the capture buffer with its terminator */
	size_t fit = sizeof(p.buf) - 1;
	snprintf(path, sizeof(path), "/jobs/");
	memset(path + 6, 'a', fit);
	path[6 + fit] = '\0';
	assert_true(route_match("/jobs/{}", path, &p));
	assert_int_equal(strlen(p.v[0]), fit);

	memset(path + 6, 'a', fit + 1);
	path[6 + fit + 1] = '\0';
	assert_false(route_match("/jobs/{}", path, &p));

	/* the limit applies to the decoded segment */
	char *q = path + 6;
	for (size_t i = 0; i < fit; i++, q += 3)
		memcpy(q, "%41", 3);
	*q = '\0';
	assert_true(route_match("/jobs/{}", path, &p));
	assert_int_equal(strlen(p.v[0]), fit);
	assert_int_equal(p.v[0][0], 'A');
	memcpy(q, "%41", 4);
	assert_false(route_match("/jobs/{}", path, &p));

	/* two captures share the buffer */
	char two[2000];
	memset(two, 0, sizeof(two));
	two[0] = '/';
	memset(two + 1, 'x', 600);
	two[601] = '/';
	memset(two + 602, 'y', 500);
	assert_false(route_match("/{}/{}", two, &p));
	two[602 + 400] = '\0';
	assert_true(route_match("/{}/{}", two, &p));
	assert_int_equal(strlen(p.v[0]), 600);
	assert_int_equal(strlen(p.v[1]), 400);
}

/* route_find on the test table; the index of the route found, or -1. */
static int find(const char *method, const char *path, struct route_params *p)
{
	char allow[64];
	bool known;
	const struct route *r = route_find(table, method, path, p, allow, sizeof(allow), &known);
	return r ? (int)(r - table) : -1;
}

static void test_find_by_method(void **state)
{
	(void)state;
	struct route_params p;
	assert_int_equal(find("GET", "/jobs", &p), 0);
	assert_int_equal(find("POST", "/jobs", &p), 1);
	assert_int_equal(find("GET", "/jobs/j1", &p), 2);
	assert_int_equal(p.n, 1);
	assert_string_equal(p.v[0], "j1");
	assert_int_equal(find("PUT", "/jobs/j2", &p), 3);
	assert_string_equal(p.v[0], "j2");
	assert_int_equal(find("DELETE", "/jobs/j3", &p), 4);
	assert_string_equal(p.v[0], "j3");
	assert_int_equal(find("GET", "/jobs/j4/runs", &p), 6);
	assert_int_equal(find("POST", "/jobs/j4/runs", &p), 7);
	assert_int_equal(p.n, 1);
	assert_string_equal(p.v[0], "j4");
	assert_int_equal(find("GET", "/", &p), 8);
	assert_int_equal(p.n, 0);
	assert_int_equal(find("GET", "/app.js", &p), 9);
	assert_int_equal(p.n, 1);
	assert_string_equal(p.v[0], "app.js");
	/* the first route that matches wins */
	assert_int_equal(find("PUT", "/jobs/special", &p), 3);
	assert_string_equal(p.v[0], "special");
	assert_int_equal(find("POST", "/jobs/special", &p), -1);
}

static void test_find_405_allow(void **state)
{
	(void)state;
	struct route_params p;
	char allow[64];
	bool known = false;
	assert_null(route_find(table, "POST", "/jobs/j1", &p, allow, sizeof(allow), &known));
	assert_true(known);
	assert_string_equal(allow, "GET, PUT, DELETE");

	known = false;
	assert_null(route_find(table, "PATCH", "/jobs/j1", &p, allow, sizeof(allow), &known));
	assert_true(known);
	assert_string_equal(allow, "GET, PUT, DELETE");

	known = false;
	assert_null(route_find(table, "DELETE", "/jobs", &p, allow, sizeof(allow), &known));
	assert_true(known);
	assert_string_equal(allow, "GET, POST");

	known = false;
	assert_null(route_find(table, "DELETE", "/jobs/j1/runs", &p, allow, sizeof(allow), &known));
	assert_true(known);
	assert_string_equal(allow, "GET, POST");

	/* methods are case-sensitive */
	known = false;
	assert_null(route_find(table, "get", "/jobs", &p, allow, sizeof(allow), &known));
	assert_true(known);
	assert_string_equal(allow, "GET, POST");
}

static void test_find_405_no_duplicates(void **state)
{
	(void)state;
	struct route_params p;
	char allow[64];
	bool known = false;
	/* /jobs/special matches PUT twice (/jobs/{} and /jobs/special) */
	assert_null(route_find(table, "POST", "/jobs/special", &p, allow, sizeof(allow), &known));
	assert_true(known);
	assert_string_equal(allow, "GET, PUT, DELETE");

	/* every route below matches /x; GET and HEAD appear twice */
	static const struct route dup[] = {
		{"GET", "/x", h_noop, 0},  {"HEAD", "/x", h_noop, 0}, {"GET", "/{}", h_noop, 0},
		{"HEAD", "/{}", h_noop, 0}, {"PUT", "/{}", h_noop, 0}, {NULL, NULL, NULL, 0},
	};
	assert_null(route_find(dup, "POST", "/x", &p, allow, sizeof(allow), &known));
	assert_string_equal(allow, "GET, HEAD, PUT");
}

static void test_find_allow_buffer_limits(void **state)
{
	(void)state;
	struct route_params p;
	bool known = false;
	char small[10];
	memset(small, 'X', sizeof(small));
	assert_null(route_find(table, "POST", "/jobs/j1", &p, small, sizeof(small), &known));
	assert_true(known);
	assert_string_equal(small, "GET, PUT");

	char tiny[3];
	memset(tiny, 'X', sizeof(tiny));
	known = false;
	assert_null(route_find(table, "POST", "/jobs/j1", &p, tiny, sizeof(tiny), &known));
	assert_true(known);
	assert_string_equal(tiny, "");

	char untouched[4] = "XYZ";
	known = false;
	assert_null(route_find(table, "POST", "/jobs/j1", &p, untouched, 0, &known));
	assert_true(known);
	assert_string_equal(untouched, "XYZ");
}

static void test_find_unknown_path(void **state)
{
	(void)state;
	struct route_params p;
	char allow[64];
	static const char *const paths[] = {"/nope/x", "/jobs/a/b/c", "/jobs/",  "/jobs/x/",
					    "//",      "/jobs//runs", "/jobs/%zz", ""};
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		bool known = true;
		memset(allow, 'X', sizeof(allow));
		if (route_find(table, "GET", paths[i], &p, allow, sizeof(allow), &known))
			fail_msg("route_find found a route for \"%s\"", paths[i]);
		if (known)
			fail_msg("\"%s\" should be an unknown path", paths[i]);
		assert_string_equal(allow, "");
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_match_literal),
		cmocka_unit_test(test_match_params),
		cmocka_unit_test(test_match_too_many_params),
		cmocka_unit_test(test_match_decodes),
		cmocka_unit_test(test_match_bad_escapes),
		cmocka_unit_test(test_match_empty_segment),
		cmocka_unit_test(test_match_trailing_slash),
		cmocka_unit_test(test_match_too_long),
		cmocka_unit_test(test_find_by_method),
		cmocka_unit_test(test_find_405_allow),
		cmocka_unit_test(test_find_405_no_duplicates),
		cmocka_unit_test(test_find_allow_buffer_limits),
		cmocka_unit_test(test_find_unknown_path),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

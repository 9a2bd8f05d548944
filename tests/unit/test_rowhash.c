/* tests/unit/test_rowhash.c: the row hash two databases' printings of one value agree on (rowhash.h) */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "rowhash.h"

static uint64_t h(const char *line, const enum rh_kind *k, int n)
{
	struct sb scratch;
	sb_init(&scratch);
	uint64_t v = rh_row(line, strlen(line), k, n, &scratch);
	sb_release(&scratch);
	return v;
}

static void test_kinds_of_types(void **state)
{
	(void)state;
	assert_int_equal(rh_kind_of("char(10)"), RH_CHAR);
	assert_int_equal(rh_kind_of("character(10)"), RH_CHAR);
	assert_int_equal(rh_kind_of("character varying(10)"), RH_TEXT);
	assert_int_equal(rh_kind_of("smallint"), RH_INT);
	assert_int_equal(rh_kind_of("real"), RH_FLOAT4);
	assert_int_equal(rh_kind_of("double precision"), RH_FLOAT8);
	assert_int_equal(rh_kind_of("timestamp(6) without time zone"), RH_TIMESTAMP);
	assert_int_equal(rh_kind_of("timestamp(0) with time zone"), RH_TIMESTAMPTZ);
	assert_int_equal(rh_kind_of("time(3)"), RH_TIMESTAMP);
	assert_int_equal(rh_kind_of("interval"), RH_TIMESTAMP);
	assert_int_equal(rh_kind_of("jsonb"), RH_JSON);
	assert_int_equal(rh_kind_of("numeric(20,0)"), RH_TEXT);
	for (int k = RH_TEXT; k <= RH_JSON; k++)
		assert_int_equal(rh_kind_parse(rh_kind_name((enum rh_kind)k)), k);
	assert_int_equal(rh_kind_parse("nonsense"), RH_TEXT);
}

/* What MySQL prints (ferry's COPY text) and what PostgreSQL prints hash alike. */
static void test_two_printings_agree(void **state)
{
	(void)state;
	enum rh_kind k[] = {RH_CHAR, RH_INT, RH_FLOAT4, RH_FLOAT8, RH_TIMESTAMP, RH_TIMESTAMPTZ, RH_JSON,
			    RH_TIMESTAMP, RH_TEXT};
	const char *mysql = "abc\t0000\t-3.40282e38\t-1.7976931348623157e308\t2000-01-01 00:00:00.000000\t"
			    "2024-02-29 13:14:15\t{\"b\": [1, 2.5], \"a\": \"\\\\u00fc\", \"big\": 1.5e300}\t-838:59:59.000\t\\N";
	/* PostgreSQL prints jsonb's 1.5e300 with all its digits: 15 and 299 zeros */
	char pg[1024];
	char big[302];
	memset(big, '0', sizeof(big));
	big[0] = '1';
	big[1] = '5';
	big[301] = '\0';
	snprintf(pg, sizeof(pg), "abc       \t0\t-3.40282e+38\t-1.7976931348623157e+308\t2000-01-01 00:00:00\t"
		 "2024-02-29 13:14:15+00\t{\"a\": \"\\\\u00fc\", \"b\": [1, 2.5], \"big\": %s}\t-838:59:59\t\\N", big);
	assert_true(h(mysql, k, 9) == h(pg, k, 9));
}

/* A changed value, NULL against empty, and columns swapped all change the hash. */
static void test_differences_show(void **state)
{
	(void)state;
	enum rh_kind k[] = {RH_TEXT, RH_INT, RH_TIMESTAMP};
	uint64_t base = h("a\t1\t2024-01-01 10:00:00.5", k, 3);
	assert_true(base != h("a\t2\t2024-01-01 10:00:00.5", k, 3));
	assert_true(base != h("b\t1\t2024-01-01 10:00:00.5", k, 3));
	assert_true(base != h("a\t1\t2024-01-01 10:00:00.05", k, 3));
	assert_true(base == h("a\t1\t2024-01-01 10:00:00.500", k, 3));
	assert_true(h("\\N\t1\tx", k, 3) != h("\t1\tx", k, 3));
	assert_true(h("x\ty", NULL, 0) != h("y\tx", NULL, 0));
	assert_true(h("a\\tb", NULL, 0) != h("a\tb", NULL, 0));
	/* a float that reads as another single-precision number differs */
	enum rh_kind f[] = {RH_FLOAT4};
	assert_true(h("3.25", f, 1) == h("3.2500", f, 1));
	assert_true(h("3.25", f, 1) != h("3.2501", f, 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kinds_of_types),
		cmocka_unit_test(test_two_printings_agree),
		cmocka_unit_test(test_differences_show),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* tests/unit/test_cron.c: schedules: parsing and next slots (cron.h) */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cron.h"

/* "YYYY-MM-DD HH:MM:SS" in UTC as a time_t. */
static time_t at(const char *s)
{
	struct tm tm = {0};
	if (sscanf(s, "%d-%d-%d %d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
		   &tm.tm_min, &tm.tm_sec) != 6)
		fail_msg("bad time literal \"%s\"", s);
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return timegm(&tm);
}

static void show(time_t t, char *out, size_t n)
{
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, n, "%Y-%m-%d %H:%M:%S", &tm);
}

static struct cron parsed(const char *expr)
{
	struct cron c;
	char why[200] = "";
	if (!cron_parse(expr, &c, why, sizeof(why)))
		fail_msg("cron_parse(\"%s\") failed: %s", expr, why);
	return c;
}

/* The slots of expr following `from`, one after another, are `want` (NULL-terminated). */
static void expect_slots(const char *expr, const char *from, const char *const *want)
{
	struct cron c = parsed(expr);
	time_t t = at(from);
	for (int i = 0; want[i]; i++) {
		time_t next;
		char got[32] = "(none)";
		if (cron_next(&c, t, &next))
			show(next, got, sizeof(got));
		if (strcmp(got, want[i]))
			fail_msg("\"%s\": slot %d after %s is %s, want %s", expr, i + 1, from, got,
				 want[i]);
		t = next;
	}
}

#define SLOTS(expr, from, ...)                                              \
	do {                                                                \
		static const char *const want_[] = {__VA_ARGS__, NULL};     \
		expect_slots(expr, from, want_);                            \
	} while (0)

static void expect_none(const char *expr, const char *from)
{
	struct cron c = parsed(expr);
	time_t next;
	if (cron_next(&c, at(from), &next)) {
		char got[32];
		show(next, got, sizeof(got));
		fail_msg("\"%s\" has a slot after %s: %s", expr, from, got);
	}
}

/* expr is refused with a message containing `part`. */
static void expect_bad(const char *expr, const char *part)
{
	struct cron c;
	char why[200] = "";
	if (cron_parse(expr, &c, why, sizeof(why)))
		fail_msg("cron_parse(\"%s\") accepted it", expr ? expr : "(null)");
	if (!strstr(why, part))
		fail_msg("cron_parse(\"%s\"): message \"%s\" lacks \"%s\"", expr ? expr : "(null)", why,
			 part);
}

static void test_aliases(void **state)
{
	(void)state;
	SLOTS("@hourly", "2024-03-10 10:00:00", "2024-03-10 11:00:00", "2024-03-10 12:00:00");
	SLOTS("@daily", "2024-03-10 10:00:00", "2024-03-11 00:00:00", "2024-03-12 00:00:00");
	SLOTS("@midnight", "2024-03-10 23:59:59", "2024-03-11 00:00:00");
	/* 2024-03-10 is a Sunday */
	SLOTS("@weekly", "2024-03-10 00:00:00", "2024-03-17 00:00:00", "2024-03-24 00:00:00");
	SLOTS("@monthly", "2024-01-31 12:00:00", "2024-02-01 00:00:00", "2024-03-01 00:00:00");
	SLOTS("@yearly", "2024-06-01 00:00:00", "2025-01-01 00:00:00", "2026-01-01 00:00:00");
	SLOTS("@annually", "2024-12-31 23:59:00", "2025-01-01 00:00:00");
	SLOTS("@DAILY", "2024-03-10 10:00:00", "2024-03-11 00:00:00");
	struct cron c = parsed("@once");
	assert_int_equal(c.kind, CRON_ONCE);
	expect_none("@once", "2024-03-10 10:00:00");
	assert_int_equal(parsed("  @hourly  ").kind, CRON_FIELDS);
}

static void test_strictly_after(void **state)
{
	(void)state;
	/* a slot equal to `after` is not the next one; seconds are dropped */
	SLOTS("30 2 * * *", "2024-05-01 02:30:00", "2024-05-02 02:30:00");
	SLOTS("30 2 * * *", "2024-05-01 02:29:59", "2024-05-01 02:30:00");
	SLOTS("* * * * *", "2024-05-01 02:29:01", "2024-05-01 02:30:00", "2024-05-01 02:31:00");
}

static void test_month_ends(void **state)
{
	(void)state;
	/* the 31st comes only in months that have one */
	SLOTS("0 0 31 * *", "2024-01-31 00:00:00", "2024-03-31 00:00:00", "2024-05-31 00:00:00",
	      "2024-07-31 00:00:00", "2024-08-31 00:00:00", "2024-10-31 00:00:00",
	      "2024-12-31 00:00:00", "2025-01-31 00:00:00");
	SLOTS("0 12 30 * *", "2025-01-30 12:00:00", "2025-03-30 12:00:00");
	SLOTS("59 23 31 12 *", "2024-12-31 23:59:00", "2025-12-31 23:59:00");
}

static void test_leap_days(void **state)
{
	(void)state;
	SLOTS("0 0 29 2 *", "2023-01-01 00:00:00", "2024-02-29 00:00:00", "2028-02-29 00:00:00",
	      "2032-02-29 00:00:00");
	/* 2100 is not a leap year */
	SLOTS("0 0 29 2 *", "2096-03-01 00:00:00", "2104-02-29 00:00:00");
	SLOTS("0 0 28-29 feb *", "2025-02-28 00:00:00", "2026-02-28 00:00:00");
	expect_none("0 0 30 2 *", "2024-01-01 00:00:00");
	expect_none("0 0 31 4,6,9,11 *", "2024-01-01 00:00:00");
}

static void test_steps_ranges_lists(void **state)
{
	(void)state;
	SLOTS("*/15 * * * *", "2024-05-01 10:07:00", "2024-05-01 10:15:00", "2024-05-01 10:30:00",
	      "2024-05-01 10:45:00", "2024-05-01 11:00:00");
	SLOTS("10-50/20 * * * *", "2024-05-01 10:00:00", "2024-05-01 10:10:00",
	      "2024-05-01 10:30:00", "2024-05-01 10:50:00", "2024-05-01 11:10:00");
	SLOTS("0,30 * * * *", "2024-05-01 10:00:00", "2024-05-01 10:30:00", "2024-05-01 11:00:00");
	SLOTS("0 9-17/4 * * *", "2024-05-01 09:00:00", "2024-05-01 13:00:00", "2024-05-01 17:00:00",
	      "2024-05-02 09:00:00");
	SLOTS("5/20 * * * *", "2024-05-01 10:06:00", "2024-05-01 10:25:00", "2024-05-01 10:45:00",
	      "2024-05-01 11:05:00");
	SLOTS("0 0 1-3,15 * *", "2024-05-02 00:00:00", "2024-05-03 00:00:00", "2024-05-15 00:00:00",
	      "2024-06-01 00:00:00");
	SLOTS("0 0 * */3 *", "2024-02-10 00:00:00", "2024-04-01 00:00:00");
	/* 2024-05-01 is a Wednesday; mon-fri */
	SLOTS("0 8 * * 1-5", "2024-05-03 08:00:00", "2024-05-06 08:00:00");
}

static void test_names(void **state)
{
	(void)state;
	SLOTS("0 0 1 jan,JUL *", "2024-02-01 00:00:00", "2024-07-01 00:00:00", "2025-01-01 00:00:00");
	SLOTS("0 0 * * mon-wed", "2024-05-01 00:00:00", "2024-05-06 00:00:00", "2024-05-07 00:00:00",
	      "2024-05-08 00:00:00", "2024-05-13 00:00:00");
	SLOTS("0 0 * * Sun", "2024-05-01 00:00:00", "2024-05-05 00:00:00");
	SLOTS("0 0 1 mar-may/2 *", "2024-01-01 00:00:00", "2024-03-01 00:00:00", "2024-05-01 00:00:00",
	      "2025-03-01 00:00:00");
}

static void test_sunday_is_0_and_7(void **state)
{
	(void)state;
	struct cron a = parsed("0 0 * * 0"), b = parsed("0 0 * * 7"), c = parsed("0 0 * * sun");
	assert_int_equal(a.dow, 1);
	assert_int_equal(b.dow, 1);
	assert_int_equal(c.dow, 1);
	assert_int_equal(parsed("0 0 * * 5-7").dow, 1 | 1 << 5 | 1 << 6);
	assert_int_equal(parsed("0 0 * * *").dow, 0x7f);
	SLOTS("0 0 * * 7", "2024-05-01 00:00:00", "2024-05-05 00:00:00", "2024-05-12 00:00:00");
}

static void test_dom_dow_either(void **state)
{
	(void)state;
	/* both restricted: the 13th or any Friday (2024-09-13 is a Friday, 2024-10-13 a Sunday) */
	SLOTS("0 0 13 * 5", "2024-09-01 00:00:00", "2024-09-06 00:00:00", "2024-09-13 00:00:00",
	      "2024-09-20 00:00:00", "2024-09-27 00:00:00", "2024-10-04 00:00:00",
	      "2024-10-11 00:00:00", "2024-10-13 00:00:00");
	/* one unrestricted: the other decides alone */
	SLOTS("0 0 13 * *", "2024-09-01 00:00:00", "2024-09-13 00:00:00", "2024-10-13 00:00:00");
	SLOTS("0 0 * * 5", "2024-09-13 00:00:00", "2024-09-20 00:00:00");
	/* "*" with a step counts as unrestricted, as in Vixie cron: a Monday on the 1st, 11th, 21st or 31st */
	SLOTS("0 0 */10 * 1", "2024-09-01 00:00:00", "2024-10-21 00:00:00", "2024-11-11 00:00:00");
	/* Feb 30 never comes, but a restricted weekday does */
	SLOTS("0 0 30 2 mon", "2024-02-01 00:00:00", "2024-02-05 00:00:00", "2024-02-12 00:00:00");
}

static void test_rollover(void **state)
{
	(void)state;
	SLOTS("59 23 * * *", "2024-12-31 23:59:00", "2025-01-01 23:59:00");
	SLOTS("0 0 1 1 *", "2024-12-31 23:59:59", "2025-01-01 00:00:00");
	SLOTS("*/30 * * * *", "2024-12-31 23:45:00", "2025-01-01 00:00:00");
	SLOTS("0 * * * *", "2024-02-28 23:10:00", "2024-02-29 00:00:00");
}

static void test_every(void **state)
{
	(void)state;
	struct cron c = parsed("@every 30s");
	assert_int_equal(c.kind, CRON_EVERY);
	assert_int_equal(c.every, 30);
	assert_int_equal(parsed("@every 5m").every, 300);
	assert_int_equal(parsed("@every 2h").every, 7200);
	assert_int_equal(parsed("@every 1s").every, 1);
	SLOTS("@every 2s", "2024-05-01 10:00:00", "2024-05-01 10:00:02", "2024-05-01 10:00:04");
	SLOTS("@every 2s", "2024-05-01 10:00:01", "2024-05-01 10:00:02");
	SLOTS("@every 5m", "2024-05-01 10:07:00", "2024-05-01 10:10:00", "2024-05-01 10:15:00");
	SLOTS("@every 1h", "2024-05-01 23:30:00", "2024-05-02 00:00:00");
	expect_bad("@every", "@every needs a duration");
	expect_bad("@every 0s", "out of range");
	expect_bad("@every 5", "@every needs a duration");
	expect_bad("@every 5d", "@every needs a duration");
	expect_bad("@every -5s", "@every needs a duration");
	expect_bad("@every 5m 3s", "@every needs a duration");
	expect_bad("@every 9000h", "out of range");
	expect_bad("@every 99999999999999999999s", "@every needs a duration");
}

static void test_invalid(void **state)
{
	(void)state;
	expect_bad(NULL, "empty");
	expect_bad("", "empty");
	expect_bad("   ", "empty");
	expect_bad("* * * *", "expected 5 fields");
	expect_bad("* * * *", "got 4");
	expect_bad("* * * * * *", "got more than 5");
	expect_bad("61 * * * *", "minute field: 61 is out of range 0-59");
	expect_bad("* 24 * * *", "hour field: 24 is out of range 0-23");
	expect_bad("* * 0 * *", "day-of-month field: 0 is out of range 1-31");
	expect_bad("* * 32 * *", "day-of-month field: 32 is out of range 1-31");
	expect_bad("* * * 13 *", "month field: 13 is out of range 1-12");
	expect_bad("* * * * 8", "day-of-week field: 8 is out of range 0-7");
	expect_bad("99999999 * * * *", "minute field: 99999999 is out of range");
	expect_bad("*/0 * * * *", "minute field: bad step");
	expect_bad("*/ * * * *", "minute field: bad step");
	expect_bad("*/x * * * *", "minute field: bad step");
	expect_bad("*/60 * * * *", "minute field: bad step");
	expect_bad("1-5/2/3 * * * *", "minute field: bad step");
	expect_bad("5-1 * * * *", "minute field: range 5-1 runs backwards");
	expect_bad("1,,2 * * * *", "minute field: empty list item");
	expect_bad("1, * * * *", "minute field: empty list item");
	expect_bad("x * * * *", "minute field: \"x\" is not a number");
	expect_bad("* * * foo *", "month field: \"foo\" is not a number or a name");
	expect_bad("* * * * mon-", "day-of-week field");
	expect_bad("* * * * monday", "day-of-week field: \"monday\"");
	expect_bad("* * * jan *x", "day-of-week field: unexpected");
	expect_bad("** * * * *", "minute field: unexpected");
	expect_bad("0 0 * * mon,", "day-of-week field: empty list item");
	expect_bad("@sometimes", "unknown schedule \"@sometimes\"");
	expect_bad("@daily 3", "unknown schedule");
	expect_bad("@once later", "unknown schedule");
	expect_bad("hello world", "expected 5 fields");
	expect_bad("1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 "
		   "1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 "
		   "1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5",
		   "too long");
	/* a message fits a small buffer, and no buffer at all is fine */
	struct cron c;
	char small[8];
	assert_false(cron_parse("61 * * * *", &c, small, sizeof(small)));
	assert_int_equal(strlen(small), sizeof(small) - 1);
	assert_false(cron_parse("61 * * * *", &c, NULL, 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_aliases),
		cmocka_unit_test(test_strictly_after),
		cmocka_unit_test(test_month_ends),
		cmocka_unit_test(test_leap_days),
		cmocka_unit_test(test_steps_ranges_lists),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_sunday_is_0_and_7),
		cmocka_unit_test(test_dom_dow_either),
		cmocka_unit_test(test_rollover),
		cmocka_unit_test(test_every),
		cmocka_unit_test(test_invalid),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* tests/unit/test_sb.c: the growable string buffer (sb.h) */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sb.h"

static void test_init_is_empty_string(void **state)
{
	(void)state;
	struct sb sb;
	sb_init(&sb);
	assert_non_null(sb.buf);
	assert_string_equal(sb.buf, "");
	assert_int_equal(sb.len, 0);
	sb_release(&sb);
	assert_non_null(sb.buf);
	assert_string_equal(sb.buf, "");
}

static void test_add_variants(void **state)
{
	(void)state;
	struct sb sb;
	sb_init(&sb);
	sb_add(&sb, "abcdef", 3);
	sb_adds(&sb, "-xy");
	sb_addc(&sb, '!');
	sb_add(&sb, "ignored", 0);
	assert_string_equal(sb.buf, "abc-xy!");
	assert_int_equal(sb.len, 7);
	assert_true(sb.alloc > sb.len);
	sb_release(&sb);
}

static void test_add_keeps_embedded_nul(void **state)
{
	(void)state;
	struct sb sb;
	sb_init(&sb);
	sb_add(&sb, "a\0b", 3);
	assert_int_equal(sb.len, 3);
	assert_memory_equal(sb.buf, "a\0b", 4);
	sb_release(&sb);
}

static void test_growth_over_many_appends(void **state)
{
	(void)state;
	struct sb sb;
	sb_init(&sb);
	for (int i = 0; i < 10000; i++)
		sb_addc(&sb, (char)('a' + i % 26));
	assert_int_equal(sb.len, 10000);
	assert_int_equal(strlen(sb.buf), 10000);
	assert_true(sb.alloc > 10000);
	for (int i = 0; i < 10000; i++)
		assert_int_equal(sb.buf[i], 'a' + i % 26);
	assert_int_equal(sb.buf[10000], '\0');

	/* one append far larger than the current allocation */
	char *big = malloc(100000);
	assert_non_null(big);
	memset(big, 'z', 99999);
	big[99999] = '\0';
	sb_adds(&sb, big);
	assert_int_equal(sb.len, 109999);
	assert_int_equal(strlen(sb.buf), 109999);
	assert_true(sb.alloc > sb.len);
	assert_int_equal(sb.buf[9999], 'a' + 9999 % 26);
	assert_int_equal(sb.buf[10000], 'z');
	assert_int_equal(sb.buf[109998], 'z');
	free(big);
	sb_release(&sb);
}

static void test_addf(void **state)
{
	(void)state;
	struct sb sb;
	sb_init(&sb);
	sb_addf(&sb, "%s=%d", "rows", 42);
	assert_string_equal(sb.buf, "rows=42");
	assert_int_equal(sb.len, 7);
	sb_addf(&sb, "; %05.1f%%", 3.14159);
	assert_string_equal(sb.buf, "rows=42; 003.1%");
	assert_int_equal(sb.len, strlen("rows=42; 003.1%"));
	sb_addf(&sb, "%s", "");
	assert_string_equal(sb.buf, "rows=42; 003.1%");
	sb_release(&sb);
}

static void test_addf_empty_on_fresh_buffer(void **state)
{
	(void)state;
	struct sb sb;
	sb_init(&sb);
	sb_addf(&sb, "%s", "");
	assert_non_null(sb.buf);
	assert_string_equal(sb.buf, "");
	assert_int_equal(sb.len, 0);
	sb_release(&sb);
}

static void test_addf_grows(void **state)
{
	(void)state;
	struct sb sb;
	sb_init(&sb);
	sb_adds(&sb, "start:");
	for (int i = 0; i < 1000; i++)
		sb_addf(&sb, "[%04d]", i);
	assert_int_equal(sb.len, 6 + 1000 * 6);
	assert_int_equal(strlen(sb.buf), sb.len);
	assert_memory_equal(sb.buf, "start:[0000][0001]", 18);
	assert_string_equal(sb.buf + sb.len - 6, "[0999]");
	/* a single formatted piece longer than the buffer */
	char wide[5001];
	memset(wide, 'w', 5000);
	wide[5000] = '\0';
	size_t before = sb.len;
	sb_addf(&sb, "<%s>", wide);
	assert_int_equal(sb.len, before + 5002);
	assert_int_equal(sb.buf[before], '<');
	assert_int_equal(sb.buf[sb.len - 1], '>');
	assert_int_equal(sb.buf[sb.len], '\0');
	sb_release(&sb);
}

static void test_reset_keeps_buffer(void **state)
{
	(void)state;
	struct sb sb;
	sb_init(&sb);
	sb_reset(&sb);
	assert_string_equal(sb.buf, "");
	sb_adds(&sb, "some text");
	size_t alloc = sb.alloc;
	sb_reset(&sb);
	assert_int_equal(sb.len, 0);
	assert_string_equal(sb.buf, "");
	assert_int_equal(sb.alloc, alloc);
	sb_adds(&sb, "new");
	assert_string_equal(sb.buf, "new");
	sb_release(&sb);
}

static void test_detach_hands_over_and_resets(void **state)
{
	(void)state;
	struct sb sb;
	sb_init(&sb);
	sb_adds(&sb, "first");
	char *first = sb_detach(&sb);
	assert_string_equal(first, "first");
	assert_non_null(sb.buf);
	assert_ptr_not_equal(sb.buf, first);
	assert_string_equal(sb.buf, "");
	assert_int_equal(sb.len, 0);
	assert_int_equal(sb.alloc, 0);

	/* the buffer is reusable and independent of the detached string */
	sb_adds(&sb, "second");
	assert_string_equal(sb.buf, "second");
	assert_string_equal(first, "first");
	char *second = sb_detach(&sb);
	assert_string_equal(second, "second");
	free(first);
	free(second);
	sb_release(&sb);
}

static void test_detach_empty_is_freeable(void **state)
{
	(void)state;
	struct sb sb;
	sb_init(&sb);
	char *s = sb_detach(&sb);
	assert_non_null(s);
	assert_string_equal(s, "");
	free(s);
	/* a second empty detach returns a distinct string */
	char *t = sb_detach(&sb);
	assert_string_equal(t, "");
	free(t);
	sb_release(&sb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_is_empty_string),
		cmocka_unit_test(test_add_variants),
		cmocka_unit_test(test_add_keeps_embedded_nul),
		cmocka_unit_test(test_growth_over_many_appends),
		cmocka_unit_test(test_addf),
		cmocka_unit_test(test_addf_empty_on_fresh_buffer),
		cmocka_unit_test(test_addf_grows),
		cmocka_unit_test(test_reset_keeps_buffer),
		cmocka_unit_test(test_detach_hands_over_and_resets),
		cmocka_unit_test(test_detach_empty_is_freeable),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

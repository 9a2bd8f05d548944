/* tests/unit/test_names.c: qualified table names and globs over them (names.h) */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "names.h"

struct glob_case {
	const char *pattern;
	const char *s;
	bool match;
};

static void check_globs(const struct glob_case *cases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct glob_case *c = &cases[i];
		if (glob_match(c->pattern, c->s) != c->match)
			fail_msg("glob_match(\"%s\", \"%s\") should be %s", c->pattern, c->s,
				 c->match ? "true" : "false");
	}
}

static void test_glob_literal_and_empty(void **state)
{
	(void)state;
	static const struct glob_case cases[] = {
		{"", "", true},
		{"", "a", false},
		{"a", "", false},
		{"abc", "abc", true},
		{"abc", "ab", false},
		{"ab", "abc", false},
		{"abc", "abd", false},
		{"ABC", "abc", false},
		{"users", "users_old", false},
	};
	check_globs(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_glob_star(void **state)
{
	(void)state;
	static const struct glob_case cases[] = {
		{"*", "", true},
		{"*", "anything.at all", true},
		{"**", "", true},
		{"**", "x", true},
		{"order_*", "order_lines", true},
		{"order_*", "order_", true},
		{"order_*", "order", false},
		{"*_tmp", "x_tmp", true},
		{"*_tmp", "x_tmp_y", false},
		{"*_tmp", "_tmp", true},
		{"a*", "ba", false},
		{"*a", "ab", false},
	};
	check_globs(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_glob_question_mark(void **state)
{
	(void)state;
	static const struct glob_case cases[] = {
		{"?", "", false},
		{"?", "x", true},
		{"?", "xy", false},
		{"??", "x", false},
		{"a?c", "abc", true},
		{"a?c", "a.c", true},
		{"a?c", "ac", false},
		{"a?c", "abbc", false},
		{"*?", "", false},
		{"*?", "x", true},
		{"?*", "x", true},
		{"?*?", "x", false},
		{"?*?", "xy", true},
	};
	check_globs(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_glob_backtracking(void **state)
{
	(void)state;
	static const struct glob_case cases[] = {
		{"a*b*c", "aXbYbZc", true},
		{"a*b*c", "abc", true},
		{"a*b*c", "aXbYbZ", false},
		{"a*b*c", "acb", false},
		{"a*b*c", "aXbYbZcQ", false},
		{"a*b*c", "aXbYbZcQc", true},
		{"*abc", "ababc", true},
		{"*abc", "abab", false},
		{"a*a*a", "aaa", true},
		{"a*a*a", "aa", false},
		{"*x*y*", "yyxxyy", true},
		{"*x*y*", "yyxx", false},
		{"a*?b", "acb", true},
		{"a*?b", "ab", false},
		{"*a*a*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false},
		{"*a*a*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab", true},
	};
	check_globs(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_glob_match_table(void **state)
{
	(void)state;
	assert_true(glob_match_table("public.*", "public", "users"));
	assert_false(glob_match_table("public.*", "sales", "users"));
	assert_false(glob_match_table("public.*", "public_x", "users"));
	assert_true(glob_match_table("*.*", "any", "thing"));
	assert_true(glob_match_table("p*.u?ers", "public", "users"));
	assert_false(glob_match_table("p*.u?ers", "public", "uusers"));
	assert_true(glob_match_table("sales.order_*", "sales", "order_lines"));
	assert_false(glob_match_table("sales.order_*", "sales", "orders"));
	/* the pattern splits at the dot: the schema glob never matches the table */
	assert_false(glob_match_table("users.*", "public", "users"));
	/* a quoted schema with a dot in it */
	assert_true(glob_match_table("\"my.schema\".*", "my.schema", "t"));
	assert_false(glob_match_table("\"my.schema\".*", "my", "schema.t"));
	assert_true(glob_match_table("\"we\"\"ird\".t?", "we\"ird", "t1"));
	/* a * in the table part matches dots inside the table name */
	assert_true(glob_match_table("public.*", "public", "a.b"));
	/* malformed patterns select nothing */
	assert_false(glob_match_table("public", "public", "public"));
	assert_false(glob_match_table("*", "public", "users"));
	assert_false(glob_match_table("", "", ""));
	assert_false(glob_match_table("a.b.c", "a", "b.c"));
}

/* glob_validate rejects pattern with 400 invalid_field at field. */
static void check_glob_rejected(const char *pattern, const char *field)
{
	struct err e;
	err_clear(&e);
	if (glob_validate(pattern, field, &e))
		fail_msg("glob_validate accepted \"%s\"", pattern);
	if (e.status != 400 || strcmp(e.code, "invalid_field") || strcmp(e.field, field))
		fail_msg("glob \"%s\": got %d %s at \"%s\"", pattern, e.status, e.code, e.field);
	if (!strstr(e.msg, pattern))
		fail_msg("glob \"%s\": message does not name it: %s", pattern, e.msg);
}

static void test_glob_validate(void **state)
{
	(void)state;
	static const char *const good[] = {"public.*", "*.*", "s?les.order_*", "\"a.b\".*",
					   "public.users", "\"x\"\"y\".\"t\""};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct err e;
		err_clear(&e);
		if (!glob_validate(good[i], "include[0]", &e))
			fail_msg("glob_validate rejected \"%s\": %s", good[i], e.msg);
		assert_false(err_is_set(&e));
	}
	check_glob_rejected("public", "include[0]");
	check_glob_rejected("*", "include[2]");
	check_glob_rejected("a.b[c]", "exclude[1]");
	check_glob_rejected("a.{b,c}", "include[0]");
	check_glob_rejected("a.b\\c", "include[0]");
	check_glob_rejected("[ab].t", "include[0]");
	check_glob_rejected("a.b.c", "include[0]");
	check_glob_rejected(".t", "include[0]");
	check_glob_rejected("s.", "include[0]");
	check_glob_rejected("", "include[0]");
	check_glob_rejected("\"open.*", "include[0]");
	/* a NULL err is allowed */
	assert_false(glob_validate("nodot", "include[0]", NULL));
}

static void test_glob_validate_messages(void **state)
{
	(void)state;
	struct err e;
	err_clear(&e);
	assert_false(glob_validate("a.b[c]", "f", &e));
	assert_non_null(strstr(e.msg, "only * and ?"));
	err_clear(&e);
	assert_false(glob_validate("public", "f", &e));
	assert_non_null(strstr(e.msg, "schema.table"));
}

/* Parse s, failing the test when it does not give schema and name. */
static void check_parse(const char *s, bool allow_bare, const char *schema, const char *name)
{
	struct qualname q;
	struct err e;
	err_clear(&e);
	if (!qualname_parse(s, allow_bare, &q, "f", &e))
		fail_msg("qualname_parse(%s) failed: %s", s, e.msg);
	if (strcmp(q.schema, schema) || strcmp(q.name, name))
		fail_msg("qualname_parse(%s) gave [%s].[%s], want [%s].[%s]", s, q.schema, q.name,
			 schema, name);
	assert_false(err_is_set(&e));
}

static void check_parse_fails(const char *s, bool allow_bare)
{
	struct qualname q;
	struct err e;
	err_clear(&e);
	if (qualname_parse(s, allow_bare, &q, "tables.x", &e))
		fail_msg("qualname_parse(%s, %d) accepted it as [%s].[%s]", s, allow_bare,
			 q.schema, q.name);
	if (e.status != 400 || strcmp(e.code, "invalid_field") || strcmp(e.field, "tables.x"))
		fail_msg("qualname_parse(%s): got %d %s at \"%s\"", s, e.status, e.code, e.field);
}

static void test_qualname_plain(void **state)
{
	(void)state;
	check_parse("public.users", false, "public", "users");
	check_parse("Public.Users", false, "Public", "Users");
	check_parse("s1.t_2-x", false, "s1", "t_2-x");
	check_parse("a b.c d", false, "a b", "c d");
	check_parse("public.users", true, "public", "users");
}

static void test_qualname_quoted(void **state)
{
	(void)state;
	check_parse("\"my.schema\".\"tab.le\"", false, "my.schema", "tab.le");
	check_parse("\"my.schema\".t", false, "my.schema", "t");
	check_parse("s.\"t.x\"", false, "s", "t.x");
	check_parse("\"a\"\"b\".c", false, "a\"b", "c");
	check_parse("\"\"\"\".\"\"\"\"", false, "\"", "\"");
	check_parse("\"Upper\".\"Case\"", false, "Upper", "Case");
	check_parse("\"a..b\".\".\"", false, "a..b", ".");
}

static void test_qualname_bare(void **state)
{
	(void)state;
	check_parse("users", true, "", "users");
	check_parse("\"my.table\"", true, "", "my.table");
	check_parse("\"q\"\"t\"", true, "", "q\"t");
	check_parse_fails("users", false);
	check_parse_fails("\"my.table\"", false);
}

static void test_qualname_bare_message(void **state)
{
	(void)state;
	struct qualname q;
	struct err e;
	err_clear(&e);
	assert_false(qualname_parse("a.b.c", true, &q, "t", &e));
	assert_non_null(strstr(e.msg, "a.b.c"));
	assert_non_null(strstr(e.msg, "or table"));
	err_clear(&e);
	assert_false(qualname_parse("users", false, &q, "t", &e));
	assert_non_null(strstr(e.msg, "schema.table"));
	assert_null(strstr(e.msg, "or table"));
	/* a NULL err is allowed */
	assert_false(qualname_parse("x", false, &q, "t", NULL));
}

static void test_qualname_empty_parts(void **state)
{
	(void)state;
	check_parse_fails("", false);
	check_parse_fails("", true);
	check_parse_fails(".", false);
	check_parse_fails(".t", false);
	check_parse_fails(".t", true);
	check_parse_fails("s.", false);
	check_parse_fails("s.", true);
	check_parse_fails("\"\".t", false);
	check_parse_fails("s.\"\"", false);
	check_parse_fails("\"\"", true);
}

static void test_qualname_unterminated_and_garbage(void **state)
{
	(void)state;
	check_parse_fails("\"abc", true);
	check_parse_fails("\"abc.t", false);
	check_parse_fails("s.\"abc", false);
	check_parse_fails("s.\"a\"\"", false);
	check_parse_fails("\"a\"x.b", false);
	check_parse_fails("a.\"b\"x", false);
	check_parse_fails("a.\"b\".", false);
	check_parse_fails("\"a\"x", true);
	check_parse_fails("a.b.c", false);
	check_parse_fails("a.b.c", true);
	check_parse_fails("a\"b.c", false);
	check_parse_fails("a.b\"c", false);
	check_parse_fails("s..t", false);
}

static void test_qualname_length_limit(void **state)
{
	(void)state;
	char part[200], s[400];
	memset(part, 'n', 127);
	part[127] = '\0';
	snprintf(s, sizeof(s), "s.%s", part);
	check_parse(s, false, "s", part);
	snprintf(s, sizeof(s), "%s.t", part);
	check_parse(s, false, part, "t");
	memset(part, 'n', 128);
	part[128] = '\0';
	snprintf(s, sizeof(s), "s.%s", part);
	check_parse_fails(s, false);
	snprintf(s, sizeof(s), "%s.t", part);
	check_parse_fails(s, false);
	check_parse_fails(part, true);
}

static void test_qualname_format(void **state)
{
	(void)state;
	struct qualname q = {"public", "users"};
	char buf[600];
	qualname_format(&q, buf, sizeof(buf));
	assert_string_equal(buf, "public.users");

	struct qualname dotted = {"my.schema", "t"};
	qualname_format(&dotted, buf, sizeof(buf));
	assert_string_equal(buf, "\"my.schema\".t");

	struct qualname quoted = {"a\"b", "c.d"};
	qualname_format(&quoted, buf, sizeof(buf));
	assert_string_equal(buf, "\"a\"\"b\".\"c.d\"");

	/* nothing else is quoted: this is the API's form, not SQL's */
	struct qualname spaced = {"My Schema", "T"};
	qualname_format(&spaced, buf, sizeof(buf));
	assert_string_equal(buf, "My Schema.T");

	/* a short buffer truncates and stays terminated */
	char small[8];
	memset(small, 'X', sizeof(small));
	qualname_format(&q, small, sizeof(small));
	assert_string_equal(small, "public.");
}

static void test_qualname_round_trip(void **state)
{
	(void)state;
	static const char *const inputs[] = {
		"public.users", "\"my.schema\".\"tab.le\"", "\"a\"\"b\".c", "\"\"\"\".\"\"\"\"",
		"s.\"x.y.z\"", "\"a..b\".\".\"", "\"q\"\"\".\"\"\"q\"",
	};
	for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
		struct qualname a, b;
		char buf[600];
		assert_true(qualname_parse(inputs[i], false, &a, "f", NULL));
		qualname_format(&a, buf, sizeof(buf));
		if (!qualname_parse(buf, false, &b, "f", NULL))
			fail_msg("\"%s\" formats as \"%s\", which does not parse", inputs[i], buf);
		if (strcmp(a.schema, b.schema) || strcmp(a.name, b.name))
			fail_msg("\"%s\" -> \"%s\" parses back as [%s].[%s]", inputs[i], buf,
				 b.schema, b.name);
	}
	/* parts without dots or quotes format exactly as written */
	struct qualname q;
	char buf[600];
	assert_true(qualname_parse("public.users", false, &q, "f", NULL));
	qualname_format(&q, buf, sizeof(buf));
	assert_string_equal(buf, "public.users");
}

static void test_qualname_round_trip_longest(void **state)
{
	(void)state;
	/* 127 quote characters per part: the longest names, doubled when formatted */
	struct qualname a, b;
	memset(&a, 0, sizeof(a));
	memset(a.schema, '"', 127);
	memset(a.name, '.', 126);
	a.name[126] = '"';
	char buf[600];
	qualname_format(&a, buf, sizeof(buf));
	assert_int_equal(strlen(buf), (1 + 254 + 1) + 1 + (1 + 126 + 2 + 1));
	assert_true(qualname_parse(buf, false, &b, "f", NULL));
	assert_string_equal(a.schema, b.schema);
	assert_string_equal(a.name, b.name);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_glob_literal_and_empty),
		cmocka_unit_test(test_glob_star),
		cmocka_unit_test(test_glob_question_mark),
		cmocka_unit_test(test_glob_backtracking),
		cmocka_unit_test(test_glob_match_table),
		cmocka_unit_test(test_glob_validate),
		cmocka_unit_test(test_glob_validate_messages),
		cmocka_unit_test(test_qualname_plain),
		cmocka_unit_test(test_qualname_quoted),
		cmocka_unit_test(test_qualname_bare),
		cmocka_unit_test(test_qualname_bare_message),
		cmocka_unit_test(test_qualname_empty_parts),
		cmocka_unit_test(test_qualname_unterminated_and_garbage),
		cmocka_unit_test(test_qualname_length_limit),
		cmocka_unit_test(test_qualname_format),
		cmocka_unit_test(test_qualname_round_trip),
		cmocka_unit_test(test_qualname_round_trip_longest),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

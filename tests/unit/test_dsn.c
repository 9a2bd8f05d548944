/* tests/unit/test_dsn.c: connection string validation, redaction and scrubbing (dsn.h) */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "dsn.h"

struct redact_case {
	const char *dsn;
	const char *want;
	const char *password; /* must not survive redaction; NULL when there is none */
};

/* Redact every case; report all that go wrong, then fail once. */
static void check_redactions(const struct redact_case *cases, size_t n)
{
	int bad = 0;
	for (size_t i = 0; i < n; i++) {
		const struct redact_case *c = &cases[i];
		char *got = dsn_redact(c->dsn);
		if (strcmp(got, c->want)) {
			print_error("dsn_redact(%s)\n    got  %s\n    want %s\n", c->dsn, got,
				    c->want);
			bad++;
		} else if (c->password && strstr(got, c->password)) {
			print_error("dsn_redact(%s) still shows \"%s\": %s\n", c->dsn, c->password,
				    got);
			bad++;
		}
		free(got);
	}
	if (bad)
		fail_msg("%d of %zu redactions wrong", bad, n);
}

static void test_redact_uri_userinfo(void **state)
{
	(void)state;
	static const struct redact_case cases[] = {
		{"postgresql://user:secret@host:5432/db", "postgresql://user:***@host:5432/db",
		 "secret"},
		{"postgres://user:secret@host/db", "postgres://user:***@host/db", "secret"},
		{"postgresql://user:secret@host", "postgresql://user:***@host", "secret"},
		{"postgresql://user:secret@/db?host=/run/pg",
		 "postgresql://user:***@/db?host=/run/pg", "secret"},
		{"postgresql://u:secret@h1:5432,h2:5433/db",
		 "postgresql://u:***@h1:5432,h2:5433/db", "secret"},
		{"postgresql://user:@host/db", "postgresql://user:***@host/db", NULL},
		{"postgresql://user:pa:ss@host/db", "postgresql://user:***@host/db", "pa:ss"},
		{"postgresql://user:p%40ss%2Fw%3Ard@host/db", "postgresql://user:***@host/db",
		 "p%40ss%2Fw%3Ard"},
	};
	check_redactions(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_redact_uri_without_password(void **state)
{
	(void)state;
	static const struct redact_case cases[] = {
		{"postgresql://user@host/db", "postgresql://user@host/db", NULL},
		{"postgresql://host/db", "postgresql://host/db", NULL},
		{"postgresql://host:5432", "postgresql://host:5432", NULL},
		{"postgresql://", "postgresql://", NULL},
		{"postgresql:///db?host=/tmp", "postgresql:///db?host=/tmp", NULL},
		{"postgresql://host/db?sslmode=require&application_name=ferry",
		 "postgresql://host/db?sslmode=require&application_name=ferry", NULL},
		{"postgresql://user@host/db?user_password_hint=x",
		 "postgresql://user@host/db?user_password_hint=x", NULL},
	};
	check_redactions(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_redact_uri_query_password(void **state)
{
	(void)state;
	static const struct redact_case cases[] = {
		{"postgresql://host/db?password=secret", "postgresql://host/db?password=***",
		 "secret"},
		{"postgresql://host/db?sslmode=require&password=secret&application_name=ferry",
		 "postgresql://host/db?sslmode=require&password=***&application_name=ferry",
		 "secret"},
		{"postgresql://u@host/db?application_name=a&password=s%26x",
		 "postgresql://u@host/db?application_name=a&password=***", "s%26x"},
		{"postgresql://u:one@host/db?password=two",
		 "postgresql://u:***@host/db?password=***", "one"},
		{"postgresql://u:one@host/db?password=two",
		 "postgresql://u:***@host/db?password=***", "two"},
		{"postgresql://host?password=secret", "postgresql://host?password=***", "secret"},
		/* a bracketed "host" ahead of the parameters and an '@' after them */
		{"postgpostgresql://[/d]?password=se[cr@et]x:y/z", "postgpostgresql://[/d]?password=***",
		 "cr@et"},
		{"postgresql://u?password=secret:x@host/db", "postgresql://u?password=***", "secret"},
	};
	check_redactions(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_redact_uri_at_in_password(void **state)
{
	(void)state;
	/* libpq splits at the first '@'; hiding up to the last one is safe either way */
	static const struct redact_case cases[] = {
		{"postgresql://user:p@ss@host/db", "postgresql://user:***@host/db", "p@ss"},
		{"postgresql://user:p@ss@host/db", "postgresql://user:***@host/db", "ss@"},
		{"postgresql://user:a@b@c@host", "postgresql://user:***@host", "a@b@c"},
	};
	check_redactions(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_redact_uri_question_mark_in_password(void **state)
{
	(void)state;
	/*
	 * libpq looks for the user-info '@' up to the first '/', so it reads
	 * "pa?ss" below as the password; the redacted form must not show it.
	 */
	static const struct redact_case cases[] = {
		{"postgresql://user:pa?ss@host/db", "postgresql://user:***@host/db", "pa?ss"},
		{"postgresql://user:x?password=y@host/db", "postgresql://user:***@host/db",
		 "x?password"},
		/*
		 * a string no parser accepts has no user info to trust: a password
		 * parameter inside what looks like one is hidden to its end
		 */
		{"pgx://[/u:x?password=p@ss]h://u[:@", "pgx://[/u:***", "ss]h"},
	};
	check_redactions(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_redact_uri_encoded_keyword(void **state)
{
	(void)state;
	/* libpq percent-decodes query keywords: pass%77ord is password */
	static const struct redact_case cases[] = {
		{"postgresql://host/db?pass%77ord=secret", "postgresql://host/db?pass%77ord=***",
		 "secret"},
	};
	check_redactions(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_redact_keyvalue(void **state)
{
	(void)state;
	static const struct redact_case cases[] = {
		{"host=h password=secret dbname=d", "host=h password=*** dbname=d", "secret"},
		{"password=secret", "password=***", "secret"},
		{"password = 'quoted with spaces' host=h", "password = *** host=h",
		 "quoted with spaces"},
		{"password = 'quoted with spaces' host=h", "password = *** host=h", "spaces"},
		{"password='a\\'b c' host=h", "password=*** host=h", "b c"},
		{"password=a\\ b host=h", "password=*** host=h", "a\\ b"},
		{"host=h\tpassword=secret\nuser=u", "host=h\tpassword=***\nuser=u", "secret"},
		{"  password=secret  ", "  password=***  ", "secret"},
		{"host=h password=one password=two", "host=h password=*** password=***", "two"},
		{"host=h password=one password=two", "host=h password=*** password=***", "one"},
		/* strings that do not parse are still redacted */
		{"password=secret foo", "password=*** foo", "secret"},
		{"password='unterminated secret", "password=***", "secret"},
	};
	check_redactions(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_redact_keyvalue_without_password(void **state)
{
	(void)state;
	static const struct redact_case cases[] = {
		{"host=h dbname=d", "host=h dbname=d", NULL},
		{"host=h application_name=password", "host=h application_name=password", NULL},
		{"host=h passwordx=1", "host=h passwordx=1", NULL},
		{"application_name='a password=b' host=h", "application_name='a password=b' host=h",
		 NULL},
		{"", "", NULL},
		{"=", "=", NULL},
		{"host=x foo", "host=x foo", NULL},
	};
	check_redactions(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_validate_accepts(void **state)
{
	(void)state;
	static const char *const good[] = {
		"postgresql://u:p@h:5432/db?sslmode=require",
		"postgres://h/db",
		"postgresql://",
		"postgresql://u:p%40ss@h1,h2:5433/db",
		"host=h port=5432 dbname=d user=u password='x y'",
		"dbname=d",
		"host=/run/postgresql",
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct err e;
		err_clear(&e);
		if (!dsn_validate(good[i], "source.dsn", &e))
			fail_msg("dsn_validate rejected \"%s\": %s", good[i], e.msg);
		assert_false(err_is_set(&e));
	}
}

/* dsn_validate rejects dsn at field with 400 invalid_field and a clean message. */
static void check_rejected(const char *dsn, const char *field)
{
	struct err e;
	err_clear(&e);
	if (dsn_validate(dsn, field, &e))
		fail_msg("dsn_validate accepted \"%s\"", dsn);
	if (e.status != 400 || strcmp(e.code, "invalid_field") || strcmp(e.field, field))
		fail_msg("dsn \"%s\": got %d %s at \"%s\"", dsn, e.status, e.code, e.field);
	size_t n = strlen(e.msg);
	if (!n || e.msg[n - 1] == '\n' || e.msg[n - 1] == '.')
		fail_msg("dsn \"%s\": message empty or ends badly: \"%s\"", dsn, e.msg);
}

static void test_validate_rejects(void **state)
{
	(void)state;
	check_rejected("postgresql://[bad", "source.dsn");
	check_rejected("host=x foo", "target.dsn");
	check_rejected("=", "source.dsn");
	check_rejected("host=h bogus=1", "source.dsn");
	check_rejected("password='unterminated", "source.dsn");
	check_rejected("postgresql://h/db?bogus=1", "target.dsn");
	check_rejected("postgresql://h/d%ZZb", "source.dsn");
	check_rejected("", "source.dsn");
}

static void test_validate_messages(void **state)
{
	(void)state;
	struct err e;
	err_clear(&e);
	assert_false(dsn_validate("host=x foo", "source.dsn", &e));
	assert_non_null(strstr(e.msg, "malformed connection string \""));
	assert_non_null(strstr(e.msg, "foo"));
	err_clear(&e);
	assert_false(dsn_validate("", "source.dsn", &e));
	assert_string_equal(e.msg, "connection string is empty");
	/* a NULL err is allowed */
	assert_false(dsn_validate("host=x foo", "source.dsn", NULL));
}

static void test_validate_message_hides_password(void **state)
{
	(void)state;
	static const struct {
		const char *dsn;
		const char *password;
	} cases[] = {
		{"host=x password=s3cretpw foo", "s3cretpw"},
		{"password='s3cretpw", "s3cretpw"},
		{"host=h password=s3cretpw bogus=1", "s3cretpw"},
		{"postgresql://u:s3cretpw@h/db?bogus=1", "s3cretpw"},
		{"postgresql://user:s3cretpw@[bad", "s3cretpw"},
		{"postgresql://u:s3cret%ZZpw@h/db", "s3cret"},
		{"postgresql://h/db?password=s3cretpw&bogus=1", "s3cretpw"},
	};
	int bad = 0;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct err e;
		err_clear(&e);
		if (dsn_validate(cases[i].dsn, "source.dsn", &e)) {
			print_error("dsn_validate accepted \"%s\"\n", cases[i].dsn);
			bad++;
		} else if (strstr(e.msg, cases[i].password)) {
			print_error("dsn_validate(%s) message shows the password: %s\n",
				    cases[i].dsn, e.msg);
			bad++;
		}
	}
	if (bad)
		fail_msg("%d error messages show a password", bad);
}

static void test_scrub(void **state)
{
	(void)state;
	assert_null(dsn_scrub(NULL, "password=x"));

	const char *text = "password authentication failed: secret was wrong";
	char *s = dsn_scrub(text, "host=h password=secret");
	assert_string_equal(s, "password authentication failed: *** was wrong");
	assert_ptr_not_equal(s, text);
	free(s);

	s = dsn_scrub("secret secretsecret.", "password=secret");
	assert_string_equal(s, "*** ******.");
	free(s);

	s = dsn_scrub("login p@ss/w failed", "postgresql://u:p%40ss%2Fw@h/db");
	assert_string_equal(s, "login *** failed");
	free(s);

	s = dsn_scrub("bad t0k3n here", "postgresql://h/db?password=t0k3n");
	assert_string_equal(s, "bad *** here");
	free(s);

	s = dsn_scrub("quoted pw with spaces!", "password='pw with spaces' host=h");
	assert_string_equal(s, "quoted ***!");
	free(s);
}

static void test_scrub_without_password(void **state)
{
	(void)state;
	static const char *const dsns[] = {"host=h dbname=d", "postgresql://u@h/db",
					   "password=", NULL};
	for (size_t i = 0; i < sizeof(dsns) / sizeof(dsns[0]); i++) {
		char *s = dsn_scrub("nothing to hide here", dsns[i]);
		assert_non_null(s);
		assert_string_equal(s, "nothing to hide here");
		free(s);
	}
	char *s = dsn_scrub("", "password=x");
	assert_string_equal(s, "");
	free(s);
}

/* A URI of any scheme hides its password, valid or not; what is wrong is said. */
static void test_unknown_scheme(void **state)
{
	(void)state;
	struct err e;
	err_clear(&e);
	assert_false(dsn_validate("postgresq://app:secret@db1/x", "dsn", &e));
	assert_null(strstr(e.msg, "secret"));
	assert_non_null(strstr(e.msg, "unknown scheme \"postgresq\""));
	assert_non_null(strstr(e.msg, "postgresq://app:***@db1/x"));
	char *r = dsn_redact("ftp://u:pw@h/x?password=other");
	assert_string_equal(r, "ftp://u:***@h/x?password=***");
	free(r);
	assert_null(dsn_kind("postgresq://x"));
	assert_string_equal(dsn_kind("mariadb://h/db"), "mysql");
	assert_string_equal(dsn_kind("host=h dbname=x"), "postgresql");
	assert_string_equal(dsn_kind("postgres://h/x"), "postgresql");
	/* libpq's "missing "="" is said whole */
	err_clear(&e);
	assert_false(dsn_validate("not a dsn", "dsn", &e));
	assert_non_null(strstr(e.msg, "neither a URI"));
}

static void test_mysql_uri(void **state)
{
	(void)state;
	struct dsn_mysql d;
	struct err e;
	err_clear(&e);
	assert_true(dsn_mysql_parse("mysql://us%40er:p%3Aw@[::1]:3307/sak%20ila?ssl-mode=VERIFY_CA&ssl-ca=/etc/ca.pem",
				    &d, "dsn", &e));
	assert_string_equal(d.user, "us@er");
	assert_string_equal(d.password, "p:w");
	assert_string_equal(d.host, "::1");
	assert_int_equal(d.port, 3307);
	assert_string_equal(d.database, "sak ila");
	assert_string_equal(d.ssl_mode, "VERIFY_CA");
	assert_string_equal(d.ssl_ca, "/etc/ca.pem");
	dsn_mysql_release(&d);
	assert_true(dsn_mysql_parse("mariadb://root@/db?socket=/run/mysqld/mysqld.sock", &d, "dsn", &e));
	assert_string_equal(d.socket, "/run/mysqld/mysqld.sock");
	assert_int_equal(d.port, 3306);
	assert_null(d.password);
	dsn_mysql_release(&d);
	static const char *const bad[][2] = {
		{"mysql://u:secret@h:99999/db", "port"},
		{"mysql://u:secret@h/", "database is missing"},
		{"mysql://u:secret@h/db?colour=red", "unknown parameter \"colour\""},
		{"mysql://u:secret@h/db?ssl-mode=SOMETIMES", "ssl-mode must be"},
		{"mysql://u:sec%zzret@h/db", "broken %-escape"},
		{"mysql://u:secret@/db", "the host is missing"},
		{"mysql://u:secret@[::1/db", "closing ']'"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err_clear(&e);
		assert_false(dsn_validate(bad[i][0], "source.dsn", &e));
		assert_string_equal(e.field, "source.dsn");
		if (!strstr(e.msg, bad[i][1]) || strstr(e.msg, "secret"))
			fail_msg("%s: %s", bad[i][0], e.msg);
	}
	char *r = dsn_redact("mysql://u:s3cr%40t@h:3306/db?password=two");
	assert_string_equal(r, "mysql://u:***@h:3306/db?password=***");
	free(r);
	char *sc = dsn_scrub("Access denied for s3cr@t", "mysql://u:s3cr%40t@h/db");
	assert_string_equal(sc, "Access denied for ***");
	free(sc);
}

/* What dsn.c asks libpq about a PostgreSQL connection string, through db.c. */
static void test_conninfo(void **state)
{
	(void)state;
	char *why = NULL;
	assert_true(db_conninfo_check("host=h dbname=d", &why));
	assert_null(why);
	assert_true(db_conninfo_check("postgresql://u:p@h/db", NULL));
	assert_false(db_conninfo_check("host=x foo", &why));
	assert_non_null(why);
	assert_non_null(strstr(why, "missing"));
	free(why);
	assert_false(db_conninfo_check("password='unterminated", NULL));

	static const struct {
		const char *dsn, *key, *want; /* want NULL: no value */
	} cases[] = {
		{"host=h password='x y'", "password", "x y"},
		{"postgresql://u:p%40ss@h/db", "password", "p@ss"},
		{"postgresql://h/db?password=t0k3n", "password", "t0k3n"},
		{"postgresql://u@h:5433/db", "port", "5433"},
		{"password=", "password", ""},
		{"host=h dbname=d", "password", NULL},
		{"host=x foo password=s3cret", "password", NULL},
		{"host=h", "bogus", NULL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = db_conninfo_value(cases[i].dsn, cases[i].key);
		if (cases[i].want ? !got || strcmp(got, cases[i].want) : got != NULL)
			fail_msg("db_conninfo_value(%s, %s) = %s, want %s", cases[i].dsn,
				 cases[i].key, got ? got : "NULL",
				 cases[i].want ? cases[i].want : "NULL");
		free(got);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_redact_uri_userinfo),
		cmocka_unit_test(test_redact_uri_without_password),
		cmocka_unit_test(test_redact_uri_query_password),
		cmocka_unit_test(test_redact_uri_at_in_password),
		cmocka_unit_test(test_redact_uri_question_mark_in_password),
		cmocka_unit_test(test_redact_uri_encoded_keyword),
		cmocka_unit_test(test_redact_keyvalue),
		cmocka_unit_test(test_redact_keyvalue_without_password),
		cmocka_unit_test(test_validate_accepts),
		cmocka_unit_test(test_validate_rejects),
		cmocka_unit_test(test_validate_messages),
		cmocka_unit_test(test_validate_message_hides_password),
		cmocka_unit_test(test_scrub),
		cmocka_unit_test(test_scrub_without_password),
		cmocka_unit_test(test_unknown_scheme),
		cmocka_unit_test(test_mysql_uri),
		cmocka_unit_test(test_conninfo),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

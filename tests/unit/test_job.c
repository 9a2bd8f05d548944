/* tests/unit/test_job.c: job validation, defaults, rendering and table selection (job.h) */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "job.h"
#include "jobview.h"

#define SOURCE_DSN "postgresql://app:s3cret@src.example/db"
#define TARGET_DSN "host=dst.example dbname=db password=t0psecret"

static const char base_job[] = "{\"name\": \"nightly\","
			       " \"source\": {\"dsn\": \"" SOURCE_DSN "\"},"
			       " \"target\": {\"dsn\": \"" TARGET_DSN "\"},"
			       " \"include\": [\"public.*\"]}";

static json_t *parse(const char *text)
{
	json_error_t jerr;
	json_t *v = json_loads(text, JSON_DECODE_ANY, &jerr);
	if (!v)
		fail_msg("bad JSON in test: %s: %s", jerr.text, text);
	return v;
}

/* The minimal valid job with patch (JSON object text, or NULL) merged in. */
static json_t *job_doc(const char *patch)
{
	json_t *doc = parse(base_job);
	if (patch) {
		json_t *p = parse(patch);
		assert_int_equal(json_object_update_recursive(doc, p), 0);
		json_decref(p);
	}
	return doc;
}

/* The minimal valid job without its field key. */
static json_t *job_without(const char *key)
{
	json_t *doc = job_doc(NULL);
	assert_int_equal(json_object_del(doc, key), 0);
	return doc;
}

/* job_normalize must reject doc (consumed) with 400, code and field. */
static void expect_rejected(json_t *doc, const char *code, const char *field)
{
	struct err e;
	err_clear(&e);
	char *text = json_dumps(doc, JSON_COMPACT | JSON_ENCODE_ANY);
	json_t *out = job_normalize(doc, 4, &e);
	if (out)
		fail_msg("accepted %s", text);
	if (e.status != 400 || strcmp(e.code, code) || strcmp(e.field, field))
		fail_msg("%s\n    got  %d %s at \"%s\" (%s)\n    want 400 %s at \"%s\"", text,
			 e.status, e.code, e.field, e.msg, code, field);
	if (!e.msg[0])
		fail_msg("%s: no message", text);
	free(text);
	json_decref(doc);
}

static void reject(const char *patch, const char *code, const char *field)
{
	expect_rejected(job_doc(patch), code, field);
}

/* Normalize the base job with patch merged in; the test fails when it is rejected. */
static json_t *accept(const char *patch, int default_parallel)
{
	struct err e;
	err_clear(&e);
	json_t *doc = job_doc(patch);
	json_t *out = job_normalize(doc, default_parallel, &e);
	if (!out)
		fail_msg("rejected %s: %d %s at \"%s\": %s", patch ? patch : "the base job",
			 e.status, e.code, e.field, e.msg);
	assert_false(err_is_set(&e));
	json_decref(doc);
	return out;
}

static void assert_json_equal(json_t *got, const char *want_text)
{
	json_t *want = parse(want_text);
	if (!json_equal(got, want)) {
		char *g = json_dumps(got, JSON_COMPACT | JSON_ENCODE_ANY);
		fail_msg("got  %s\nwant %s", g, want_text);
	}
	json_decref(want);
}

static void test_minimal_gets_defaults(void **state)
{
	(void)state;
	json_t *in = job_doc(NULL);
	json_t *copy = json_deep_copy(in);
	struct err e;
	err_clear(&e);
	json_t *spec = job_normalize(in, 4, &e);
	assert_non_null(spec);
	assert_false(err_is_set(&e));
	assert_json_equal(spec, "{\"name\": \"nightly\","
				" \"source\": {\"dsn\": \"" SOURCE_DSN "\"},"
				" \"target\": {\"dsn\": \"" TARGET_DSN "\"},"
				" \"include\": [\"public.*\"], \"exclude\": [], \"tables\": {},"
				" \"objects\": \"tables\", \"schemas\": {},"
				" \"values\": {\"zero_dates\": \"null\", \"nul_characters\": \"fail\"},"
				" \"load\": {\"mode\": \"replace\", \"create\": true,"
				"           \"parallel\": 4, \"index_parallel\": 4, \"validate\": \"none\","
				"           \"split_bytes\": 268435456},"
				" \"retry\": {\"attempts\": 0, \"delay_s\": 5.0},"
				" \"after\": [], \"schedule\": null}");
	assert_true(json_is_integer(json_object_get(json_object_get(spec, "retry"), "attempts")));
	assert_true(json_is_real(json_object_get(json_object_get(spec, "retry"), "delay_s")));
	/* the input is borrowed and left alone */
	assert_true(json_equal(in, copy));

	assert_string_equal(job_source_dsn(spec), SOURCE_DSN);
	assert_string_equal(job_target_dsn(spec), TARGET_DSN);
	assert_string_equal(view_load_mode(spec), "replace");
	assert_true(view_load_create(spec));
	assert_int_equal(view_load_parallel(spec), 4);
	assert_int_equal(view_index_parallel(spec), 4);
	assert_string_equal(view_validate_mode(spec), "none");
	assert_false(view_all_objects(spec));

	/* the output is a new object, not the input */
	assert_ptr_not_equal(spec, in);
	json_decref(spec);
	json_decref(in);
	json_decref(copy);
}

static void test_default_parallel_is_the_given_one(void **state)
{
	(void)state;
	json_t *spec = accept(NULL, 7);
	assert_int_equal(view_load_parallel(spec), 7);
	assert_int_equal(view_index_parallel(spec), 7);
	json_decref(spec);
	spec = accept(NULL, 1);
	assert_int_equal(view_load_parallel(spec), 1);
	assert_int_equal(view_index_parallel(spec), 1);
	json_decref(spec);
	/* index_parallel follows load.parallel as given, not the server's default */
	spec = accept("{\"load\": {\"parallel\": 2}}", 7);
	assert_int_equal(view_load_parallel(spec), 2);
	assert_int_equal(view_index_parallel(spec), 2);
	json_decref(spec);
	/* and can be set on its own, above or below load.parallel */
	spec = accept("{\"load\": {\"index_parallel\": 3}}", 7);
	assert_int_equal(view_load_parallel(spec), 7);
	assert_int_equal(view_index_parallel(spec), 3);
	json_decref(spec);
	spec = accept("{\"load\": {\"parallel\": 1, \"index_parallel\": 64}}", 7);
	assert_int_equal(view_load_parallel(spec), 1);
	assert_int_equal(view_index_parallel(spec), 64);
	json_decref(spec);
	spec = accept("{\"load\": {\"parallel\": 64, \"index_parallel\": 1}}", 7);
	assert_int_equal(view_load_parallel(spec), 64);
	assert_int_equal(view_index_parallel(spec), 1);
	json_decref(spec);
	/* an empty load object gets the same defaults as none */
	spec = accept("{\"load\": {}}", 9);
	assert_json_equal(json_object_get(spec, "load"),
			  "{\"mode\": \"replace\", \"create\": true, \"parallel\": 9,"
			  " \"index_parallel\": 9, \"validate\": \"none\", \"split_bytes\": 268435456}");
	json_decref(spec);
	spec = accept("{\"retry\": {}}", 4);
	assert_json_equal(json_object_get(spec, "retry"), "{\"attempts\": 0, \"delay_s\": 5.0}");
	json_decref(spec);
}

static void test_explicit_values_kept(void **state)
{
	(void)state;
	json_t *spec = accept("{\"include\": [\"public.*\", \"\\\"my.schema\\\".t?\"],"
			      " \"exclude\": [\"public.tmp_*\"],"
			      " \"tables\": {\"public.t\": {\"where\": \"id > 10\"}},"
			      " \"load\": {\"mode\": \"append\", \"create\": false,"
			      "            \"parallel\": 64, \"index_parallel\": 5,"
			      "            \"validate\": \"count\", \"split_bytes\": 0},"
			      " \"retry\": {\"attempts\": 10, \"delay_s\": 2.5},"
			      " \"schedule\": null}",
			      4);
	assert_json_equal(json_object_get(spec, "include"),
			  "[\"public.*\", \"\\\"my.schema\\\".t?\"]");
	assert_json_equal(json_object_get(spec, "exclude"), "[\"public.tmp_*\"]");
	assert_json_equal(json_object_get(spec, "tables"),
			  "{\"public.t\": {\"where\": \"id > 10\"}}");
	assert_json_equal(json_object_get(spec, "load"),
			  "{\"mode\": \"append\", \"create\": false, \"parallel\": 64,"
			  " \"index_parallel\": 5, \"validate\": \"count\", \"split_bytes\": 0}");
	assert_int_equal(view_split_bytes(spec), 0);
	assert_json_equal(json_object_get(spec, "retry"), "{\"attempts\": 10, \"delay_s\": 2.5}");
	assert_true(json_is_null(json_object_get(spec, "schedule")));
	assert_false(view_load_create(spec));
	assert_string_equal(view_load_mode(spec), "append");
	assert_string_equal(view_validate_mode(spec), "count");
	assert_int_equal(view_load_parallel(spec), 64);
	assert_int_equal(view_index_parallel(spec), 5);
	json_decref(spec);

	/* every validation mode is kept */
	static const char *const vmodes[] = {"none", "count", "checksum"};
	for (size_t i = 0; i < sizeof(vmodes) / sizeof(vmodes[0]); i++) {
		char patch[100];
		snprintf(patch, sizeof(patch), "{\"load\": {\"validate\": \"%s\"}}", vmodes[i]);
		spec = accept(patch, 4);
		assert_string_equal(view_validate_mode(spec), vmodes[i]);
		json_decref(spec);
	}

	/* an integer delay becomes a number of seconds with a fraction */
	spec = accept("{\"retry\": {\"attempts\": 0, \"delay_s\": 30}}", 4);
	assert_json_equal(json_object_get(spec, "retry"), "{\"attempts\": 0, \"delay_s\": 30.0}");
	json_decref(spec);
	spec = accept("{\"retry\": {\"delay_s\": 0}, \"load\": {\"parallel\": 1}}", 4);
	assert_json_equal(json_object_get(spec, "retry"), "{\"attempts\": 0, \"delay_s\": 0.0}");
	assert_int_equal(view_load_parallel(spec), 1);
	json_decref(spec);
	spec = accept("{\"retry\": {\"delay_s\": 3600}, \"load\": {\"validate\": \"none\"}}", 4);
	assert_json_equal(json_object_get(spec, "retry"), "{\"attempts\": 0, \"delay_s\": 3600.0}");
	json_decref(spec);
}

static void test_load_modes_accepted(void **state)
{
	(void)state;
	static const char *const modes[] = {"replace", "append", "fail", "drop",
					    "swap", "upsert", "incremental"};
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		char patch[100];
		snprintf(patch, sizeof(patch), "{\"load\": {\"mode\": \"%s\"}}", modes[i]);
		json_t *spec = accept(patch, 4);
		assert_string_equal(view_load_mode(spec), modes[i]);
		json_decref(spec);
	}
}

static void test_normalize_is_idempotent(void **state)
{
	(void)state;
	json_t *once = accept("{\"exclude\": [\"public.x\"], \"tables\": {\"public.t\":"
			      " {\"target\": \"t2\", \"columns\": {\"a\": \"b\"},"
			      "  \"drop_columns\": [\"c\"], \"expressions\": {\"d\": \"1\"},"
			      "  \"casts\": {\"b\": \"text\"}}},"
			      " \"load\": {\"mode\": \"drop\", \"validate\": \"checksum\"}}",
			      3);
	struct err e;
	err_clear(&e);
	json_t *twice = job_normalize(once, 8, &e);
	assert_non_null(twice);
	assert_true(json_equal(once, twice));
	json_decref(once);
	json_decref(twice);
}

static void test_read_only_fields_dropped(void **state)
{
	(void)state;
	json_t *spec = accept("{\"id\": \"123e4567-e89b-12d3-a456-426614174000\","
			      " \"created_at\": \"2024-01-01T00:00:00Z\","
			      " \"updated_at\": \"2024-01-02T00:00:00Z\","
			      " \"paused\": true, \"next_run_at\": \"2024-01-03T00:00:00Z\"}",
			      4);
	assert_null(json_object_get(spec, "paused"));
	assert_null(json_object_get(spec, "next_run_at"));
	assert_null(json_object_get(spec, "id"));
	assert_null(json_object_get(spec, "created_at"));
	assert_null(json_object_get(spec, "updated_at"));
	assert_int_equal(json_object_size(spec), 13);
	json_decref(spec);
}

static void test_not_an_object(void **state)
{
	(void)state;
	expect_rejected(parse("[]"), "invalid_json", "");
	expect_rejected(parse("\"job\""), "invalid_json", "");
	expect_rejected(parse("null"), "invalid_json", "");
	expect_rejected(parse("42"), "invalid_json", "");

	struct err e;
	err_clear(&e);
	assert_null(job_normalize(NULL, 4, &e));
	assert_int_equal(e.status, 400);
	assert_string_equal(e.code, "invalid_json");
}

static void test_unknown_fields(void **state)
{
	(void)state;
	reject("{\"bogus\": 1}", "unknown_field", "bogus");
	reject("{\"Name\": \"x\"}", "unknown_field", "Name");
	reject("{\"source\": {\"password\": \"x\"}}", "unknown_field", "source.password");
	reject("{\"target\": {\"host\": \"x\"}}", "unknown_field", "target.host");
	reject("{\"load\": {\"speed\": 1}}", "unknown_field", "load.speed");
	reject("{\"retry\": {\"backoff\": 2}}", "unknown_field", "retry.backoff");
	/* an unknown field is reported before a missing one */
	expect_rejected(parse("{\"bogus\": 1}"), "unknown_field", "bogus");
}

static void test_missing_fields(void **state)
{
	(void)state;
	expect_rejected(job_without("name"), "missing_field", "name");
	expect_rejected(job_without("source"), "missing_field", "source");
	expect_rejected(job_without("target"), "missing_field", "target");
	expect_rejected(job_without("include"), "missing_field", "include");
	expect_rejected(parse("{}"), "missing_field", "name");
	reject("{\"source\": {\"dsn\": null}}", "invalid_field", "source.dsn");

	json_t *doc = job_doc(NULL);
	json_object_set_new(doc, "target", json_object());
	expect_rejected(doc, "missing_field", "target.dsn");
}

static void test_name_rules(void **state)
{
	(void)state;
	char name[200], patch[300];
	reject("{\"name\": \"\"}", "invalid_field", "name");
	reject("{\"name\": \"nightly copy\"}", "invalid_field", "name");
	reject("{\"name\": \"a/b\"}", "invalid_field", "name");
	reject("{\"name\": \"semi;colon\"}", "invalid_field", "name");
	reject("{\"name\": \"caf\\u00e9\"}", "invalid_field", "name");
	reject("{\"name\": \"123e4567-e89b-12d3-a456-426614174000\"}", "invalid_field", "name");
	reject("{\"name\": \"123E4567-E89B-12D3-A456-426614174000\"}", "invalid_field", "name");
	reject("{\"name\": 42}", "invalid_field", "name");
	reject("{\"name\": null}", "invalid_field", "name");
	reject("{\"name\": [\"x\"]}", "invalid_field", "name");

	memset(name, 'n', 129);
	name[129] = '\0';
	snprintf(patch, sizeof(patch), "{\"name\": \"%s\"}", name);
	reject(patch, "invalid_field", "name");

	/* the longest name, and names that only look like UUIDs */
	name[128] = '\0';
	snprintf(patch, sizeof(patch), "{\"name\": \"%s\"}", name);
	json_t *spec = accept(patch, 4);
	assert_string_equal(json_string_value(json_object_get(spec, "name")), name);
	json_decref(spec);
	static const char *const good[] = {"a", "A.b-c_d.9", "...",
					   "123e4567-e89b-12d3-a456-42661417400g",
					   "123e4567-e89b-12d3-a456-4266141740000",
					   "123e4567e89b12d3a456426614174000"};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(patch, sizeof(patch), "{\"name\": \"%s\"}", good[i]);
		spec = accept(patch, 4);
		assert_string_equal(json_string_value(json_object_get(spec, "name")), good[i]);
		json_decref(spec);
	}
}

static void test_endpoint_errors(void **state)
{
	(void)state;
	reject("{\"source\": \"" SOURCE_DSN "\"}", "invalid_field", "source");
	reject("{\"target\": null}", "invalid_field", "target");
	reject("{\"target\": []}", "invalid_field", "target");
	reject("{\"source\": {\"dsn\": 5}}", "invalid_field", "source.dsn");
	reject("{\"source\": {\"dsn\": \"\"}}", "invalid_field", "source.dsn");
	reject("{\"source\": {\"dsn\": \"host=x foo\"}}", "invalid_field", "source.dsn");
	reject("{\"target\": {\"dsn\": \"postgresql://[bad\"}}", "invalid_field", "target.dsn");
	reject("{\"target\": {\"dsn\": \"=\"}}", "invalid_field", "target.dsn");

	/* the DSN error names the field but not the password */
	struct err e;
	err_clear(&e);
	json_t *doc = job_doc("{\"source\": {\"dsn\": \"host=x password=hunter2pw foo\"}}");
	assert_null(job_normalize(doc, 4, &e));
	assert_string_equal(e.field, "source.dsn");
	assert_null(strstr(e.msg, "hunter2pw"));
	json_decref(doc);
}

static void test_include_errors(void **state)
{
	(void)state;
	reject("{\"include\": []}", "invalid_field", "include");
	reject("{\"include\": \"public.*\"}", "invalid_field", "include");
	reject("{\"include\": {}}", "invalid_field", "include");
	reject("{\"include\": null}", "invalid_field", "include");
	reject("{\"include\": [\"public.*\", 3]}", "invalid_field", "include[1]");
	reject("{\"include\": [null]}", "invalid_field", "include[0]");
	reject("{\"include\": [\"public\"]}", "invalid_field", "include[0]");
	reject("{\"include\": [\"public.*\", \"a.b[c]\"]}", "invalid_field", "include[1]");
	reject("{\"include\": [\"*\"]}", "invalid_field", "include[0]");
	reject("{\"include\": [\"a.b.c\"]}", "invalid_field", "include[0]");
	reject("{\"include\": [\"x.y\", \"x.y\", \"\"]}", "invalid_field", "include[2]");
}

static void test_exclude_errors(void **state)
{
	(void)state;
	reject("{\"exclude\": \"public.x\"}", "invalid_field", "exclude");
	reject("{\"exclude\": null}", "invalid_field", "exclude");
	reject("{\"exclude\": [1]}", "invalid_field", "exclude[0]");
	reject("{\"exclude\": [\"public.tmp_*\", \"nope\"]}", "invalid_field", "exclude[1]");
	reject("{\"exclude\": [\"a.{b,c}\"]}", "invalid_field", "exclude[0]");

	json_t *spec = accept("{\"exclude\": []}", 4);
	assert_json_equal(json_object_get(spec, "exclude"), "[]");
	json_decref(spec);
}

static void test_load_mode_errors(void **state)
{
	(void)state;
	reject("{\"load\": \"fast\"}", "invalid_field", "load");
	reject("{\"load\": null}", "invalid_field", "load");
	reject("{\"load\": {\"mode\": \"merge\"}}", "invalid_field", "load.mode");
	reject("{\"load\": {\"mode\": \"\"}}", "invalid_field", "load.mode");
	reject("{\"load\": {\"mode\": \"REPLACE\"}}", "invalid_field", "load.mode");
	reject("{\"load\": {\"mode\": 1}}", "invalid_field", "load.mode");
	reject("{\"load\": {\"mode\": null}}", "invalid_field", "load.mode");
}

static void test_load_other_errors(void **state)
{
	(void)state;
	reject("{\"load\": {\"create\": \"yes\"}}", "invalid_field", "load.create");
	reject("{\"load\": {\"create\": 1}}", "invalid_field", "load.create");
	reject("{\"load\": {\"create\": null}}", "invalid_field", "load.create");
	reject("{\"load\": {\"parallel\": 0}}", "invalid_field", "load.parallel");
	reject("{\"load\": {\"parallel\": 65}}", "invalid_field", "load.parallel");
	reject("{\"load\": {\"parallel\": -1}}", "invalid_field", "load.parallel");
	reject("{\"load\": {\"parallel\": 2.0}}", "invalid_field", "load.parallel");
	reject("{\"load\": {\"parallel\": 2.5}}", "invalid_field", "load.parallel");
	reject("{\"load\": {\"parallel\": \"4\"}}", "invalid_field", "load.parallel");
	reject("{\"load\": {\"parallel\": true}}", "invalid_field", "load.parallel");
	reject("{\"load\": {\"parallel\": null}}", "invalid_field", "load.parallel");
	reject("{\"load\": {\"parallel\": 4294967297}}", "invalid_field", "load.parallel");
	reject("{\"load\": {\"validate\": \"full\"}}", "invalid_field", "load.validate");
	reject("{\"load\": {\"validate\": \"CHECKSUM\"}}", "invalid_field", "load.validate");
	reject("{\"load\": {\"validate\": \"\"}}", "invalid_field", "load.validate");
	reject("{\"load\": {\"validate\": 1}}", "invalid_field", "load.validate");
	reject("{\"load\": {\"validate\": null}}", "invalid_field", "load.validate");

	struct err e;
	err_clear(&e);
	json_t *doc = job_doc("{\"load\": {\"parallel\": 65}}");
	assert_null(job_normalize(doc, 4, &e));
	assert_non_null(strstr(e.msg, "1 to 64"));
	json_decref(doc);

	/* the message lists the three modes there are */
	err_clear(&e);
	doc = job_doc("{\"load\": {\"validate\": \"full\"}}");
	assert_null(job_normalize(doc, 4, &e));
	assert_non_null(strstr(e.msg, "checksum"));
	json_decref(doc);
}

static void test_load_index_parallel_errors(void **state)
{
	(void)state;
	reject("{\"load\": {\"index_parallel\": 0}}", "invalid_field", "load.index_parallel");
	reject("{\"load\": {\"index_parallel\": 65}}", "invalid_field", "load.index_parallel");
	reject("{\"load\": {\"index_parallel\": -1}}", "invalid_field", "load.index_parallel");
	reject("{\"load\": {\"index_parallel\": \"2\"}}", "invalid_field", "load.index_parallel");
	reject("{\"load\": {\"index_parallel\": 2.0}}", "invalid_field", "load.index_parallel");
	reject("{\"load\": {\"index_parallel\": 2.5}}", "invalid_field", "load.index_parallel");
	reject("{\"load\": {\"index_parallel\": true}}", "invalid_field", "load.index_parallel");
	reject("{\"load\": {\"index_parallel\": null}}", "invalid_field", "load.index_parallel");
	reject("{\"load\": {\"index_parallel\": []}}", "invalid_field", "load.index_parallel");
	reject("{\"load\": {\"index_parallel\": 4294967297}}", "invalid_field",
	       "load.index_parallel");
	/* a valid load.parallel does not make a bad index_parallel good, nor the reverse */
	reject("{\"load\": {\"parallel\": 8, \"index_parallel\": 0}}", "invalid_field",
	       "load.index_parallel");
	reject("{\"load\": {\"parallel\": 0, \"index_parallel\": 8}}", "invalid_field",
	       "load.parallel");
	reject("{\"load\": {\"index_parallelism\": 2}}", "unknown_field",
	       "load.index_parallelism");

	struct err e;
	err_clear(&e);
	json_t *doc = job_doc("{\"load\": {\"index_parallel\": 65}}");
	assert_null(job_normalize(doc, 4, &e));
	assert_non_null(strstr(e.msg, "1 to 64"));
	json_decref(doc);
}

static void test_retry_errors(void **state)
{
	(void)state;
	reject("{\"retry\": []}", "invalid_field", "retry");
	reject("{\"retry\": 3}", "invalid_field", "retry");
	reject("{\"retry\": {\"attempts\": -1}}", "invalid_field", "retry.attempts");
	reject("{\"retry\": {\"attempts\": 11}}", "invalid_field", "retry.attempts");
	reject("{\"retry\": {\"attempts\": 1.5}}", "invalid_field", "retry.attempts");
	reject("{\"retry\": {\"attempts\": \"3\"}}", "invalid_field", "retry.attempts");
	reject("{\"retry\": {\"delay_s\": -1}}", "invalid_field", "retry.delay_s");
	reject("{\"retry\": {\"delay_s\": -0.5}}", "invalid_field", "retry.delay_s");
	reject("{\"retry\": {\"delay_s\": 3600.5}}", "invalid_field", "retry.delay_s");
	reject("{\"retry\": {\"delay_s\": 3601}}", "invalid_field", "retry.delay_s");
	reject("{\"retry\": {\"delay_s\": \"5\"}}", "invalid_field", "retry.delay_s");
	reject("{\"retry\": {\"delay_s\": null}}", "invalid_field", "retry.delay_s");
}

static void test_schemas_and_values(void **state)
{
	(void)state;
	json_t *spec = accept("{\"schemas\": {\"sakila\": \"public\"}, \"values\": {\"zero_dates\": \"fail\"}}", 2);
	assert_string_equal(view_schema_target(spec, "sakila"), "public");
	assert_string_equal(view_schema_target(spec, "other"), "other");
	assert_string_equal(view_value_rule(spec, "zero_dates"), "fail");
	assert_string_equal(view_value_rule(spec, "nul_characters"), "fail");
	json_decref(spec);
	spec = accept("{\"values\": {\"nul_characters\": \"strip\"}}", 2);
	assert_string_equal(view_value_rule(spec, "zero_dates"), "null");
	assert_string_equal(view_value_rule(spec, "nul_characters"), "strip");
	json_decref(spec);
	reject("{\"schemas\": [\"a\"]}", "invalid_field", "schemas");
	reject("{\"schemas\": {\"a\": \"\"}}", "invalid_field", "schemas.a");
	reject("{\"schemas\": {\"a\": 1}}", "invalid_field", "schemas.a");
	reject("{\"values\": {\"zero_dates\": \"zero\"}}", "invalid_field", "values.zero_dates");
	reject("{\"values\": {\"nul_characters\": null}}", "invalid_field", "values.nul_characters");
	reject("{\"values\": {\"dates\": \"null\"}}", "unknown_field", "dates");
	reject("{\"values\": true}", "invalid_field", "values");
	/* a target is PostgreSQL; a source may be MySQL */
	reject("{\"target\": {\"dsn\": \"mysql://u:p@h/db\"}}", "invalid_field", "target.dsn");
	spec = accept("{\"source\": {\"dsn\": \"mysql://u:p@h:3307/db?ssl-mode=REQUIRED\"}}", 2);
	json_t *shown = job_render(spec);
	assert_string_equal(json_string_value(json_object_get(json_object_get(shown, "source"), "dsn")),
			    "mysql://u:***@h:3307/db?ssl-mode=REQUIRED");
	json_decref(shown);
	json_decref(spec);
}

static void test_objects(void **state)
{
	(void)state;
	json_t *spec = accept("{\"objects\": \"all\"}", 2);
	assert_true(view_all_objects(spec));
	assert_string_equal(json_string_value(json_object_get(spec, "objects")), "all");
	json_decref(spec);
	spec = accept("{\"objects\": \"tables\"}", 2);
	assert_false(view_all_objects(spec));
	json_decref(spec);
	reject("{\"objects\": \"everything\"}", "invalid_field", "objects");
	reject("{\"objects\": true}", "invalid_field", "objects");
	reject("{\"objects\": null}", "invalid_field", "objects");
}

static void test_schedule(void **state)
{
	(void)state;
	reject("{\"schedule\": {}}", "invalid_field", "schedule");
	reject("{\"schedule\": false}", "invalid_field", "schedule");
	reject("{\"schedule\": 5}", "invalid_field", "schedule");
	reject("{\"schedule\": \"\"}", "invalid_field", "schedule");
	reject("{\"schedule\": \"61 * * * *\"}", "invalid_field", "schedule");
	reject("{\"schedule\": \"* * * *\"}", "invalid_field", "schedule");
	reject("{\"schedule\": \"@sometimes\"}", "invalid_field", "schedule");
	reject("{\"schedule\": \"@every 0s\"}", "invalid_field", "schedule");
	json_t *spec = accept("{\"schedule\": null}", 4);
	assert_true(json_is_null(json_object_get(spec, "schedule")));
	json_decref(spec);
	spec = accept("{}", 4);
	assert_true(json_is_null(json_object_get(spec, "schedule")));
	json_decref(spec);
	static const char *const good[] = {"0 * * * *", "*/15 1-5 * jan-mar mon,fri", "@once",
					   "@daily", "@every 30s", "0 3 29 2 *"};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		char patch[128];
		snprintf(patch, sizeof(patch), "{\"schedule\": \"%s\"}", good[i]);
		spec = accept(patch, 4);
		assert_string_equal(json_string_value(json_object_get(spec, "schedule")), good[i]);
		json_decref(spec);
	}

	/* the message is the parser's */
	struct err e;
	err_clear(&e);
	json_t *doc = job_doc("{\"schedule\": \"61 * * * *\"}");
	assert_null(job_normalize(doc, 4, &e));
	assert_string_equal(e.msg, "minute field: 61 is out of range 0-59");
	json_decref(doc);
}

static void test_tables_bad_keys(void **state)
{
	(void)state;
	reject("{\"tables\": []}", "invalid_field", "tables");
	reject("{\"tables\": \"public.t\"}", "invalid_field", "tables");
	reject("{\"tables\": null}", "invalid_field", "tables");
	reject("{\"tables\": {\"t\": {}}}", "invalid_field", "tables.t");
	reject("{\"tables\": {\"a.b.c\": {}}}", "invalid_field", "tables.a.b.c");
	reject("{\"tables\": {\"public.\": {}}}", "invalid_field", "tables.public.");
	reject("{\"tables\": {\"\": {}}}", "invalid_field", "tables.");
	reject("{\"tables\": {\"\\\"open.t\": {}}}", "invalid_field", "tables.\"open.t");
	reject("{\"tables\": {\"public.t\": \"x\"}}", "invalid_field", "tables.public.t");
	reject("{\"tables\": {\"public.t\": null}}", "invalid_field", "tables.public.t");
	reject("{\"tables\": {\"public.t\": []}}", "invalid_field", "tables.public.t");
	reject("{\"tables\": {\"public.ok\": {}, \"bad\": {}}}", "invalid_field", "tables.bad");
}

static void test_tables_bad_options(void **state)
{
	(void)state;
	reject("{\"tables\": {\"public.t\": {\"filter\": \"x\"}}}", "unknown_field",
	       "tables.public.t.filter");
	reject("{\"tables\": {\"\\\"my.s\\\".t\": {\"bogus\": 1}}}", "unknown_field",
	       "tables.\"my.s\".t.bogus");
	reject("{\"tables\": {\"public.t\": {\"where\": \"\"}}}", "invalid_field",
	       "tables.public.t.where");
	reject("{\"tables\": {\"public.t\": {\"where\": 5}}}", "invalid_field",
	       "tables.public.t.where");
	reject("{\"tables\": {\"public.t\": {\"where\": null}}}", "invalid_field",
	       "tables.public.t.where");
	reject("{\"tables\": {\"public.t\": {\"target\": \"\"}}}", "invalid_field",
	       "tables.public.t.target");
	reject("{\"tables\": {\"public.t\": {\"target\": 1}}}", "invalid_field",
	       "tables.public.t.target");
	reject("{\"tables\": {\"public.t\": {\"target\": \"a.b.c\"}}}", "invalid_field",
	       "tables.public.t.target");
	reject("{\"tables\": {\"public.t\": {\"target\": \"\\\"open\"}}}", "invalid_field",
	       "tables.public.t.target");
	reject("{\"tables\": {\"public.t\": {\"target\": \"s.\"}}}", "invalid_field",
	       "tables.public.t.target");
}

static void test_tables_mode_options(void **state)
{
	(void)state;
	json_t *spec = accept("{\"load\": {\"mode\": \"upsert\"}, \"tables\": {"
			      " \"public.a\": {\"mode\": \"incremental\", \"cursor\": \"ts\", \"key\": [\"id\", \"day\"],"
			      "               \"delete_flag\": \"gone\", \"drop_columns\": [\"gone\"]},"
			      " \"public.b\": {\"key\": [\"id\"], \"delete_flag\": \"deleted\"},"
			      " \"public.c\": {\"mode\": \"swap\"}}}", 4);
	assert_string_equal(view_table_mode(spec, "public", "a"), "incremental");
	assert_string_equal(view_table_mode(spec, "public", "b"), "upsert");
	assert_string_equal(view_table_mode(spec, "public", "c"), "swap");
	assert_string_equal(view_table_mode(spec, "public", "other"), "upsert");
	assert_json_equal(json_object_get(json_object_get(spec, "tables"), "public.a"),
			  "{\"mode\": \"incremental\", \"cursor\": \"ts\", \"key\": [\"id\", \"day\"],"
			  " \"delete_flag\": \"gone\", \"drop_columns\": [\"gone\"]}");
	json_decref(spec);

	reject("{\"tables\": {\"public.t\": {\"mode\": \"merge\"}}}", "invalid_field", "tables.public.t.mode");
	reject("{\"tables\": {\"public.t\": {\"mode\": null}}}", "invalid_field", "tables.public.t.mode");
	reject("{\"tables\": {\"public.t\": {\"mode\": \"incremental\"}}}", "missing_field",
	       "tables.public.t.cursor");
	reject("{\"tables\": {\"public.t\": {\"cursor\": \"\"}}}", "invalid_field", "tables.public.t.cursor");
	reject("{\"tables\": {\"public.t\": {\"cursor\": [\"ts\"]}}}", "invalid_field", "tables.public.t.cursor");
	reject("{\"tables\": {\"public.t\": {\"cursor\": \"ts\", \"drop_columns\": [\"ts\"]}}}", "invalid_field",
	       "tables.public.t.cursor");
	reject("{\"tables\": {\"public.t\": {\"key\": []}}}", "invalid_field", "tables.public.t.key");
	reject("{\"tables\": {\"public.t\": {\"key\": \"id\"}}}", "invalid_field", "tables.public.t.key");
	reject("{\"tables\": {\"public.t\": {\"key\": [\"id\", 1]}}}", "invalid_field", "tables.public.t.key[1]");
	reject("{\"tables\": {\"public.t\": {\"key\": [\"a\", \"b\", \"a\"]}}}", "invalid_field",
	       "tables.public.t.key[2]");
	reject("{\"tables\": {\"public.t\": {\"key\": [\"a\"], \"drop_columns\": [\"a\"]}}}", "invalid_field",
	       "tables.public.t.key[0]");
	/* a delete flag needs a mode that merges by key */
	reject("{\"tables\": {\"public.t\": {\"delete_flag\": \"d\"}}}", "invalid_field",
	       "tables.public.t.delete_flag");
	reject("{\"tables\": {\"public.t\": {\"mode\": \"swap\", \"delete_flag\": \"d\"}}}", "invalid_field",
	       "tables.public.t.delete_flag");
	reject("{\"tables\": {\"public.t\": {\"delete_flag\": 3}}}", "invalid_field", "tables.public.t.delete_flag");
}

static void test_after_steps(void **state)
{
	(void)state;
	json_t *spec = accept("{\"after\": [\"SELECT 1\", {\"name\": \"refresh\", \"sql\": \"SELECT 2\"},"
			      " {\"sql\": \"SELECT 3\"}]}", 4);
	assert_json_equal(json_object_get(spec, "after"),
			  "[{\"name\": \"after-1\", \"sql\": \"SELECT 1\"}, {\"name\": \"refresh\", \"sql\": \"SELECT 2\"},"
			  " {\"name\": \"after-3\", \"sql\": \"SELECT 3\"}]");
	/* normalizing the normalized form changes nothing */
	struct err e;
	err_clear(&e);
	json_t *again = job_normalize(spec, 4, &e);
	assert_non_null(again);
	assert_true(json_equal(again, spec));
	json_decref(again);
	json_decref(spec);
	spec = accept("{\"after\": null}", 4);
	assert_json_equal(json_object_get(spec, "after"), "[]");
	json_decref(spec);

	reject("{\"after\": \"SELECT 1\"}", "invalid_field", "after");
	reject("{\"after\": {}}", "invalid_field", "after");
	reject("{\"after\": [\"\"]}", "invalid_field", "after[0]");
	reject("{\"after\": [\"SELECT 1\", 2]}", "invalid_field", "after[1]");
	reject("{\"after\": [{\"name\": \"x\"}]}", "missing_field", "after[0].sql");
	reject("{\"after\": [{\"sql\": \"\"}]}", "invalid_field", "after[0].sql");
	reject("{\"after\": [{\"sql\": \"SELECT 1\", \"name\": \"a b\"}]}", "invalid_field", "after[0].name");
	reject("{\"after\": [{\"sql\": \"SELECT 1\", \"x\": 1}]}", "unknown_field", "after[0].x");
}

/* buf = unit repeated n times; the test fails if it does not fit. */
static char *repeat(char *buf, size_t size, const char *unit, size_t n)
{
	size_t len = strlen(unit);
	assert_true(len * n < size);
	for (size_t i = 0; i < n; i++)
		memcpy(buf + i * len, unit, len);
	buf[len * n] = '\0';
	return buf;
}

static void test_tables_column_options_accepted(void **state)
{
	(void)state;
	/* every option at once, with names PostgreSQL allows only quoted */
	static const char tables[] =
		"{\"public.t\": {\"target\": \"archive.t\", \"where\": \"id > 0\","
		"   \"columns\": {\"Order Id\": \"order_id\", \"a.b\": \"a_b\", \"\\\"q\\\"\": \"Q\"},"
		"   \"drop_columns\": [\"secret\", \"Secret\", \"x.y\"],"
		"   \"expressions\": {\"email\": \"md5(email)\", \"loaded_at\": \"now()\"},"
		"   \"casts\": {\"order_id\": \"bigint\", \"price\": \"numeric(12, 2)\"}},"
		" \"public.u\": {\"columns\": {}, \"drop_columns\": [], \"expressions\": {},"
		"   \"casts\": {}},"
		" \"public.v\": {\"drop_columns\": [\"only\"]}}";
	char patch[1000];
	snprintf(patch, sizeof(patch), "{\"tables\": %s}", tables);
	json_t *spec = accept(patch, 4);
	assert_json_equal(json_object_get(spec, "tables"), tables);
	json_t *o = view_table_options(spec, "public", "t");
	assert_non_null(o);
	assert_json_equal(json_object_get(o, "drop_columns"), "[\"secret\", \"Secret\", \"x.y\"]");
	assert_string_equal(json_string_value(json_object_get(json_object_get(o, "casts"), "price")),
			    "numeric(12, 2)");
	json_decref(spec);

	/*
	 * drop_columns names source columns: dropping the name another column
	 * is renamed to is no conflict, nor is one that differs only in case
	 */
	spec = accept("{\"tables\": {\"public.t\": {\"columns\": {\"a\": \"b\", \"C\": \"d\"},"
		      " \"drop_columns\": [\"b\", \"c\"]}}}",
		      4);
	json_decref(spec);
	/* expressions and casts are free SQL text; ferry does not parse them */
	spec = accept("{\"tables\": {\"public.t\": {\"expressions\": {\"x\": \"no such function(\"},"
		      " \"casts\": {\"y\": \"not a type\"}}}}",
		      4);
	json_decref(spec);

	/* names of 63 bytes, counted in bytes: 31 two-byte letters and one more */
	char n63[100], wide[100], patch2[1200];
	repeat(n63, sizeof(n63), "c", 63);
	repeat(wide, sizeof(wide), "\xc3\xa9", 32);
	wide[62] = 'a';
	wide[63] = '\0';
	snprintf(patch2, sizeof(patch2),
		 "{\"tables\": {\"public.t\": {\"columns\": {\"%s\": \"%s\", \"%s\": \"%s\"},"
		 " \"drop_columns\": [\"%s1\"], \"expressions\": {\"%s\": \"1\"},"
		 " \"casts\": {\"%s\": \"text\"}}}}",
		 n63, wide, wide, n63, "c", n63, wide);
	spec = accept(patch2, 4);
	json_decref(spec);
	snprintf(patch2, sizeof(patch2),
		 "{\"tables\": {\"public.t\": {\"drop_columns\": [\"%s\", \"%s\"]}}}", n63, wide);
	spec = accept(patch2, 4);
	json_decref(spec);
}

static void test_tables_columns_errors(void **state)
{
	(void)state;
	reject("{\"tables\": {\"public.t\": {\"columns\": [\"id\"]}}}", "invalid_field",
	       "tables.public.t.columns");
	reject("{\"tables\": {\"public.t\": {\"columns\": \"id\"}}}", "invalid_field",
	       "tables.public.t.columns");
	reject("{\"tables\": {\"public.t\": {\"columns\": null}}}", "invalid_field",
	       "tables.public.t.columns");
	reject("{\"tables\": {\"public.t\": {\"columns\": 1}}}", "invalid_field",
	       "tables.public.t.columns");
	reject("{\"tables\": {\"public.t\": {\"columns\": {\"id\": 5}}}}", "invalid_field",
	       "tables.public.t.columns.id");
	reject("{\"tables\": {\"public.t\": {\"columns\": {\"id\": null}}}}", "invalid_field",
	       "tables.public.t.columns.id");
	reject("{\"tables\": {\"public.t\": {\"columns\": {\"id\": true}}}}", "invalid_field",
	       "tables.public.t.columns.id");
	reject("{\"tables\": {\"public.t\": {\"columns\": {\"id\": [\"x\"]}}}}", "invalid_field",
	       "tables.public.t.columns.id");
	reject("{\"tables\": {\"public.t\": {\"columns\": {\"id\": {\"name\": \"x\"}}}}}",
	       "invalid_field", "tables.public.t.columns.id");
	reject("{\"tables\": {\"public.t\": {\"columns\": {\"id\": \"\"}}}}", "invalid_field",
	       "tables.public.t.columns.id");
	reject("{\"tables\": {\"public.t\": {\"columns\": {\"\": \"id\"}}}}", "invalid_field",
	       "tables.public.t.columns.");
	reject("{\"tables\": {\"public.t\": {\"columns\": {\"a\": \"b\", \"c\": 3}}}}",
	       "invalid_field", "tables.public.t.columns.c");
	reject("{\"tables\": {\"\\\"my.s\\\".t\": {\"columns\": {\"a\": 1}}}}", "invalid_field",
	       "tables.\"my.s\".t.columns.a");

	/* a name over 63 bytes, as the new name or as the source column's */
	char n64[100], wide[100], patch[300], field[200];
	repeat(n64, sizeof(n64), "c", 64);
	repeat(wide, sizeof(wide), "\xc3\xa9", 32); /* 32 letters, 64 bytes */
	snprintf(patch, sizeof(patch), "{\"tables\": {\"public.t\": {\"columns\": {\"id\": \"%s\"}}}}",
		 n64);
	reject(patch, "invalid_field", "tables.public.t.columns.id");
	snprintf(patch, sizeof(patch), "{\"tables\": {\"public.t\": {\"columns\": {\"id\": \"%s\"}}}}",
		 wide);
	reject(patch, "invalid_field", "tables.public.t.columns.id");
	snprintf(patch, sizeof(patch), "{\"tables\": {\"public.t\": {\"columns\": {\"%s\": \"id\"}}}}",
		 n64);
	snprintf(field, sizeof(field), "tables.public.t.columns.%s", n64);
	reject(patch, "invalid_field", field);
	snprintf(patch, sizeof(patch), "{\"tables\": {\"public.t\": {\"columns\": {\"%s\": \"id\"}}}}",
		 wide);
	snprintf(field, sizeof(field), "tables.public.t.columns.%s", wide);
	reject(patch, "invalid_field", field);
}

static void test_tables_drop_columns_errors(void **state)
{
	(void)state;
	reject("{\"tables\": {\"public.t\": {\"drop_columns\": \"secret\"}}}", "invalid_field",
	       "tables.public.t.drop_columns");
	reject("{\"tables\": {\"public.t\": {\"drop_columns\": {\"secret\": true}}}}",
	       "invalid_field", "tables.public.t.drop_columns");
	reject("{\"tables\": {\"public.t\": {\"drop_columns\": null}}}", "invalid_field",
	       "tables.public.t.drop_columns");
	reject("{\"tables\": {\"public.t\": {\"drop_columns\": 0}}}", "invalid_field",
	       "tables.public.t.drop_columns");
	reject("{\"tables\": {\"public.t\": {\"drop_columns\": [1]}}}", "invalid_field",
	       "tables.public.t.drop_columns[0]");
	reject("{\"tables\": {\"public.t\": {\"drop_columns\": [\"a\", null]}}}", "invalid_field",
	       "tables.public.t.drop_columns[1]");
	reject("{\"tables\": {\"public.t\": {\"drop_columns\": [\"a\", [\"b\"]]}}}", "invalid_field",
	       "tables.public.t.drop_columns[1]");
	reject("{\"tables\": {\"public.t\": {\"drop_columns\": [\"a\", \"b\", \"\"]}}}",
	       "invalid_field", "tables.public.t.drop_columns[2]");
	/* a duplicate is reported at its second appearance */
	reject("{\"tables\": {\"public.t\": {\"drop_columns\": [\"a\", \"a\"]}}}", "invalid_field",
	       "tables.public.t.drop_columns[1]");
	reject("{\"tables\": {\"public.t\": {\"drop_columns\": [\"a\", \"b\", \"c\", \"b\"]}}}",
	       "invalid_field", "tables.public.t.drop_columns[3]");

	char n64[100], patch[300];
	repeat(n64, sizeof(n64), "d", 64);
	snprintf(patch, sizeof(patch),
		 "{\"tables\": {\"public.t\": {\"drop_columns\": [\"ok\", \"%s\"]}}}", n64);
	reject(patch, "invalid_field", "tables.public.t.drop_columns[1]");

	struct err e;
	err_clear(&e);
	json_t *doc = job_doc("{\"tables\": {\"public.t\": {\"drop_columns\": [\"pw\", \"pw\"]}}}");
	assert_null(job_normalize(doc, 4, &e));
	assert_non_null(strstr(e.msg, "\"pw\""));
	json_decref(doc);
}

static void test_tables_expressions_and_casts_errors(void **state)
{
	(void)state;
	static const char *const opts[] = {"expressions", "casts"};
	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		/* the whole option, then one bad value among good ones */
		static const char *const not_objects[] = {"[\"x\"]", "\"x\"", "null", "1", "true"};
		static const char *const bad_values[] = {"\"\"", "1", "null", "false", "[\"x\"]",
							 "{}"};
		char patch[300], field[200];
		for (size_t j = 0; j < sizeof(not_objects) / sizeof(not_objects[0]); j++) {
			snprintf(patch, sizeof(patch), "{\"tables\": {\"public.t\": {\"%s\": %s}}}", opts[i],
				 not_objects[j]);
			snprintf(field, sizeof(field), "tables.public.t.%s", opts[i]);
			reject(patch, "invalid_field", field);
		}
		for (size_t j = 0; j < sizeof(bad_values) / sizeof(bad_values[0]); j++) {
			snprintf(patch, sizeof(patch),
				 "{\"tables\": {\"public.t\": {\"%s\": {\"ok\": \"text\", \"v\": %s}}}}",
				 opts[i], bad_values[j]);
			snprintf(field, sizeof(field), "tables.public.t.%s.v", opts[i]);
			reject(patch, "invalid_field", field);
		}
		/* the key is a target column name */
		char n64[100];
		repeat(n64, sizeof(n64), "e", 64);
		snprintf(patch, sizeof(patch), "{\"tables\": {\"public.t\": {\"%s\": {\"%s\": \"text\"}}}}",
			 opts[i], n64);
		snprintf(field, sizeof(field), "tables.public.t.%s.%s", opts[i], n64);
		reject(patch, "invalid_field", field);
		snprintf(patch, sizeof(patch), "{\"tables\": {\"public.t\": {\"%s\": {\"\": \"text\"}}}}",
			 opts[i]);
		snprintf(field, sizeof(field), "tables.public.t.%s.", opts[i]);
		reject(patch, "invalid_field", field);
	}
}

static void test_tables_renamed_and_dropped(void **state)
{
	(void)state;
	reject("{\"tables\": {\"public.t\": {\"columns\": {\"a\": \"b\"}, \"drop_columns\": [\"a\"]}}}",
	       "invalid_field", "tables.public.t.drop_columns[0]");
	/* the index is that of the dropped column, whichever option comes first */
	reject("{\"tables\": {\"public.t\": {\"drop_columns\": [\"x\", \"y\", \"a\"],"
	       " \"columns\": {\"z\": \"zz\", \"a\": \"b\"}}}}",
	       "invalid_field", "tables.public.t.drop_columns[2]");
	/* the first conflict is the one reported */
	reject("{\"tables\": {\"public.t\": {\"columns\": {\"a\": \"b\", \"c\": \"d\"},"
	       " \"drop_columns\": [\"x\", \"c\", \"a\"]}}}",
	       "invalid_field", "tables.public.t.drop_columns[1]");
	/* in a table with a quoted name, after a table that is fine */
	reject("{\"tables\": {\"public.ok\": {\"drop_columns\": [\"a\"]},"
	       " \"\\\"my.s\\\".t\": {\"columns\": {\"a\": \"b\"}, \"drop_columns\": [\"a\"]}}}",
	       "invalid_field", "tables.\"my.s\".t.drop_columns[0]");

	struct err e;
	err_clear(&e);
	json_t *doc = job_doc("{\"tables\": {\"public.t\": {\"columns\": {\"ssn\": \"tax_id\"},"
			      " \"drop_columns\": [\"ssn\"]}}}");
	json_t *copy = json_deep_copy(doc);
	assert_null(job_normalize(doc, 4, &e));
	assert_non_null(strstr(e.msg, "\"ssn\""));
	/* the rejected input is left alone */
	assert_true(json_equal(doc, copy));
	json_decref(doc);
	json_decref(copy);
}

static void test_tables_target_rename(void **state)
{
	(void)state;
	static const char tables[] =
		"{\"public.t\": {\"target\": \"t2\"},"
		" \"sales.orders\": {\"target\": \"archive.orders_2024\","
		"                    \"where\": \"created_at >= '2024-01-01'\"},"
		" \"\\\"Odd.Schema\\\".\\\"T\\\"\": {\"target\": \"\\\"New.Schema\\\".\\\"T\\\"\"},"
		" \"public.bare_quoted\": {\"target\": \"\\\"x.y\\\"\"},"
		" \"public.u\": {}}";
	char patch[600];
	snprintf(patch, sizeof(patch), "{\"tables\": %s}", tables);
	json_t *spec = accept(patch, 4);
	assert_json_equal(json_object_get(spec, "tables"), tables);
	json_decref(spec);
}

/* The keys of obj in order, joined by commas. */
static void keys_of(json_t *obj, char *buf, size_t n)
{
	const char *key;
	json_t *v;
	size_t len = 0;
	buf[0] = '\0';
	json_object_foreach(obj, key, v) {
		len += (size_t)snprintf(buf + len, n - len, "%s%s", len ? "," : "", key);
		assert_true(len < n);
	}
}

static void test_render_orders_and_redacts(void **state)
{
	(void)state;
	json_t *spec = accept("{\"tables\": {\"public.t\": {\"where\": \"x\"}}}", 4);
	/* a stored document with its keys in a scrambled order and one stray key */
	json_t *doc = json_object();
	json_object_set_new(doc, "last_run", json_pack("{s:s,s:s}", "id", "r1", "state", "done"));
	json_object_set_new(doc, "extra", json_integer(1));
	json_object_set_new(doc, "next_run_at", json_null());
	json_object_set_new(doc, "paused", json_false());
	json_object_set_new(doc, "updated_at", json_string("2024-01-02T00:00:00Z"));
	const char *spec_keys[] = {"schedule", "retry", "load",   "tables",
				   "exclude",  "include", "target", "source", "name"};
	for (size_t i = 0; i < sizeof(spec_keys) / sizeof(spec_keys[0]); i++)
		json_object_set(doc, spec_keys[i], json_object_get(spec, spec_keys[i]));
	json_object_set_new(doc, "created_at", json_string("2024-01-01T00:00:00Z"));
	json_object_set_new(doc, "id", json_string("123e4567-e89b-12d3-a456-426614174000"));

	json_t *out = job_render(doc);
	assert_non_null(out);
	char keys[400];
	keys_of(out, keys, sizeof(keys));
	assert_string_equal(keys, "id,name,source,target,include,exclude,tables,load,retry,"
				  "schedule,paused,next_run_at,created_at,updated_at,last_run");

	assert_string_equal(job_source_dsn(out), "postgresql://app:***@src.example/db");
	assert_string_equal(job_target_dsn(out), "host=dst.example dbname=db password=***");
	char *text = json_dumps(out, JSON_COMPACT);
	assert_null(strstr(text, "s3cret"));
	assert_null(strstr(text, "t0psecret"));
	free(text);

	/* everything but the passwords is carried over as is */
	static const char *const same[] = {"id", "name", "include", "exclude", "tables", "load",
					   "retry", "schedule", "paused", "next_run_at",
					   "created_at", "updated_at", "last_run"};
	for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++)
		if (!json_equal(json_object_get(out, same[i]), json_object_get(doc, same[i])))
			fail_msg("job_render changed \"%s\"", same[i]);

	/* the document (and the spec it shares values with) keep their passwords */
	assert_string_equal(job_source_dsn(doc), SOURCE_DSN);
	assert_string_equal(job_target_dsn(doc), TARGET_DSN);
	assert_string_equal(job_source_dsn(spec), SOURCE_DSN);
	json_object_set_new(json_object_get(out, "load"), "mode", json_string("drop"));
	assert_string_equal(view_load_mode(doc), "replace");

	json_decref(out);
	json_decref(doc);
	json_decref(spec);
}

static void test_render_partial(void **state)
{
	(void)state;
	json_t *doc = parse("{\"source\": {\"dsn\": \"postgresql://u@h/db\"}, \"name\": \"n\","
			    " \"target\": {\"dsn\": 5}, \"junk\": true}");
	json_t *out = job_render(doc);
	char keys[200];
	keys_of(out, keys, sizeof(keys));
	assert_string_equal(keys, "name,source,target");
	assert_string_equal(job_source_dsn(out), "postgresql://u@h/db");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(out, "target"), "dsn")),
			 5);
	json_decref(out);
	json_decref(doc);

	doc = json_object();
	out = job_render(doc);
	assert_int_equal(json_object_size(out), 0);
	json_decref(out);
	json_decref(doc);
}

static void test_selects(void **state)
{
	(void)state;
	json_t *spec = accept("{\"include\": [\"public.*\", \"sales.order?\"],"
			      " \"exclude\": [\"public.tmp_*\", \"*.secret\"]}",
			      4);
	assert_true(view_selects(spec, "public", "users"));
	assert_true(view_selects(spec, "public", "tmp"));
	assert_false(view_selects(spec, "public", "tmp_x"));
	assert_false(view_selects(spec, "public", "tmp_"));
	assert_false(view_selects(spec, "public", "secret"));
	assert_true(view_selects(spec, "sales", "orders"));
	assert_false(view_selects(spec, "sales", "order"));
	assert_false(view_selects(spec, "sales", "orders2"));
	assert_false(view_selects(spec, "other", "users"));
	assert_false(view_selects(spec, "Public", "users"));
	json_decref(spec);

	spec = accept("{\"include\": [\"\\\"my.schema\\\".*\"]}", 4);
	assert_true(view_selects(spec, "my.schema", "t"));
	assert_false(view_selects(spec, "my", "schema.t"));
	json_decref(spec);

	spec = accept("{\"include\": [\"*.*\"]}", 4);
	assert_true(view_selects(spec, "any", "thing"));
	json_decref(spec);

	spec = accept("{\"include\": [\"*.*\"], \"exclude\": [\"*.*\"]}", 4);
	assert_false(view_selects(spec, "any", "thing"));
	json_decref(spec);
}

static void test_table_options(void **state)
{
	(void)state;
	json_t *spec = accept("{\"tables\": {\"public.t\": {\"where\": \"id > 10\"},"
			      " \"\\\"Sales\\\".\\\"Order.Lines\\\"\":"
			      "   {\"target\": \"archive.lines\"},"
			      " \"public.u\": {}}}",
			      4);
	json_t *o = view_table_options(spec, "public", "t");
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "where")), "id > 10");
	o = view_table_options(spec, "Sales", "Order.Lines");
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "target")), "archive.lines");
	o = view_table_options(spec, "public", "u");
	assert_non_null(o);
	assert_int_equal(json_object_size(o), 0);
	assert_null(view_table_options(spec, "sales", "order.lines"));
	assert_null(view_table_options(spec, "Sales.Order", "Lines"));
	assert_null(view_table_options(spec, "public", "x"));
	assert_null(view_table_options(spec, "public.t", ""));
	assert_null(view_table_options(spec, "", "t"));
	json_decref(spec);

	json_t *empty = json_object();
	assert_null(view_table_options(empty, "public", "t"));
	assert_false(view_selects(empty, "public", "t"));
	json_decref(empty);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_minimal_gets_defaults),
		cmocka_unit_test(test_default_parallel_is_the_given_one),
		cmocka_unit_test(test_explicit_values_kept),
		cmocka_unit_test(test_load_modes_accepted),
		cmocka_unit_test(test_normalize_is_idempotent),
		cmocka_unit_test(test_read_only_fields_dropped),
		cmocka_unit_test(test_not_an_object),
		cmocka_unit_test(test_unknown_fields),
		cmocka_unit_test(test_missing_fields),
		cmocka_unit_test(test_name_rules),
		cmocka_unit_test(test_endpoint_errors),
		cmocka_unit_test(test_include_errors),
		cmocka_unit_test(test_exclude_errors),
		cmocka_unit_test(test_load_mode_errors),
		cmocka_unit_test(test_load_other_errors),
		cmocka_unit_test(test_load_index_parallel_errors),
		cmocka_unit_test(test_retry_errors),
		cmocka_unit_test(test_objects),
		cmocka_unit_test(test_schemas_and_values),
		cmocka_unit_test(test_schedule),
		cmocka_unit_test(test_tables_bad_keys),
		cmocka_unit_test(test_tables_bad_options),
		cmocka_unit_test(test_tables_mode_options),
		cmocka_unit_test(test_after_steps),
		cmocka_unit_test(test_tables_column_options_accepted),
		cmocka_unit_test(test_tables_columns_errors),
		cmocka_unit_test(test_tables_drop_columns_errors),
		cmocka_unit_test(test_tables_expressions_and_casts_errors),
		cmocka_unit_test(test_tables_renamed_and_dropped),
		cmocka_unit_test(test_tables_target_rename),
		cmocka_unit_test(test_render_orders_and_redacts),
		cmocka_unit_test(test_render_partial),
		cmocka_unit_test(test_selects),
		cmocka_unit_test(test_table_options),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* core/engine/job.c: job definitions: validation, defaults, redacted rendering, and the typed form the engine reads */
#include "job.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cron.h"
#include "dsn.h"
#include "names.h"
#include "util.h"
#include "banned.h"

static const char *const load_modes[] = {"replace", "append", "fail", "drop",
					 "swap", "upsert", "incremental", NULL};
#define LOAD_MODES_TEXT "replace, append, fail, drop, swap, upsert or incremental"
#define AFTER_MAX 100

static bool in_list(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (!strcmp(s, *list))
			return true;
	return false;
}

/* Reject keys of obj that are not in allowed; field is obj's path. */
static bool check_keys(json_t *obj, const char *const *allowed, const char *field,
		       struct err *e)
{
	const char *key;
	json_t *val;
	json_object_foreach(obj, key, val) {
		if (!in_list(key, allowed)) {
			char path[300];
			snprintf(path, sizeof(path), "%s%s%s", field, *field ? "." : "", key);
			return err_set(e, 400, "unknown_field", path, "unknown field \"%s\"", path);
		}
	}
	return true;
}

static bool type_error(const char *field, const char *want, struct err *e)
{
	return err_set(e, 400, "invalid_field", field, "\"%s\" must be %s", field, want);
}

static bool name_valid(const char *s)
{
	size_t n = strlen(s);
	if (n < 1 || n > 128 || str_is_uuid(s))
		return false;
	for (const char *p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("._-", *p))
			return false;
	return true;
}

/* Validate {"dsn": "..."} at field and set it into out under key. */
static bool endpoint_normalize(json_t *in, const char *key, json_t *out, struct err *e)
{
	char field[64];
	json_t *ep = json_object_get(in, key);
	if (!ep)
		return err_set(e, 400, "missing_field", key, "\"%s\" is required", key);
	if (!json_is_object(ep))
		return type_error(key, "an object with a \"dsn\"", e);
	static const char *const keys[] = {"dsn", "password_env", NULL};
	if (!check_keys(ep, keys, key, e))
		return false;
	json_t *penv = json_object_get(ep, "password_env");
	if (penv) {
		snprintf(field, sizeof(field), "%s.password_env", key);
		const char *v = json_is_string(penv) ? json_string_value(penv) : "";
		bool ok = *v && !isdigit((unsigned char)*v) && strlen(v) < 128;
		for (const char *c = v; ok && *c; c++)
			ok = isalnum((unsigned char)*c) || *c == '_';
		if (!ok)
			return type_error(field, "the name of an environment variable (letters, digits, _)", e);
	}
	snprintf(field, sizeof(field), "%s.dsn", key);
	json_t *dsn = json_object_get(ep, "dsn");
	if (!dsn)
		return err_set(e, 400, "missing_field", field, "\"%s\" is required", field);
	if (!json_is_string(dsn))
		return type_error(field, "a string", e);
	if (!dsn_validate(json_string_value(dsn), field, e))
		return false;
	if (!strcmp(key, "target") && strcmp(dsn_kind(json_string_value(dsn)), "postgresql"))
		return err_set(e, 400, "invalid_field", field,
			       "\"%s\" must be a PostgreSQL connection string: ferry loads into PostgreSQL",
			       field);
	json_t *norm = json_pack("{s:O}", "dsn", dsn);
	if (penv)
		json_object_set(norm, "password_env", penv);
	json_object_set_new(out, key, norm);
	return true;
}

static json_t *globs_normalize(json_t *in, const char *key, bool required, struct err *e)
{
	json_t *arr = json_object_get(in, key);
	if (!arr) {
		if (required)
			err_set(e, 400, "missing_field", key, "\"%s\" is required", key);
		return required ? NULL : json_array();
	}
	if (!json_is_array(arr)) {
		type_error(key, "an array of strings", e);
		return NULL;
	}
	if (required && json_array_size(arr) == 0) {
		err_set(e, 400, "invalid_field", key,
			"\"%s\" must list at least one pattern, for example \"public.*\"", key);
		return NULL;
	}
	size_t i;
	json_t *g;
	json_array_foreach(arr, i, g) {
		char field[64];
		snprintf(field, sizeof(field), "%s[%zu]", key, i);
		if (!json_is_string(g)) {
			type_error(field, "a string", e);
			return NULL;
		}
		if (!glob_validate(json_string_value(g), field, e))
			return NULL;
	}
	return json_deep_copy(arr);
}

/* A column name: 1 to 63 bytes, as PostgreSQL keeps them. */
static bool column_name_ok(json_t *v, const char *field, struct err *e)
{
	if (!json_is_string(v) || !*json_string_value(v) || strlen(json_string_value(v)) > 63)
		return type_error(field, "a column name of 1 to 63 bytes", e);
	return true;
}

/* {"name": "non-empty string"}: keys are column names; values names or SQL as `values_are_names`. */
static bool string_map_ok(json_t *v, const char *field, bool values_are_names, struct err *e)
{
	if (!json_is_object(v))
		return type_error(field, "an object", e);
	const char *k;
	json_t *x;
	json_object_foreach(v, k, x) {
		char sub[600];
		snprintf(sub, sizeof(sub), "%s.%s", field, k);
		if (!*k || strlen(k) > 63)
			return err_set(e, 400, "invalid_field", sub,
				       "\"%s\" must be a column name of 1 to 63 bytes", sub);
		if (values_are_names ? !column_name_ok(x, sub, e)
				     : !(json_is_string(x) && *json_string_value(x)))
			return values_are_names ? false : type_error(sub, "a non-empty string", e);
	}
	return true;
}

static bool drop_list_ok(json_t *v, const char *field, struct err *e)
{
	if (!json_is_array(v))
		return type_error(field, "an array of column names", e);
	size_t i, j;
	json_t *x;
	json_array_foreach(v, i, x) {
		char sub[600];
		snprintf(sub, sizeof(sub), "%s[%zu]", field, i);
		if (!column_name_ok(x, sub, e))
			return false;
		for (j = 0; j < i; j++)
			if (json_equal(json_array_get(v, j), x))
				return err_set(e, 400, "invalid_field", sub, "\"%s\" lists \"%s\" twice",
					       field, json_string_value(x));
	}
	return true;
}

static bool mode_ok(json_t *v, const char *field, struct err *e)
{
	if (!json_is_string(v))
		return type_error(field, "a string", e);
	if (!in_list(json_string_value(v), load_modes))
		return err_set(e, 400, "invalid_field", field, "\"%s\" must be one of " LOAD_MODES_TEXT "; got \"%s\"",
			       field, json_string_value(v));
	return true;
}

/* Check one per-table option; false with e filled. */
static bool table_option_ok(const char *k, json_t *v, const char *sub, struct err *e)
{
	struct qualname q;
	if (!strcmp(k, "mode"))
		return mode_ok(v, sub, e);
	if (!strcmp(k, "cursor") || !strcmp(k, "delete_flag"))
		return column_name_ok(v, sub, e);
	if (!strcmp(k, "key")) {
		if (!json_is_array(v) || json_array_size(v) == 0)
			return type_error(sub, "a non-empty array of column names", e);
		return drop_list_ok(v, sub, e);
	}
	if (!strcmp(k, "target") || !strcmp(k, "where")) {
		if (!json_is_string(v) || !*json_string_value(v))
			return type_error(sub, "a non-empty string", e);
		return strcmp(k, "target") || qualname_parse(json_string_value(v), true, &q, sub, e);
	}
	if (!strcmp(k, "columns"))
		return string_map_ok(v, sub, true, e);
	if (!strcmp(k, "expressions") || !strcmp(k, "casts"))
		return string_map_ok(v, sub, false, e);
	if (!strcmp(k, "drop_columns"))
		return drop_list_ok(v, sub, e);
	return err_set(e, 400, "unknown_field", sub, "unknown field \"%s\"", sub);
}

/* A column the load needs (cursor, key, delete flag) must not be dropped. */
static bool not_dropped(json_t *opts, const char *col, const char *field, const char *what,
			struct err *e)
{
	size_t i;
	json_t *d;
	json_array_foreach(json_object_get(opts, "drop_columns"), i, d) {
		if (!strcmp(json_string_value(d), col))
			return err_set(e, 400, "invalid_field", field,
				       "%s column \"%s\" is also in drop_columns", what, col);
	}
	return true;
}

/* The options of one table agree with its load mode (the table's own, else load.mode). */
static bool table_modes_ok(json_t *opts, const char *field, struct err *e)
{
	char sub[480];
	json_t *cursor = json_object_get(opts, "cursor");
	json_t *key = json_object_get(opts, "key");
	json_t *flag = json_object_get(opts, "delete_flag");
	size_t i;
	json_t *k;
	snprintf(sub, sizeof(sub), "%s.cursor", field);
	if (cursor && !not_dropped(opts, json_string_value(cursor), sub, "cursor", e))
		return false;
	json_array_foreach(key, i, k) {
		snprintf(sub, sizeof(sub), "%s.key[%zu]", field, i);
		if (!not_dropped(opts, json_string_value(k), sub, "key", e))
			return false;
	}
	const char *mode = json_string_value(json_object_get(opts, "mode"));
	snprintf(sub, sizeof(sub), "%s.delete_flag", field);
	if (flag && mode && strcmp(mode, "upsert") && strcmp(mode, "incremental"))
		return err_set(e, 400, "invalid_field", sub,
			       "\"delete_flag\" needs mode upsert or incremental (with a key); the table's mode is %s",
			       mode);
	if (mode && !strcmp(mode, "incremental") && !cursor) {
		snprintf(sub, sizeof(sub), "%s.cursor", field);
		return err_set(e, 400, "missing_field", sub,
			       "mode incremental needs a \"cursor\" column (timestamp, date or integer)");
	}
	return true;
}

static bool table_normalize(const char *key, json_t *opts, json_t *out, struct err *e)
{
	char field[400];
	struct qualname q;
	snprintf(field, sizeof(field), "tables.%s", key);
	if (!qualname_parse(key, false, &q, field, e))
		return false;
	if (!json_is_object(opts))
		return type_error(field, "an object", e);
	const char *k;
	json_t *v;
	json_object_foreach(opts, k, v) {
		char sub[480];
		snprintf(sub, sizeof(sub), "%s.%s", field, k);
		if (!table_option_ok(k, v, sub, e))
			return false;
	}
	/* a column cannot be both renamed and dropped */
	json_t *drops = json_object_get(opts, "drop_columns");
	size_t i;
	json_array_foreach(drops, i, v) {
		if (json_object_get(json_object_get(opts, "columns"), json_string_value(v))) {
			snprintf(field + strlen(field), sizeof(field) - strlen(field), ".drop_columns[%zu]", i);
			return err_set(e, 400, "invalid_field", field,
				       "column \"%s\" is both renamed in \"columns\" and dropped",
				       json_string_value(v));
		}
	}
	if (!table_modes_ok(opts, field, e))
		return false;
	json_object_set_new(out, key, json_deep_copy(opts));
	return true;
}

/* Per-table options that depend on load.mode, checked once it is known. */
static bool tables_agree_with_mode(json_t *out, struct err *e)
{
	const char *mode = json_string_value(json_object_get(json_object_get(out, "load"), "mode"));
	const char *key;
	json_t *opts;
	json_object_foreach(json_object_get(out, "tables"), key, opts) {
		char field[480];
		if (json_object_get(opts, "mode"))
			continue;
		if (json_object_get(opts, "delete_flag") && strcmp(mode, "upsert") &&
		    strcmp(mode, "incremental")) {
			snprintf(field, sizeof(field), "tables.%s.delete_flag", key);
			return err_set(e, 400, "invalid_field", field,
				       "\"delete_flag\" needs mode upsert or incremental (with a key); load.mode is %s",
				       mode);
		}
	}
	return true;
}

/* after: SQL statements run on the target once every table loaded, as strings or {name, sql}. */
static bool after_normalize(json_t *in, json_t *out, struct err *e)
{
	static const char *const keys[] = {"name", "sql", NULL};
	json_t *after = json_object_get(in, "after");
	json_t *norm = json_array();
	json_object_set_new(out, "after", norm);
	if (!after || json_is_null(after))
		return true;
	if (!json_is_array(after) || json_array_size(after) > AFTER_MAX)
		return type_error("after", "an array of at most 100 SQL statements", e);
	size_t i;
	json_t *v;
	json_array_foreach(after, i, v) {
		char field[64], sub[80];
		snprintf(field, sizeof(field), "after[%zu]", i);
		json_t *sql = v, *name = NULL;
		if (json_is_object(v)) {
			if (!check_keys(v, keys, field, e))
				return false;
			sql = json_object_get(v, "sql");
			name = json_object_get(v, "name");
			snprintf(sub, sizeof(sub), "%s.name", field);
			if (name && (!json_is_string(name) || !name_valid(json_string_value(name))))
				return type_error(sub, "1 to 128 letters, digits, dots, dashes or underscores", e);
			snprintf(sub, sizeof(sub), "%s.sql", field);
			if (!sql)
				return err_set(e, 400, "missing_field", sub, "\"%s\" is required", sub);
		} else {
			snprintf(sub, sizeof(sub), "%s", field);
		}
		if (!json_is_string(sql) || !*json_string_value(sql) ||
		    strlen(json_string_value(sql)) > 100000)
			return type_error(sub, "a non-empty SQL text of at most 100000 bytes", e);
		char dflt[32];
		snprintf(dflt, sizeof(dflt), "after-%zu", i + 1);
		json_array_append_new(norm, json_pack("{s:s,s:O}", "name",
						      name ? json_string_value(name) : dflt, "sql", sql));
	}
	return true;
}

static bool tables_normalize(json_t *in, json_t *out, struct err *e)
{
	json_t *tables = json_object_get(in, "tables");
	json_t *norm = json_object();
	json_object_set_new(out, "tables", norm);
	if (!tables)
		return true;
	if (!json_is_object(tables))
		return type_error("tables", "an object keyed by schema.table", e);
	const char *key;
	json_t *opts;
	json_object_foreach(tables, key, opts) {
		if (!table_normalize(key, opts, norm, e))
			return false;
	}
	return true;
}

static bool int_in(json_t *obj, const char *key, const char *field, long lo, long hi,
		   long dflt, json_t *out, struct err *e)
{
	json_t *v = json_object_get(obj, key);
	long n = dflt;
	if (v) {
		if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
			char want[80];
			snprintf(want, sizeof(want), "an integer from %ld to %ld", lo, hi);
			return type_error(field, want, e);
		}
		n = (long)json_integer_value(v);
	}
	json_object_set_new(out, key, json_integer(n));
	return true;
}

static bool load_normalize(json_t *in, int default_parallel, json_t *out, struct err *e)
{
	static const char *const keys[] = {"mode", "create", "parallel", "index_parallel", "validate",
					   "split_bytes", NULL};
	json_t *load = json_object_get(in, "load");
	json_t *norm = json_object();
	json_object_set_new(out, "load", norm);
	if (!load)
		load = norm;
	else if (!json_is_object(load))
		return type_error("load", "an object", e);
	if (!check_keys(load, keys, "load", e))
		return false;

	json_t *mode = json_object_get(load, "mode");
	const char *m = "replace";
	if (mode) {
		if (!json_is_string(mode))
			return type_error("load.mode", "a string", e);
		if (!mode_ok(mode, "load.mode", e))
			return false;
		m = json_string_value(mode);
	}
	json_t *create = json_object_get(load, "create");
	if (create && !json_is_boolean(create))
		return type_error("load.create", "true or false", e);
	json_t *validate = json_object_get(load, "validate");
	const char *vmode = "none";
	if (validate) {
		if (!json_is_string(validate))
			return type_error("load.validate", "a string", e);
		vmode = json_string_value(validate);
		if (strcmp(vmode, "none") && strcmp(vmode, "count") && strcmp(vmode, "checksum"))
			return err_set(e, 400, "invalid_field", "load.validate",
				       "\"load.validate\" must be none, count or checksum; got \"%s\"", vmode);
	}
	if (!int_in(load, "parallel", "load.parallel", 1, 64, default_parallel, norm, e) ||
	    !int_in(load, "index_parallel", "load.index_parallel", 1, 64,
		    (long)json_integer_value(json_object_get(norm, "parallel")), norm, e) ||
	    !int_in(load, "split_bytes", "load.split_bytes", 0, SPLIT_BYTES_MAX, SPLIT_BYTES_DEFAULT,
		    norm, e))
		return false;
	json_object_set_new(norm, "mode", json_string(m));
	json_object_set_new(norm, "create", json_boolean(create ? json_is_true(create) : true));
	json_object_set_new(norm, "validate", json_string(vmode));
	return true;
}

static bool retry_normalize(json_t *in, json_t *out, struct err *e)
{
	static const char *const keys[] = {"attempts", "delay_s", NULL};
	json_t *retry = json_object_get(in, "retry");
	json_t *norm = json_object();
	json_object_set_new(out, "retry", norm);
	if (!retry)
		retry = norm;
	else if (!json_is_object(retry))
		return type_error("retry", "an object", e);
	if (!check_keys(retry, keys, "retry", e))
		return false;
	if (!int_in(retry, "attempts", "retry.attempts", 0, 10, 0, norm, e))
		return false;
	json_t *delay = json_object_get(retry, "delay_s");
	double d = 5;
	if (delay) {
		if (!json_is_number(delay) || json_number_value(delay) < 0 ||
		    json_number_value(delay) > 3600)
			return type_error("retry.delay_s", "a number from 0 to 3600", e);
		d = json_number_value(delay);
	}
	json_object_set_new(norm, "delay_s", json_real(d));
	return true;
}

/* "schedule": null (manual runs only) or a string cron_parse accepts. */
static bool schedule_normalize(json_t *in, json_t *out, struct err *e)
{
	json_t *schedule = json_object_get(in, "schedule");
	if (!schedule || json_is_null(schedule)) {
		json_object_set_new(out, "schedule", json_null());
		return true;
	}
	if (!json_is_string(schedule))
		return type_error("schedule", "null or a schedule such as \"@daily\" or \"0 3 * * *\"", e);
	struct cron c;
	char why[200];
	if (!cron_parse(json_string_value(schedule), &c, why, sizeof(why)))
		return err_set(e, 400, "invalid_field", "schedule", "%s", why);
	json_object_set(out, "schedule", schedule);
	return true;
}

/* "objects": "tables" (the default) or "all". */
static bool objects_normalize(json_t *in, json_t *out, struct err *e)
{
	json_t *v = json_object_get(in, "objects");
	const char *s = v ? json_string_value(v) : "tables";
	if (!s || (strcmp(s, "tables") && strcmp(s, "all")))
		return err_set(e, 400, "invalid_field", "objects",
			       "\"objects\" must be \"tables\" or \"all\"");
	json_object_set_new(out, "objects", json_string(s));
	return true;
}

/* "schemas": {"source schema": "target schema", …}: where each schema's tables go. */
static bool schemas_normalize(json_t *in, json_t *out, struct err *e)
{
	json_t *v = json_object_get(in, "schemas");
	if (!v) {
		json_object_set_new(out, "schemas", json_object());
		return true;
	}
	if (!json_is_object(v))
		return type_error("schemas", "an object mapping source schemas to target schemas", e);
	const char *k;
	json_t *to;
	json_object_foreach(v, k, to) {
		char field[300];
		snprintf(field, sizeof(field), "schemas.%s", k);
		const char *name = json_string_value(to);
		if (!*k || strlen(k) > 127)
			return err_set(e, 400, "invalid_field", field, "a schema name has 1 to 127 bytes");
		if (!name || !*name || strlen(name) > 63)
			return type_error(field, "a target schema name of 1 to 63 bytes", e);
	}
	json_object_set(out, "schemas", v);
	return true;
}

/*
 * "values": what to do with source values the target cannot hold:
 * {"zero_dates": "null"|"fail", "nul_characters": "fail"|"strip"}.
 */
static bool values_normalize(json_t *in, json_t *out, struct err *e)
{
	static const char *const rules[][3] = {{"zero_dates", "null", "fail"},
					       {"nul_characters", "fail", "strip"}};
	json_t *v = json_object_get(in, "values");
	if (v && !json_is_object(v))
		return type_error("values", "an object", e);
	const char *k;
	json_t *x;
	json_object_foreach(v, k, x) {
		bool known = false;
		for (size_t i = 0; i < 2; i++)
			known = known || !strcmp(k, rules[i][0]);
		if (!known)
			return err_set(e, 400, "unknown_field", k, "unknown field \"values.%s\"", k);
	}
	json_t *norm = json_object();
	for (size_t i = 0; i < 2; i++) {
		json_t *given = json_object_get(v, rules[i][0]);
		const char *s = given ? json_string_value(given) : rules[i][1];
		if (!s || (strcmp(s, rules[i][1]) && strcmp(s, rules[i][2]))) {
			json_decref(norm);
			char field[64];
			snprintf(field, sizeof(field), "values.%s", rules[i][0]);
			return err_set(e, 400, "invalid_field", field, "\"%s\" must be \"%s\" or \"%s\"",
				       field, rules[i][1], rules[i][2]);
		}
		json_object_set_new(norm, rules[i][0], json_string(s));
	}
	json_object_set_new(out, "values", norm);
	return true;
}

json_t *job_normalize(json_t *in, int default_parallel, struct err *e)
{
	static const char *const keys[] = {"name", "source", "target", "include", "exclude",
					   "tables", "objects", "schemas", "values", "load", "retry",
					   "after", "schedule", "id",
					   "created_at", "updated_at", "last_run", "paused",
					   "next_run_at", NULL};
	json_t *out = NULL, *globs = NULL;
	if (!json_is_object(in)) {
		err_set(e, 400, "invalid_json", NULL, "the job must be a JSON object");
		return NULL;
	}
	if (!check_keys(in, keys, "", e))
		return NULL;
	out = json_object();
	json_t *name = json_object_get(in, "name");
	if (!name) {
		err_set(e, 400, "missing_field", "name", "\"name\" is required");
		goto fail;
	}
	if (!json_is_string(name) || !name_valid(json_string_value(name))) {
		type_error("name", "1 to 128 letters, digits, dots, dashes or underscores (not a UUID)", e);
		goto fail;
	}
	json_object_set(out, "name", name);
	if (!endpoint_normalize(in, "source", out, e) || !endpoint_normalize(in, "target", out, e))
		goto fail;
	if (!(globs = globs_normalize(in, "include", true, e)))
		goto fail;
	json_object_set_new(out, "include", globs);
	if (!(globs = globs_normalize(in, "exclude", false, e)))
		goto fail;
	json_object_set_new(out, "exclude", globs);
	if (!tables_normalize(in, out, e) || !load_normalize(in, default_parallel, out, e) ||
	    !tables_agree_with_mode(out, e) || !retry_normalize(in, out, e) ||
	    !after_normalize(in, out, e))
		goto fail;
	if (!schedule_normalize(in, out, e) || !objects_normalize(in, out, e) ||
	    !schemas_normalize(in, out, e) || !values_normalize(in, out, e))
		goto fail;
	return out;
fail:
	json_decref(out);
	return NULL;
}

static void redact_endpoint(json_t *spec, const char *key)
{
	json_t *ep = json_object_get(spec, key);
	json_t *dsn = json_object_get(ep, "dsn");
	if (!json_is_string(dsn))
		return;
	char *r = dsn_redact(json_string_value(dsn));
	json_object_set_new(ep, "dsn", json_string(r));
	free(r);
}

json_t *job_render(json_t *doc)
{
	static const char *const order[] = {"id", "name", "source", "target", "include",
					    "exclude", "tables", "objects", "schemas", "values", "load", "retry",
					    "after", "schedule",
					    "paused", "next_run_at", "created_at", "updated_at",
					    "last_run", NULL};
	json_t *out = json_object();
	for (const char *const *k = order; *k; k++) {
		json_t *v = json_object_get(doc, *k);
		if (v)
			json_object_set_new(out, *k, json_deep_copy(v));
	}
	redact_endpoint(out, "source");
	redact_endpoint(out, "target");
	return out;
}

const char *job_source_dsn(json_t *doc)
{
	return json_string_value(json_object_get(json_object_get(doc, "source"), "dsn"));
}

const char *job_target_dsn(json_t *doc)
{
	return json_string_value(json_object_get(json_object_get(doc, "target"), "dsn"));
}

/* The strings of array arr (borrowed), in a new array; *n their count. */
static const char **strings_of(json_t *arr, int *n)
{
	*n = (int)json_array_size(arr);
	const char **out = xcalloc((size_t)*n + 1, sizeof(*out));
	for (int i = 0; i < *n; i++)
		out[i] = json_string_value(json_array_get(arr, (size_t)i));
	return out;
}

static const char *str_of(json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

static json_t *opt_of(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	return json_is_null(v) ? NULL : v;
}

static void endpoint_of(json_t *doc, const char *side, struct job_endpoint *ep)
{
	ep->obj = json_object_get(doc, side);
	ep->dsn = str_of(ep->obj, "dsn");
	ep->password_env = str_of(ep->obj, "password_env");
}

struct job *job_parse(json_t *doc)
{
	if (!json_is_object(doc))
		return NULL;
	struct job *j = xcalloc(1, sizeof(*j));
	j->doc = json_incref(doc);
	j->name = str_of(doc, "name");
	endpoint_of(doc, "source", &j->source);
	endpoint_of(doc, "target", &j->target);
	j->include = strings_of(json_object_get(doc, "include"), &j->ninclude);
	j->exclude = strings_of(json_object_get(doc, "exclude"), &j->nexclude);
	json_t *tables = json_object_get(doc, "tables");
	j->tables = xcalloc(json_object_size(tables) + 1, sizeof(*j->tables));
	const char *key;
	json_t *o;
	json_object_foreach(tables, key, o) {
		struct job_table *t = &j->tables[j->ntables];
		if (!qualname_parse(key, false, &t->name, "", NULL))
			continue;
		t->label = key;
		t->target = str_of(o, "target");
		t->where = str_of(o, "where");
		t->mode = str_of(o, "mode");
		t->cursor = str_of(o, "cursor");
		t->key = opt_of(o, "key");
		t->delete_flag = str_of(o, "delete_flag");
		t->drop_columns = opt_of(o, "drop_columns");
		t->columns = opt_of(o, "columns");
		t->casts = opt_of(o, "casts");
		t->expressions = opt_of(o, "expressions");
		j->ntables++;
	}
	const char *objects = str_of(doc, "objects");
	j->all_objects = objects && !strcmp(objects, "all");
	j->schemas = json_object_get(doc, "schemas");
	json_t *values = json_object_get(doc, "values");
	j->zero_dates = str_of(values, "zero_dates") ? str_of(values, "zero_dates") : "null";
	j->nul_characters = str_of(values, "nul_characters") ? str_of(values, "nul_characters") : "fail";
	json_t *load = json_object_get(doc, "load");
	j->load.mode = str_of(load, "mode") ? str_of(load, "mode") : "replace";
	j->load.create = !json_is_false(json_object_get(load, "create"));
	j->load.parallel = (int)json_integer_value(json_object_get(load, "parallel"));
	if (j->load.parallel < 1)
		j->load.parallel = 1;
	j->load.index_parallel = (int)json_integer_value(json_object_get(load, "index_parallel"));
	if (j->load.index_parallel < 1)
		j->load.index_parallel = j->load.parallel;
	j->load.split_bytes = (long long)json_integer_value(json_object_get(load, "split_bytes"));
	j->load.validate = str_of(load, "validate") ? str_of(load, "validate") : "none";
	json_t *retry = json_object_get(doc, "retry");
	j->retry.attempts = (int)json_integer_value(json_object_get(retry, "attempts"));
	j->retry.delay_s = json_number_value(json_object_get(retry, "delay_s"));
	json_t *after = json_object_get(doc, "after");
	j->after = xcalloc(json_array_size(after) + 1, sizeof(*j->after));
	size_t i;
	json_t *a;
	json_array_foreach(after, i, a) {
		j->after[j->nafter].name = str_of(a, "name");
		j->after[j->nafter].sql = str_of(a, "sql");
		if (j->after[j->nafter].sql)
			j->nafter++;
	}
	j->schedule = json_object_get(doc, "schedule");
	return j;
}

struct job *job_from_text(const char *text)
{
	json_t *doc = text ? json_loads(text, 0, NULL) : NULL;
	struct job *job = job_parse(doc);
	json_decref(doc);
	return job;
}

void job_free(struct job *job)
{
	if (!job)
		return;
	free(job->include);
	free(job->exclude);
	free(job->tables);
	free(job->after);
	json_decref(job->doc);
	free(job);
}

const struct job_table *job_table_options(const struct job *job, const char *schema, const char *name)
{
	for (int i = 0; i < job->ntables; i++)
		if (!strcmp(job->tables[i].name.schema, schema) && !strcmp(job->tables[i].name.name, name))
			return &job->tables[i];
	return NULL;
}

const char *job_table_mode(const struct job *job, const char *schema, const char *name)
{
	const struct job_table *t = job_table_options(job, schema, name);
	return t && t->mode ? t->mode : job->load.mode;
}

const char *job_schema_target(const struct job *job, const char *schema)
{
	const char *to = json_string_value(json_object_get(job->schemas, schema));
	return to ? to : schema;
}

static bool any_glob(const char *const *globs, int n, const char *schema, const char *name)
{
	for (int i = 0; i < n; i++)
		if (globs[i] && glob_match_table(globs[i], schema, name))
			return true;
	return false;
}

bool job_selects(const struct job *job, const char *schema, const char *name)
{
	return any_glob(job->include, job->ninclude, schema, name) &&
	       !any_glob(job->exclude, job->nexclude, schema, name);
}

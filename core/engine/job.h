/* core/engine/job.h: job definitions: validation, defaults and redacted rendering */
#ifndef FERRY_JOB_H
#define FERRY_JOB_H

#include <jansson.h>
#include <stdbool.h>

#include "err.h"

/*
 * Validate a job definition as sent by a client (borrowed) and return a new
 * reference to its normalized form: only the definition's own fields, with
 * defaults filled in (load.parallel defaults to default_parallel). Read-only
 * fields (id, created_at, updated_at, last_run, paused, next_run_at) are
 * accepted and dropped. "schedule" is null or a schedule cron_parse accepts.
 * On a bad definition returns NULL and fills e with a 400 error naming the field.
 */
json_t *job_normalize(json_t *in, int default_parallel, struct err *e);

/*
 * Return a new reference: a job document as the API shows it (definition
 * plus id, paused, next_run_at, timestamps and last run, borrowed) with its fields in a fixed
 * order and the passwords of its DSNs replaced by "***".
 */
json_t *job_render(json_t *doc);


/* Accessors on a normalized definition (borrowed strings). */
const char *job_source_dsn(json_t *spec);
const char *job_target_dsn(json_t *spec);
const char *job_load_mode(json_t *spec);
/* "objects": "all": the run brings the selected schemas' other objects too (see core/objects.h). */
bool job_all_objects(json_t *spec);
bool job_load_create(json_t *spec);
int job_load_parallel(json_t *spec);
int job_index_parallel(json_t *spec);
/*
 * load.split_bytes: a table this run creates that is bigger than this is
 * copied in parts, load.parallel of them at once (0: never). Default 256 MiB.
 */
long long job_split_bytes(json_t *spec);
#define SPLIT_BYTES_DEFAULT (256L * 1024 * 1024)
#define SPLIT_BYTES_MAX (1L << 50)
const char *job_validate_mode(json_t *spec);
/* Per-table options of source table "schema.table" (formatted), or NULL. */
json_t *job_table_options(json_t *spec, const char *schema, const char *name);
/* The load mode of one source table: its own "mode", else load.mode. */
const char *job_table_mode(json_t *spec, const char *schema, const char *name);
/* Where the tables of source schema `schema` go: the job's "schemas" map, else the same name. */
const char *job_schema_target(json_t *spec, const char *schema);
/*
 * What the job's "values" says to do with source values the target cannot
 * hold: "zero_dates" ("null" by default, or "fail"), "nul_characters"
 * ("fail" by default, or "strip").
 */
const char *job_value_rule(json_t *spec, const char *what);
/* True when the include/exclude globs select the table. */
bool job_selects(json_t *spec, const char *schema, const char *name);

#endif

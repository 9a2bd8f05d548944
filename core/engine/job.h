/* core/engine/job.h: job definitions: validation, defaults, redacted rendering, and the typed form the engine reads */
#ifndef FERRY_JOB_H
#define FERRY_JOB_H

#include <jansson.h>
#include <stdbool.h>

#include "err.h"
#include "names.h"

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


/* The DSNs of a job document (borrowed), as stored or as rendered. */
const char *job_source_dsn(json_t *doc);
const char *job_target_dsn(json_t *doc);

/*
 * A job definition as the engine, the planner, the connectors and the loader
 * read it: parsed once (job_parse) from its normalized form (job_normalize,
 * or a run's stored copy of it). Strings and JSON values are borrowed from
 * doc, which the job holds.
 */
struct job_endpoint {
	const char *dsn;
	const char *password_env; /* or NULL */
	json_t *obj;              /* the endpoint's object: the connections a worker keeps are keyed by it */
};

/* One entry of "tables": the options of the source table it names. */
struct job_table {
	struct qualname name;     /* the source table */
	const char *label;        /* its key, as the job writes it */
	const char *target;       /* or NULL: "schema.table" it loads into */
	const char *where;        /* or NULL: the rows it copies */
	const char *mode;         /* or NULL: load.mode */
	const char *cursor;       /* or NULL: an incremental table's cursor column */
	json_t *key;              /* or NULL: the columns rows merge by (array of names) */
	const char *delete_flag;  /* or NULL: the column that flags rows to delete */
	json_t *drop_columns;     /* or NULL: array of column names */
	json_t *columns;          /* or NULL: {source column: target name} */
	json_t *casts;            /* or NULL: {column: target type} */
	json_t *expressions;      /* or NULL: {column: SQL expression} */
};

/* One of "after": a statement run on the target once every table loaded. */
struct job_after {
	const char *name;
	const char *sql;
};

struct job {
	json_t *doc; /* owned: the normalized definition */
	const char *name;
	struct job_endpoint source, target;
	const char **include, **exclude; /* owned arrays of globs */
	int ninclude, nexclude;
	struct job_table *tables; /* owned */
	int ntables;
	bool all_objects;         /* "objects": "all": the selected schemas' other objects too */
	json_t *schemas;          /* {source schema: target schema} */
	const char *zero_dates;   /* "values": "null" or "fail" */
	const char *nul_characters; /* "values": "fail" or "strip" */
	struct {
		const char *mode;     /* replace, append, fail, drop, swap, upsert, incremental */
		bool create;
		int parallel, index_parallel;
		long long split_bytes; /* a created table bigger than this loads in parts (0: never) */
		const char *validate; /* none, count, checksum */
	} load;
	struct {
		int attempts;
		double delay_s;
	} retry;
	struct job_after *after; /* owned */
	int nafter;
	json_t *schedule;        /* null or the schedule */
};

/* Parse a normalized definition (a new reference is taken). NULL when it is not one. */
struct job *job_parse(json_t *doc);
/* Parse a stored definition (JSON text); NULL when it does not parse. */
struct job *job_from_text(const char *text);
void job_free(struct job *job);

#define SPLIT_BYTES_DEFAULT (256L * 1024 * 1024)
#define SPLIT_BYTES_MAX (1L << 50)
/* The options of source table schema.name, or NULL. */
const struct job_table *job_table_options(const struct job *job, const char *schema, const char *name);
/* The load mode of one source table: its own "mode", else load.mode. */
const char *job_table_mode(const struct job *job, const char *schema, const char *name);
/* Where the tables of source schema `schema` go: the job's "schemas" map, else the same name. */
const char *job_schema_target(const struct job *job, const char *schema);
/* True when the include/exclude globs select the table. */
bool job_selects(const struct job *job, const char *schema, const char *name);

#endif

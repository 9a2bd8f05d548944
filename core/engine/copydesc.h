/* core/engine/copydesc.h: a table's copy description, the plan-to-load contract: what the planner stores with a copy task and the loader reads */
#ifndef FERRY_COPYDESC_H
#define FERRY_COPYDESC_H

#include <jansson.h>
#include <stdbool.h>

#include "err.h"

/*
 * A sequence the load carries over: the source's current value is read
 * (SELECT last_value, is_called FROM source) and set on the target, on the
 * sequence owned by table.column, or on target.
 */
struct copy_seq {
	const char *source; /* the source sequence, quoted */
	const char *table;  /* or NULL: the target table whose column owns it */
	const char *column;
	const char *target; /* or NULL: the target sequence of that name (a default's) */
};

/*
 * The copy description, stored as a JSON object with each copy task (the
 * JSON keys in brackets). Strings and arrays are borrowed from that object,
 * which must outlive the description.
 */
struct copy_desc {
	const char *select;   /* ["select"] the source query, in the source's SQL */
	const char *plain;    /* ["source"] or NULL: a plain read of the table the source can do faster */
	const char *columns;  /* ["columns"] the target column list of the COPY */
	const char *relation; /* ["relation"] or NULL (older plans): the source table the rows come from, quoted */
	bool binary;          /* ["format"] "binary" (PostgreSQL's format, both sides agree) or "text" */
	bool created;         /* ["created"] this run created the target table */
	char relkind;         /* ["relkind"] the target's: 'r' a table, 'p' partitioned */
	const char *mode;     /* ["mode"] the table's load mode, or NULL (then load.mode) */
	struct copy_seq *seqs; /* ["sequences"] owned array */
	int nseqs;
	bool mark;            /* ["mark"] record in _ferry.loads, in the load's transaction, that it committed */
	json_t *key;          /* ["key"] or NULL: the target columns rows merge by (upsert, incremental) */
	bool delete_flag;     /* ["delete_flag"] the select's last column flags rows to delete */
	bool window;          /* ["window"] {column, from, to}: the cursor window, on the target */
	const char *window_column;
	const char *window_from; /* or NULL: no lower bound */
	const char *window_to;   /* or NULL: no upper bound */
	const char *cursor;      /* ["cursor"], ["cursor_type"]: an incremental table's cursor */
	const char *cursor_type;
	const char *mark_sql; /* ["mark_sql"] the source query giving the new high-water mark */
	bool track;           /* ["track"] read and keep the new high-water mark */
	bool split;           /* ["split"] {relation, filtered, streams}: may load in parts */
	const char *split_relation;
	bool split_filtered;  /* the select has a WHERE of its own */
	int split_streams;
	json_t *conv;         /* ["conv"] or NULL: how the source connector turns each column into COPY text */
	json_t *kinds;        /* ["kinds"] or NULL: each column's kind for a checksum ferry computes (rowhash.h) */
};

/*
 * Read a stored copy description j (borrowed, kept by the caller while d is
 * used). False with e filled when a required key is missing or of the wrong
 * kind.
 */
bool copy_desc_read(json_t *j, struct copy_desc *d, struct err *e);
void copy_desc_release(struct copy_desc *d);

#endif

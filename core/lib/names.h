/* core/lib/names.h: qualified table names ("schema.table") and glob patterns over them */
#ifndef FERRY_NAMES_H
#define FERRY_NAMES_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

/*
 * A table name as written in the API: "schema.table", split at the first dot
 * outside double quotes. A part may be double-quoted to hold dots or quotes
 * ("" inside quotes stands for one quote); quotes are removed, nothing is
 * case-folded. With allow_bare, "table" alone is accepted and schema is left
 * empty.
 */
struct qualname {
	char schema[128];
	char name[128];
};

/* Parse s; on failure fills e (400 invalid_field at field) and returns false. */
bool qualname_parse(const char *s, bool allow_bare, struct qualname *out,
		    const char *field, struct err *e);
/* Write "schema.table" into buf, quoting parts that hold a dot or a quote. */
void qualname_format(const struct qualname *q, char *buf, size_t n);

/* Check a glob ("schema_glob.table_glob", * and ?); fills e on failure. */
bool glob_validate(const char *pattern, const char *field, struct err *e);
/* True when the pattern matches the table. */
bool glob_match_table(const char *pattern, const char *schema, const char *name);
/* Glob match of one string: * any run, ? one character. */
bool glob_match(const char *pattern, const char *s);

#endif

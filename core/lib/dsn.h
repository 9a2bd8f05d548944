/* core/lib/dsn.h: PostgreSQL connection strings: validation and password redaction */
#ifndef FERRY_DSN_H
#define FERRY_DSN_H

#include <stdbool.h>

#include "err.h"

/*
 * Check that dsn parses as a libpq connection string (URI or key=value).
 * On failure fills e (400 invalid_field, field as given) and returns false;
 * the message never repeats the password.
 */
bool dsn_validate(const char *dsn, const char *field, struct err *e);

/*
 * Return a new string (caller frees) equal to dsn with any password shown
 * as "***": the user-info password of a URI, a password query parameter, or a
 * password= keyword. Works on strings that do not parse too.
 */
char *dsn_redact(const char *dsn);

/*
 * Return a new string (caller frees): text with every occurrence of the
 * password that dsn carries replaced by "***". text may be NULL (returns NULL).
 */
char *dsn_scrub(const char *text, const char *dsn);

#endif

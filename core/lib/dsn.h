/* core/lib/dsn.h: connection strings (PostgreSQL's, MySQL's URIs): validation and password redaction */
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

/* "mysql" for a mysql:// or mariadb:// URI, "postgresql" for what libpq takes, NULL for another scheme. */
const char *dsn_kind(const char *dsn);

/* A MySQL or MariaDB URI: mysql://user:password@host:port/database?socket=…&ssl-mode=… */
struct dsn_mysql {
	char *user, *password, *host, *database; /* owned, percent-decoded; user and password may be NULL */
	int port;                                /* 3306 unless given */
	char *socket;                            /* owned or NULL: a unix socket instead of host and port */
	char *ssl_mode;                          /* owned or NULL: DISABLED … VERIFY_IDENTITY */
	char *ssl_ca, *ssl_cert, *ssl_key;       /* owned or NULL: files */
};

/*
 * Parse a mysql:// or mariadb:// URI into d (release with
 * dsn_mysql_release). On failure fills e (400 invalid_field, field) with a
 * message that shows the URI redacted, and returns false.
 */
bool dsn_mysql_parse(const char *dsn, struct dsn_mysql *d, const char *field, struct err *e);
void dsn_mysql_release(struct dsn_mysql *d);

#endif

/* core/lib/err.h: the error a fallible function hands back to its caller */
#ifndef FERRY_ERR_H
#define FERRY_ERR_H

#include <stdbool.h>

/*
 * status is an HTTP-like class (400 client mistake, 404, 409, 422, 500, 503);
 * code is a short machine word ("invalid_field"); field is the JSON path of
 * the offending input, or empty.
 */
struct err {
	int status;
	char code[48];
	char field[256];
	char msg[1024];
	char state[8];    /* the database's error code: a SQLSTATE, or "MY" and MySQL's error number; or "" */
	char cause[512];  /* the database's own message, without ferry's words around it; or "" */
};

void err_clear(struct err *e);
/* Fill e; always returns false so callers can `return err_set(...)`. */
bool err_set(struct err *e, int status, const char *code, const char *field,
	     const char *fmt, ...) __attribute__((format(printf, 5, 6)));
bool err_is_set(const struct err *e);
/* Attach the database's error code and message to e (after err_set, which clears them). */
void err_detail(struct err *e, const char *state, const char *cause);

#endif

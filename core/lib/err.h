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
};

void err_clear(struct err *e);
/* Fill e; always returns false so callers can `return err_set(...)`. */
bool err_set(struct err *e, int status, const char *code, const char *field,
	     const char *fmt, ...) __attribute__((format(printf, 5, 6)));
bool err_is_set(const struct err *e);

#endif

/* core/lib/err.c: the error a fallible function hands back to its caller */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util.h"
#include "banned.h"

void err_clear(struct err *e)
{
	memset(e, 0, sizeof(*e));
}

bool err_set(struct err *e, int status, const char *code, const char *field,
	     const char *fmt, ...)
{
	if (!e)
		return false;
	e->status = status;
	str_copy(e->code, sizeof(e->code), code);
	str_copy(e->field, sizeof(e->field), field ? field : "");
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	e->state[0] = '\0';
	e->cause[0] = '\0';
	return false;
}

void err_detail(struct err *e, const char *state, const char *cause)
{
	if (!e)
		return;
	str_copy(e->state, sizeof(e->state), state ? state : "");
	str_copy(e->cause, sizeof(e->cause), cause ? cause : "");
}

bool err_is_set(const struct err *e)
{
	return e->status != 0;
}

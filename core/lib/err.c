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
	return false;
}

bool err_is_set(const struct err *e)
{
	return e->status != 0;
}
